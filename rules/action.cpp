#include "rules/action.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "policyd/base/ascii.hpp"
#include "rules/rules.hpp"

namespace rules {
namespace {

// The macros that are not facts; every fact is a macro by its name too.
constexpr std::array<std::pair<Macro, std::string_view>, 8> kMacros{{
    {Macro::client_address, "client_address"},
    {Macro::helo_name, "helo_name"},
    {Macro::ptr, "ptr"},
    {Macro::rule, "rule"},
    {Macro::sender, "sender"},
    {Macro::recipient, "recipient"},
    {Macro::queue_id, "queue_id"},
    {Macro::dnsbl_listed, "dnsbl_listed"},
}};

std::string known_macros() {
    std::string list;
    for (const auto name : macro_names()) {
        list += list.empty() ? "{" : ", {";
        list += name;
        list += '}';
    }
    return list;
}

using policyd::iequals;
using policyd::is_digit;

// What the keyword promises Postfix will do, which decides what may follow it.
enum class Kind {
    bare,           // OK, DUNNO: nothing may follow
    reject_text,    // REJECT [text]: class 5 enhanced code
    defer_text,     // DEFER, DEFER_IF_*: class 4 enhanced code
    optional_text,  // HOLD, DISCARD, WARN, INFO
    filter,         // FILTER transport:destination
    prepend,        // PREPEND header-name: value
    address,        // REDIRECT, BCC user@domain
};

constexpr std::array<std::pair<std::string_view, Kind>, 14> kKeywords{{
    {"OK", Kind::bare},
    {"DUNNO", Kind::bare},
    {"REJECT", Kind::reject_text},
    {"DEFER", Kind::defer_text},
    {"DEFER_IF_REJECT", Kind::defer_text},
    {"DEFER_IF_PERMIT", Kind::defer_text},
    {"HOLD", Kind::optional_text},
    {"DISCARD", Kind::optional_text},
    {"WARN", Kind::optional_text},
    {"INFO", Kind::optional_text},
    {"FILTER", Kind::filter},
    {"PREPEND", Kind::prepend},
    {"REDIRECT", Kind::address},
    {"BCC", Kind::address},
}};

ActionClass class_of(Kind kind) {
    switch (kind) {
        case Kind::bare:
            return ActionClass::accept;
        case Kind::reject_text:
            return ActionClass::reject;
        case Kind::defer_text:
            return ActionClass::defer;
        case Kind::optional_text:
        case Kind::filter:
        case Kind::prepend:
        case Kind::address:
            break;
    }
    return ActionClass::other;
}

// RFC 3463 class.subject.detail: class 2, 4 or 5; subject and detail 1-3 digits.
bool valid_enhanced_code(std::string_view word) {
    if (word.size() < 5 || (word[0] != '2' && word[0] != '4' && word[0] != '5') || word[1] != '.') {
        return false;
    }
    const std::string_view rest = word.substr(2);
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos) {
        return false;
    }
    const std::string_view subject = rest.substr(0, dot);
    const std::string_view detail = rest.substr(dot + 1);
    const auto digits = [](std::string_view part) {
        return !part.empty() && part.size() <= 3 && std::all_of(part.begin(), part.end(), is_digit);
    };
    return digits(subject) && digits(detail);
}

// Checks an enhanced status code at the start of text against the reply
// class. Only a complete first word is checked: one that runs into a macro
// was already refused by the caller.
std::string check_enhanced_code(std::string_view text, char reply_class) {
    const std::string_view word = text.substr(0, text.find(' '));
    const bool looks_like_code =
        !word.empty() && word.find('.') != std::string_view::npos &&
        std::all_of(word.begin(), word.end(), [](char c) { return is_digit(c) || c == '.'; });
    if (!looks_like_code) {
        return {};
    }
    if (!valid_enhanced_code(word)) {
        return "malformed enhanced status code \"" + std::string(word) +
               "\" (expected class.subject.detail such as " + reply_class + ".7.1)";
    }
    if (word[0] != reply_class) {
        return "enhanced status code " + std::string(word) + " disagrees with the reply class " +
               reply_class + "xx";
    }
    return {};
}

bool valid_mailbox(std::string_view arg) {
    const auto at = arg.rfind('@');
    return at != std::string_view::npos && at > 0 && at + 1 < arg.size() &&
           arg.find(' ') == std::string_view::npos;
}

// Validates the shape of the action. prefix is the literal text before the
// first macro (braces unescaped); has_macros says whether anything follows it.
std::string validate(std::string_view prefix, bool has_macros) {
    const auto space = prefix.find(' ');
    if (space == std::string_view::npos && has_macros) {
        return "the action keyword must not contain a macro";
    }
    const std::string_view keyword = prefix.substr(0, space);
    std::string_view rest;
    if (space != std::string_view::npos) {
        rest = prefix.substr(space);
        rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    }
    const bool rest_empty = rest.empty() && !has_macros;
    // A first word that runs straight into a macro cannot be checked.
    const bool first_word_complete = !has_macros || rest.find(' ') != std::string_view::npos;

    if (keyword.size() == 3 && is_digit(keyword[0]) && is_digit(keyword[1]) &&
        is_digit(keyword[2])) {
        if (keyword[0] != '4' && keyword[0] != '5') {
            return "numeric reply code " + std::string(keyword) + " must be 4NN or 5NN";
        }
        if (keyword[1] > '5') {
            return "numeric reply code " + std::string(keyword) + " is not an SMTP reply code";
        }
        if (rest_empty) {
            return "numeric reply code " + std::string(keyword) + " needs a text";
        }
        if (!first_word_complete && !rest.empty() && is_digit(rest[0])) {
            return "the enhanced status code must not contain a macro";
        }
        return check_enhanced_code(rest, keyword[0]);
    }

    const auto* found = std::find_if(kKeywords.begin(), kKeywords.end(), [&](const auto& entry) {
        return iequals(entry.first, keyword);
    });
    if (found == kKeywords.end()) {
        return "unknown action \"" + std::string(keyword.substr(0, 64)) +
               "\" (expected OK, DUNNO, REJECT, DEFER, DEFER_IF_REJECT, DEFER_IF_PERMIT, 4NN, "
               "5NN, HOLD, DISCARD, WARN, INFO, FILTER, PREPEND, REDIRECT or BCC)";
    }
    const std::string name(found->first);
    switch (found->second) {
        case Kind::bare:
            return rest_empty ? std::string() : name + " takes no text";
        case Kind::reject_text:
        case Kind::defer_text:
            if (!first_word_complete && !rest.empty() && is_digit(rest[0])) {
                return "the enhanced status code must not contain a macro";
            }
            return check_enhanced_code(rest, found->second == Kind::reject_text ? '5' : '4');
        case Kind::optional_text:
            return {};
        case Kind::filter: {
            if (has_macros) {
                return "FILTER must not contain a macro";
            }
            const auto colon = rest.find(':');
            if (colon == std::string_view::npos || colon == 0 ||
                rest.find(' ') != std::string_view::npos) {
                return "FILTER needs one transport:destination argument";
            }
            return {};
        }
        case Kind::prepend: {
            const auto colon = rest.find(':');
            if (colon == std::string_view::npos && has_macros) {
                return "the PREPEND header name must not contain a macro";
            }
            if (colon == std::string_view::npos || colon == 0) {
                return "PREPEND needs a header such as \"X-Header: value\"";
            }
            // RFC 5322 field name: printable ASCII except ':' and space.
            for (const char c : rest.substr(0, colon)) {
                if (c <= ' ' || c > '~') {
                    return "PREPEND header name \"" + std::string(rest.substr(0, colon)) +
                           "\" is not a valid header field name";
                }
            }
            return {};
        }
        case Kind::address:
            if (has_macros) {
                return name + " must not contain a macro";
            }
            return valid_mailbox(rest) ? std::string() : name + " needs one user@domain argument";
    }
    return {};
}

// Appends value to out, made safe for the one-line reply and bounded.
void append_safe(std::string& out, std::string_view value) {
    const std::size_t room = kMaxActionBytes - std::min(out.size(), kMaxActionBytes);
    const std::size_t take = std::min({value.size(), kMaxMacroValueBytes, room});
    for (std::size_t i = 0; i < take; ++i) {
        const auto byte = static_cast<unsigned char>(value[i]);
        // Control characters would end or split the reply line; non-ASCII
        // bytes have no business in an SMTP reply.
        out.push_back(byte < 0x20 || byte > 0x7e ? '?' : value[i]);
    }
}

std::string_view macro_value(Macro macro, std::uint8_t fact, const Evidence& evidence,
                             std::string_view rule_id) {
    using policyd::Attr;
    const auto& request = evidence.request;
    const auto& facts = evidence.facts;
    switch (macro) {
        case Macro::client_address:
            return request.get(Attr::client_address);
        case Macro::helo_name:
            return request.get(Attr::helo_name);
        case Macro::ptr: {
            const std::string_view ptr = policyd::representative_ptr(facts);
            return ptr.empty() ? std::string_view("unknown") : ptr;
        }
        case Macro::fact:
            return policyd::kFactFields[fact].word(facts);
        case Macro::rule:
            return rule_id;
        case Macro::sender: {
            const auto sender = request.get(Attr::sender);
            return sender.empty() ? std::string_view("<>") : sender;
        }
        case Macro::recipient:
            return request.get(Attr::recipient);
        case Macro::queue_id:
            return request.get(Attr::queue_id);
        case Macro::dnsbl_listed:
            return facts.listings.empty() ? std::string_view("none")
                                          : std::string_view(facts.listings.front());
    }
    return {};
}

}  // namespace

ActionClass action_class(std::string_view action) {
    const std::string_view keyword = action.substr(0, action.find(' '));
    if (keyword.size() == 3 && is_digit(keyword[0]) && is_digit(keyword[1]) &&
        is_digit(keyword[2])) {
        return keyword[0] == '4'   ? ActionClass::defer
               : keyword[0] == '5' ? ActionClass::reject
                                   : ActionClass::other;
    }
    const auto* found = std::find_if(kKeywords.begin(), kKeywords.end(), [&](const auto& entry) {
        return iequals(entry.first, keyword);
    });
    return found == kKeywords.end() ? ActionClass::other : class_of(found->second);
}

std::vector<std::string_view> macro_names() {
    std::vector<std::string_view> names;
    names.reserve(kMacros.size() + policyd::kFactFields.size());
    for (const auto& entry : kMacros) {
        names.push_back(entry.second);
    }
    for (const auto& fact : policyd::kFactFields) {
        names.push_back(fact.name);
    }
    return names;
}

std::string check_restriction_class(std::string_view name) {
    using policyd::ascii_lower;
    using policyd::is_alpha;
    if (name.empty() || name.size() > 64 || !is_alpha(name.front()) ||
        !std::all_of(name.begin(), name.end(), [](char c) {
            return (is_alpha(c) && c == ascii_lower(c)) || is_digit(c) || c == '_';
        })) {
        return "a restriction class name is a Postfix parameter name: lower-case letters, digits "
               "and '_', starting with a letter, at most 64 bytes";
    }
    if (std::any_of(kKeywords.begin(), kKeywords.end(),
                    [&](const auto& entry) { return iequals(entry.first, name); })) {
        return "\"" + std::string(name) + "\" is an action keyword, not a restriction class";
    }
    return {};
}

std::variant<ActionTemplate, std::string> parse_action(
    std::string_view text, std::span<const std::string> restriction_classes) {
    if (text.empty()) {
        return std::string("the action is empty");
    }
    if (text.size() > kMaxActionBytes) {
        return "the action is longer than " + std::to_string(kMaxActionBytes) + " bytes";
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) {
            static constexpr std::string_view kHex = "0123456789abcdef";
            return std::string("control character 0x") + kHex[byte >> 4U] + kHex[byte & 0xfU] +
                   " at offset " + std::to_string(i) + " in the action";
        }
    }
    if (text.front() == ' ' || text.back() == ' ') {
        return std::string("the action starts or ends with a space");
    }

    ActionTemplate action;
    action.text_.assign(text);
    std::string literal;
    std::string prefix;  // literal text before the first macro
    bool seen_macro = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '}') {
            if (i + 1 < text.size() && text[i + 1] == '}') {
                literal.push_back('}');
                ++i;
                continue;
            }
            return "unmatched '}' at offset " + std::to_string(i) + " (write \"}}\" for a brace)";
        }
        if (c != '{') {
            literal.push_back(c);
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '{') {
            literal.push_back('{');
            ++i;
            continue;
        }
        const auto close = text.find('}', i);
        if (close == std::string_view::npos) {
            return "unterminated macro at offset " + std::to_string(i) +
                   " (write \"{{\" for a brace)";
        }
        const std::string_view name = text.substr(i + 1, close - i - 1);
        const auto* found = std::find_if(kMacros.begin(), kMacros.end(),
                                         [&](const auto& entry) { return entry.second == name; });
        const policyd::FactField* fact = policyd::find_fact(name);
        if (found == kMacros.end() && fact == nullptr) {
            return "unknown macro {" + std::string(name.substr(0, 64)) +
                   "} (known: " + known_macros() + ")";
        }
        if (!seen_macro) {
            prefix = literal;
            seen_macro = true;
        }
        if (!literal.empty()) {
            action.literal_bytes_ += literal.size();
            action.segments_.push_back({std::move(literal), Macro::rule, 0, false});
            literal.clear();
        }
        if (fact != nullptr) {
            action.segments_.push_back(
                {std::string(), Macro::fact,
                 static_cast<std::uint8_t>(fact - policyd::kFactFields.data()), true});
        } else {
            action.segments_.push_back({std::string(), found->first, 0, true});
        }
        i = close;
    }
    if (!seen_macro) {
        prefix = literal;
    }
    if (!literal.empty()) {
        action.literal_bytes_ += literal.size();
        action.segments_.push_back({std::move(literal), Macro::rule, 0, false});
    }
    if (auto error = validate(prefix, seen_macro); !error.empty()) {
        // A declared restriction class, as it is: Postfix applies it.
        if (!seen_macro && std::find(restriction_classes.begin(), restriction_classes.end(),
                                     text) != restriction_classes.end()) {
            return action;
        }
        if (error.rfind("unknown action", 0) == 0 && check_restriction_class(text).empty()) {
            if (restriction_classes.empty()) {
                error +=
                    " (a Postfix restriction class must be declared in [policy] "
                    "restriction_classes)";
            } else {
                std::string declared;
                for (const std::string& name : restriction_classes) {
                    declared += (declared.empty() ? "" : ", ") + name;
                }
                error += " (nor one of [policy] restriction_classes: " + declared + ")";
            }
        }
        return error;
    }
    return action;
}

bool ActionTemplate::needs_dns() const {
    return std::any_of(segments_.begin(), segments_.end(), [](const Segment& segment) {
        return segment.is_macro &&
               (segment.macro == Macro::ptr || segment.macro == Macro::dnsbl_listed ||
                (segment.macro == Macro::fact && policyd::kFactFields[segment.fact].from_dns));
    });
}

std::string ActionTemplate::expand(const Evidence& evidence, std::string_view rule_id) const {
    std::string out;
    // One allocation in the common case: literals plus a typical value size.
    out.reserve(std::min(kMaxActionBytes, literal_bytes_ + 64 * segments_.size()));
    for (const auto& segment : segments_) {
        if (segment.is_macro) {
            append_safe(out, macro_value(segment.macro, segment.fact, evidence, rule_id));
        } else {
            // Literals were checked at load; only the overall cap applies.
            const std::size_t room = kMaxActionBytes - std::min(out.size(), kMaxActionBytes);
            out.append(segment.literal, 0, std::min(room, segment.literal.size()));
        }
    }
    return out;
}

}  // namespace rules
