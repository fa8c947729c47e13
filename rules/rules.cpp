#include "rules/rules.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"
#include "rules/action.hpp"
#include "rules/rules_toml.hpp"

namespace rules {
namespace {

using policyd::Attr;

using policyd::IEqual;
using policyd::iequals;
using policyd::IHash;
using policyd::strip_root_dot;
using policyd::to_lower;

using ISet = std::unordered_set<std::string, IHash, IEqual>;

// Host names: "name" exactly or ".suffix" for any name below suffix.
struct NameSet {
    ISet exact;
    ISet suffixes;  // stored with the leading dot

    [[nodiscard]] bool matches(std::string_view name) const {
        name = strip_root_dot(name);
        if (name.empty()) {
            return false;
        }
        if (exact.find(name) != exact.end()) {
            return true;
        }
        if (suffixes.empty()) {
            return false;
        }
        // One lookup per label boundary: cost grows with the name, not the list.
        for (std::size_t i = 1; i < name.size(); ++i) {
            if (name[i] == '.' && suffixes.find(name.substr(i)) != suffixes.end()) {
                return true;
            }
        }
        return false;
    }
};

// Mail addresses: "user@domain", "@domain" (that domain only), "@.domain"
// (any domain below it), "user@", "<>".
struct AddressSet {
    bool null_address = false;
    ISet exact;
    ISet domains;
    NameSet domain_suffixes;  // only its suffixes are used
    ISet locals;

    [[nodiscard]] bool matches(std::string_view address) const {
        if (address.empty()) {
            return null_address;
        }
        if (exact.find(address) != exact.end()) {
            return true;
        }
        // The last '@' separates: a quoted local part may contain one.
        const auto at = address.rfind('@');
        if (at == std::string_view::npos) {
            // "RCPT TO:<postmaster>" arrives without a domain (RFC 5321 §4.5.1).
            return locals.find(address) != locals.end();
        }
        const std::string_view domain = strip_root_dot(address.substr(at + 1));
        return domains.find(domain) != domains.end() ||
               locals.find(address.substr(0, at)) != locals.end() ||
               domain_suffixes.matches(domain);
    }
};

struct Cidr4 {
    std::uint32_t network = 0;
    std::uint32_t mask = 0;
};
struct Cidr6 {
    std::array<unsigned char, 16> network{};
    unsigned prefix = 0;
};

struct CidrSet {
    std::vector<Cidr4> v4;
    std::vector<Cidr6> v6;

    [[nodiscard]] bool matches(const policyd::IpAddress& client) const {
        // Normalised, so a v4-mapped client meets the v4 networks.
        const auto address = policyd::normalise(client);
        if (address.is_v4()) {
            const std::uint32_t value = address.to_v4().to_uint();
            return std::any_of(v4.begin(), v4.end(), [&](const Cidr4& cidr) {
                return (value & cidr.mask) == cidr.network;
            });
        }
        const auto bytes = address.to_v6().to_bytes();
        return std::any_of(v6.begin(), v6.end(), [&](const Cidr6& cidr) {
            const unsigned whole = cidr.prefix / 8;
            const unsigned bits = cidr.prefix % 8;
            if (std::memcmp(bytes.data(), cidr.network.data(), whole) != 0) {
                return false;
            }
            if (bits == 0) {
                return true;
            }
            const auto mask = static_cast<unsigned char>(0xffU << (8 - bits));
            return (bytes[whole] & mask) == cidr.network[whole];
        });
    }
};

using Regexes = std::vector<std::unique_ptr<const RE2>>;

bool any_regex(const Regexes& regexes, std::string_view text) {
    return std::any_of(regexes.begin(), regexes.end(),
                       [&](const auto& re) { return RE2::PartialMatch(text, *re); });
}

bool any_regex(const Regexes& regexes, const std::vector<std::string>& texts) {
    return std::any_of(texts.begin(), texts.end(),
                       [&](const std::string& text) { return any_regex(regexes, text); });
}

// Postfix's protocol_state values (SMTPD_POLICY_README).
constexpr std::array<std::string_view, 9> kProtocolStates{
    "CONNECT", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "VRFY", "ETRN"};

std::optional<unsigned> protocol_state_index(std::string_view state) {
    for (unsigned i = 0; i < kProtocolStates.size(); ++i) {
        if (iequals(kProtocolStates[i], state)) {
            return i;
        }
    }
    return std::nullopt;
}

enum class Sasl { any, authenticated, anonymous, users };

template <typename Enum>
unsigned bit(Enum value) {
    return 1U << static_cast<unsigned>(value);
}

struct Rule {
    std::string id;
    unsigned line = 0;
    Mode mode = Mode::enforce;
    ActionTemplate action;

    // Enumerated facts as bit masks; 0 = no condition (empty lists are refused).
    unsigned iprev = 0;
    unsigned helo_syntax = 0;
    unsigned helo_literal = 0;
    unsigned helo_forward = 0;
    unsigned helo_ptr_alignment = 0;
    unsigned generic_ptr = 0;
    unsigned iprev_dnssec = 0;
    unsigned helo_dnssec = 0;
    unsigned protocol_state = 0;

    Sasl sasl = Sasl::any;
    std::set<std::string, std::less<>> sasl_users;  // exact, case-sensitive

    std::set<std::string, std::less<>> policy_context;  // exact, case-sensitive; empty = any
    std::vector<std::uint16_t> server_port;             // empty = any

    std::optional<CidrSet> client_address;
    std::optional<NameSet> helo_name;
    std::optional<NameSet> ptr_name;
    std::optional<AddressSet> sender;
    std::optional<AddressSet> recipient;
    Regexes helo_name_regex;
    Regexes ptr_name_regex;
    Regexes sender_regex;
    Regexes recipient_regex;

    [[nodiscard]] bool matches(const Evidence& evidence) const {
        return failing_condition(evidence).empty();
    }

    // The key of the first condition that does not hold, or "" when every
    // one does (the rule matches). Cheap conditions first, regexes last; no
    // allocation, so explain and evaluate share it.
    [[nodiscard]] std::string_view failing_condition(const Evidence& evidence) const {
        const auto& facts = evidence.facts;
        const auto& request = evidence.request;
        if (iprev != 0 && (iprev & bit(facts.iprev)) == 0) {
            return "iprev";
        }
        if (helo_syntax != 0 && (helo_syntax & bit(facts.helo_syntax)) == 0) {
            return "helo_syntax";
        }
        if (helo_literal != 0 && (helo_literal & bit(facts.helo_literal)) == 0) {
            return "helo_literal";
        }
        if (helo_forward != 0 && (helo_forward & bit(facts.helo_forward)) == 0) {
            return "helo_forward";
        }
        if (helo_ptr_alignment != 0 && (helo_ptr_alignment & bit(facts.helo_ptr_alignment)) == 0) {
            return "helo_ptr_alignment";
        }
        if (generic_ptr != 0 && (generic_ptr & bit(facts.generic_ptr)) == 0) {
            return "generic_ptr";
        }
        if (iprev_dnssec != 0 && (iprev_dnssec & bit(facts.iprev_dnssec)) == 0) {
            return "iprev_dnssec";
        }
        if (helo_dnssec != 0 && (helo_dnssec & bit(facts.helo_dnssec)) == 0) {
            return "helo_dnssec";
        }
        if (protocol_state != 0) {
            const auto index = protocol_state_index(request.get(Attr::protocol_state));
            if (!index || (protocol_state & (1U << *index)) == 0) {
                return "protocol_state";
            }
        }
        if (!policy_context.empty() &&
            policy_context.find(request.get(Attr::policy_context)) == policy_context.end()) {
            return "policy_context";
        }
        if (!server_port.empty()) {
            const auto port = policyd::parse_port(request.get(Attr::server_port));
            if (!port ||
                std::find(server_port.begin(), server_port.end(), *port) == server_port.end()) {
                return "server_port";
            }
        }
        if (!sasl_matches(request.get(Attr::sasl_username))) {
            return "sasl_username";
        }
        if (client_address && !(evidence.client && client_address->matches(*evidence.client))) {
            return "client_address";
        }
        if (helo_name && !helo_name->matches(request.get(Attr::helo_name))) {
            return "helo_name";
        }
        if (ptr_name &&
            std::none_of(facts.verified_names.begin(), facts.verified_names.end(),
                         [&](const std::string& name) { return ptr_name->matches(name); })) {
            return "ptr_name";
        }
        if (sender && !sender->matches(request.get(Attr::sender))) {
            return "sender";
        }
        if (recipient && !recipient->matches(request.get(Attr::recipient))) {
            return "recipient";
        }
        if (!helo_name_regex.empty() && !any_regex(helo_name_regex, request.get(Attr::helo_name))) {
            return "helo_name_regex";
        }
        if (!ptr_name_regex.empty() && !any_regex(ptr_name_regex, facts.verified_names)) {
            return "ptr_name_regex";
        }
        if (!sender_regex.empty() && !any_regex(sender_regex, request.get(Attr::sender))) {
            return "sender_regex";
        }
        if (!recipient_regex.empty() && !any_regex(recipient_regex, request.get(Attr::recipient))) {
            return "recipient_regex";
        }
        return {};
    }

    [[nodiscard]] bool sasl_matches(std::string_view username) const {
        switch (sasl) {
            case Sasl::any:
                return true;
            case Sasl::authenticated:
                return !username.empty();
            case Sasl::anonymous:
                return username.empty();
            case Sasl::users:
                return sasl_users.find(username) != sasl_users.end();
        }
        return false;
    }
};

}  // namespace

namespace {

struct Counter {
    std::atomic<std::uint64_t> decided{0};
    std::atomic<std::uint64_t> shadow_matched{0};
};

}  // namespace

struct RuleTable::Impl {
    std::vector<Rule> rules;
    ActionTemplate default_action;
    bool dry_run = false;
    // rules.size() + 1 entries, the last for the default. Allocated once the
    // rules are final; the pointee is mutable through a const Impl.
    std::unique_ptr<Counter[]> counters;
};

Decision RuleTable::evaluate(const Evidence& evidence) const {
    const auto& impl = *impl_;
    Decision decision;
    decision.dry_run = impl.dry_run;
    const auto count = [&](std::size_t index) {
        auto& counter = impl.counters[index];
        (impl.dry_run ? counter.shadow_matched : counter.decided)
            .fetch_add(1, std::memory_order_relaxed);
    };
    for (std::size_t i = 0; i < impl.rules.size(); ++i) {
        const auto& rule = impl.rules[i];
        if (!rule.matches(evidence)) {
            continue;
        }
        if (rule.mode == Mode::shadow) {
            decision.shadow.push_back({rule.id, rule.action.expand(evidence, rule.id)});
            impl.counters[i].shadow_matched.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        decision.rule_id = rule.id;
        decision.action = rule.action.expand(evidence, rule.id);
        count(i);
        return decision;
    }
    decision.rule_id = "default";
    decision.action = impl.default_action.expand(evidence, "default");
    count(impl.rules.size());
    return decision;
}

bool RuleTable::dry_run() const {
    return impl_->dry_run;
}

std::vector<RuleCounters> RuleTable::counters() const {
    std::vector<RuleCounters> out;
    out.reserve(impl_->rules.size() + 1);
    const auto read = [&](std::string id, std::size_t index) {
        const auto& counter = impl_->counters[index];
        out.push_back(RuleCounters{std::move(id), counter.decided.load(std::memory_order_relaxed),
                                   counter.shadow_matched.load(std::memory_order_relaxed)});
    };
    for (std::size_t i = 0; i < impl_->rules.size(); ++i) {
        read(impl_->rules[i].id, i);
    }
    read("default", impl_->rules.size());
    return out;
}

std::vector<RuleTrace> RuleTable::trace(const Evidence& evidence) const {
    std::vector<RuleTrace> traces;
    traces.reserve(impl_->rules.size());
    for (const auto& rule : impl_->rules) {
        traces.push_back(
            RuleTrace{rule.id, rule.line, rule.failing_condition(evidence), rule.mode});
    }
    return traces;
}

std::size_t RuleTable::size() const {
    return impl_->rules.size();
}

std::vector<std::string> RuleTable::rule_ids() const {
    std::vector<std::string> ids;
    ids.reserve(impl_->rules.size());
    for (const auto& rule : impl_->rules) {
        ids.push_back(rule.id);
    }
    return ids;
}

std::string_view RuleTable::default_action() const {
    return impl_->default_action.text();
}

// ---------------------------------------------------------------------------
// Loading from TOML. Everything below runs at start-up or reload only.

namespace {

std::string_view type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::array:
            return "a list";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time:
            return "a date/time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxPatternBytes = 1000;

// A list file is read whole, so it is bounded as a whole.
constexpr std::size_t kMaxListFileBytes = std::size_t{16} << 20;
constexpr std::string_view kFilePrefix = "file:";

// One pattern, from the rule file or from a list file it names.
struct Item {
    std::string text;
    const toml::source_region* source;  // in the rule file (for a list file: its "file:" entry)
    const std::string* file;            // the list file it came from, or nullptr
    unsigned line;                      // its line in that list file
};

// The whole file, or why not (errno text, or a bound exceeded).
std::string read_whole_file(const std::filesystem::path& path, std::string& contents) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return "it is a directory";
    }
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        return std::strerror(errno);
    }
    std::string why;
    std::array<char, 65536> buffer{};
    for (;;) {
        const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), file);
        contents.append(buffer.data(), got);
        if (contents.size() > kMaxListFileBytes) {
            why = "it is larger than " + std::to_string(kMaxListFileBytes) + " bytes";
            break;
        }
        if (got < buffer.size()) {
            if (std::ferror(file) != 0) {
                why = std::strerror(errno);
            }
            break;
        }
    }
    (void)std::fclose(file);  // read-only: nothing is lost on a failed close
    return why;
}

std::string_view trim(std::string_view text) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!text.empty() && space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

class Loader {
  public:
    Loader(std::string_view source_name, std::vector<std::string>& errors)
        : source_name_(source_name),
          base_dir_(std::filesystem::path(std::string(source_name)).parent_path()),
          errors_(errors) {}

    void error(const toml::source_region& where, std::string_view message) {
        error_at(source_name_, where.begin.line, message);
    }

    // At the item's line: in its list file if it came from one.
    void error(const Item& item, std::string_view message) {
        if (item.file != nullptr) {
            error_at(*item.file, item.line, message);
        } else {
            error(*item.source, message);
        }
    }

    void error_at(std::string_view file, unsigned line_number, std::string_view message) {
        std::string line = std::string(file) + ":" + std::to_string(line_number) + ": ";
        if (!rule_id_.empty()) {
            line += "rule \"" + rule_id_ + "\": ";
        }
        line += message;
        errors_.push_back(std::move(line));
        ++count_;
    }

    // strings(), with each "file:path" replaced by the patterns listed in
    // that file: one a line, blank lines and lines starting with # skipped,
    // a relative path taken from the rule file's directory. An empty list
    // file is allowed (an allowlist nobody is on yet): it adds nothing.
    std::optional<std::vector<Item>> patterns(std::string_view key, const toml::node& node) {
        auto items = strings(key, node);
        if (!items) {
            return std::nullopt;
        }
        std::vector<Item> out;
        for (auto& item : *items) {
            if (std::string_view(item.text).substr(0, kFilePrefix.size()) == kFilePrefix) {
                read_list_file(key, item, out);
            } else {
                out.push_back(std::move(item));
            }
        }
        return out;
    }

    [[nodiscard]] std::size_t count() const { return count_; }
    void set_rule(std::string id) { rule_id_ = std::move(id); }

    void read_list_file(std::string_view key, const Item& item, std::vector<Item>& out) {
        const std::string_view name = std::string_view(item.text).substr(kFilePrefix.size());
        if (name.empty()) {
            error(item, std::string(key) + ": \"file:\" needs a path");
            return;
        }
        std::filesystem::path path{std::string(name)};
        if (path.is_relative()) {
            path = base_dir_ / path;
        }
        std::string contents;
        if (const auto why = read_whole_file(path, contents); !why.empty()) {
            error(item, std::string(key) + ": cannot read list file \"" + printable(path.string()) +
                            "\": " + why);
            return;
        }
        // Items point at this name; a deque never moves its elements.
        const std::string* file = &list_files_.emplace_back(path.string());
        unsigned line_number = 0;
        std::size_t pos = 0;
        while (pos < contents.size()) {
            auto end = contents.find('\n', pos);
            if (end == std::string::npos) {
                end = contents.size();
            }
            const std::string_view line = trim(std::string_view(contents).substr(pos, end - pos));
            pos = end + 1;
            ++line_number;
            if (line.empty() || line.front() == '#') {
                continue;
            }
            if (line.substr(0, kFilePrefix.size()) == kFilePrefix) {
                error_at(*file, line_number,
                         std::string(key) + ": a list file cannot name another (\"file:\")");
                continue;
            }
            out.push_back(Item{std::string(line), item.source, file, line_number});
        }
    }

    void read_policy_context(const toml::node& node, Rule& rule) {
        const auto items = strings("policy_context", node);
        if (!items) {
            return;
        }
        for (const auto& item : *items) {
            const std::string_view text = item.text;
            if (text.empty() || text.size() > kMaxPatternBytes ||
                std::any_of(text.begin(), text.end(), [](char c) {
                    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                })) {
                error(item, "policy_context: \"" + printable(text) +
                                "\" is not a policy_context value (non-empty, no control "
                                "characters)");
                continue;
            }
            rule.policy_context.emplace(text);
        }
    }

    void read_server_port(const toml::node& node, Rule& rule) {
        const auto add = [&](const toml::node& element) {
            const auto* value = element.as_integer();
            if (value == nullptr) {
                error(element.source(),
                      "server_port must list integers, not " + std::string(type_name(element)));
                return;
            }
            if (value->get() < 1 || value->get() > 65535) {
                error(element.source(),
                      "server_port: " + std::to_string(value->get()) + " is not a port (1-65535)");
                return;
            }
            rule.server_port.push_back(static_cast<std::uint16_t>(value->get()));
        };
        if (node.is_integer()) {
            add(node);
            return;
        }
        const auto* array = node.as_array();
        if (array == nullptr) {
            error(node.source(), "server_port must be an integer or a list of integers, not " +
                                     std::string(type_name(node)));
            return;
        }
        if (array->empty()) {
            error(node.source(), "server_port is an empty list (it could never match)");
            return;
        }
        for (const auto& element : *array) {
            add(element);
        }
    }

    void read_mode(const toml::node& node, Rule& rule) {
        const auto* value = node.as_string();
        const std::string word = value == nullptr ? "" : to_lower(value->get());
        if (word == "enforce") {
            rule.mode = Mode::enforce;
        } else if (word == "shadow") {
            rule.mode = Mode::shadow;
        } else if (value == nullptr) {
            error(node.source(), "mode must be a string, not " + std::string(type_name(node)));
        } else {
            error(node.source(), "mode: unknown value \"" + printable(value->get()) +
                                     "\" (allowed: enforce, shadow)");
        }
    }

    // A string or a non-empty list of strings; nullopt (error reported) otherwise.
    std::optional<std::vector<Item>> strings(std::string_view key, const toml::node& node) {
        std::vector<Item> items;
        if (const auto* value = node.as_string()) {
            items.push_back({value->get(), &node.source(), nullptr, 0});
            return items;
        }
        const auto* array = node.as_array();
        if (array == nullptr) {
            error(node.source(), std::string(key) + " must be a string or a list of strings, not " +
                                     std::string(type_name(node)));
            return std::nullopt;
        }
        if (array->empty()) {
            error(node.source(), std::string(key) + " is an empty list (it could never match)");
            return std::nullopt;
        }
        bool ok = true;
        for (const auto& element : *array) {
            if (const auto* value = element.as_string()) {
                items.push_back({value->get(), &element.source(), nullptr, 0});
            } else {
                error(element.source(), std::string(key) + " must list strings, not " +
                                            std::string(type_name(element)));
                ok = false;
            }
        }
        return ok ? std::optional(std::move(items)) : std::nullopt;
    }

    template <typename Enum, std::size_t N>
    void read_enum(std::string_view key, const toml::node& node,
                   std::optional<Enum> (*parse)(std::string_view), unsigned& mask) {
        const auto items = strings(key, node);
        if (!items) {
            return;
        }
        for (const auto& item : *items) {
            if (const auto value = parse(to_lower(item.text))) {
                mask |= bit(*value);
                continue;
            }
            std::string allowed;
            for (std::size_t i = 0; i < N; ++i) {
                allowed += (i == 0 ? "" : ", ");
                allowed += policyd::to_string(static_cast<Enum>(i));
            }
            error(item, std::string(key) + ": unknown value \"" + printable(item.text) +
                            "\" (allowed: " + allowed + ")");
        }
    }

    void read_protocol_state(const toml::node& node, unsigned& mask) {
        const auto items = strings("protocol_state", node);
        if (!items) {
            return;
        }
        for (const auto& item : *items) {
            if (const auto index = protocol_state_index(item.text)) {
                mask |= 1U << *index;
                continue;
            }
            std::string allowed;
            for (const auto state : kProtocolStates) {
                allowed += (allowed.empty() ? "" : ", ");
                allowed += state;
            }
            error(item, "protocol_state: unknown value \"" + printable(item.text) +
                            "\" (allowed: " + allowed + ")");
        }
    }

    void read_cidrs(const toml::node& node, std::optional<CidrSet>& out) {
        const auto items = patterns("client_address", node);
        if (!items) {
            return;
        }
        CidrSet set;
        for (const auto& item : *items) {
            if (auto why = add_cidr(item.text, set); !why.empty()) {
                error(item, "client_address: " + why);
            }
        }
        out = std::move(set);
    }

    void read_names(std::string_view key, const toml::node& node, std::optional<NameSet>& out) {
        const auto items = patterns(key, node);
        if (!items) {
            return;
        }
        NameSet set;
        for (const auto& item : *items) {
            std::string_view name = strip_root_dot(item.text);
            const bool suffix = !name.empty() && name.front() == '.';
            if (suffix) {
                name.remove_prefix(1);
            }
            if (!policyd::is_dns_name(name)) {
                error(item, std::string(key) + ": \"" + printable(item.text) +
                                "\" is not a host name or .domain suffix");
                continue;
            }
            if (suffix) {
                set.suffixes.insert("." + to_lower(name));
            } else {
                set.exact.insert(to_lower(name));
            }
        }
        out = std::move(set);
    }

    void read_addresses(std::string_view key, const toml::node& node,
                        std::optional<AddressSet>& out) {
        const auto items = patterns(key, node);
        if (!items) {
            return;
        }
        AddressSet set;
        for (const auto& item : *items) {
            const std::string_view text = item.text;
            const auto at = text.rfind('@');
            const bool bad_bytes =
                std::any_of(text.begin(), text.end(), [](char c) { return c <= ' ' || c == 0x7f; });
            if (text == "<>") {
                set.null_address = true;
            } else if (bad_bytes || at == std::string_view::npos || text.size() == 1 ||
                       text.size() > kMaxPatternBytes) {
                error(item, std::string(key) + ": \"" + printable(text) +
                                "\" is not an address pattern (user@domain, @domain, "
                                "@.domain, user@ or <>)");
            } else if (at == 0 && text[1] == '.') {
                const std::string_view suffix = strip_root_dot(text.substr(2));
                if (policyd::is_dns_name(suffix)) {
                    set.domain_suffixes.suffixes.insert("." + to_lower(suffix));
                } else {
                    error(item, std::string(key) + ": \"" + printable(text) +
                                    "\" is not a @.domain suffix");
                }
            } else if (at == 0) {
                set.domains.insert(to_lower(strip_root_dot(text.substr(1))));
            } else if (at + 1 == text.size()) {
                set.locals.insert(to_lower(text.substr(0, at)));
            } else {
                set.exact.insert(to_lower(text));
            }
        }
        out = std::move(set);
    }

    void read_regexes(std::string_view key, const toml::node& node, Regexes& out) {
        const auto items = strings(key, node);
        if (!items) {
            return;
        }
        RE2::Options options;
        options.set_log_errors(false);      // errors go to our list, not stderr
        options.set_case_sensitive(false);  // like Postfix regexp tables
        for (const auto& item : *items) {
            if (item.text.size() > kMaxPatternBytes) {
                error(item, std::string(key) + ": the regex is longer than " +
                                std::to_string(kMaxPatternBytes) + " bytes");
                continue;
            }
            auto re = std::make_unique<const RE2>(
                re2::StringPiece(item.text.data(), item.text.size()), options);
            if (!re->ok()) {
                error(item, std::string(key) + ": bad regex \"" + printable(item.text) +
                                "\": " + re->error());
                continue;
            }
            out.push_back(std::move(re));
        }
    }

    void read_sasl(const toml::node& node, Rule& rule) {
        if (const auto* flag = node.as_boolean()) {
            rule.sasl = flag->get() ? Sasl::authenticated : Sasl::anonymous;
            return;
        }
        if (node.is_boolean() || (!node.is_string() && !node.is_array())) {
            error(node.source(), "sasl_username must be true, false or a list of user names, not " +
                                     std::string(type_name(node)));
            return;
        }
        const auto items = strings("sasl_username", node);
        if (!items) {
            return;
        }
        for (const auto& item : *items) {
            if (item.text.empty()) {
                error(item,
                      "sasl_username: an empty user name (use false for "
                      "unauthenticated clients)");
                continue;
            }
            rule.sasl_users.emplace(item.text);
        }
        rule.sasl = Sasl::users;
    }

    std::optional<ActionTemplate> read_action(std::string_view key, const toml::node& node) {
        const auto* value = node.as_string();
        if (value == nullptr) {
            error(node.source(),
                  std::string(key) + " must be a string, not " + std::string(type_name(node)));
            return std::nullopt;
        }
        auto parsed = parse_action(value->get());
        if (auto* why = std::get_if<std::string>(&parsed)) {
            error(node.source(), std::string(key) + ": " + *why);
            return std::nullopt;
        }
        return std::get<ActionTemplate>(std::move(parsed));
    }

    // Attacker-free but possibly control-laden text from the file, for messages.
    static std::string printable(std::string_view text) {
        std::string out;
        for (const char c : text.substr(0, 100)) {
            const auto byte = static_cast<unsigned char>(c);
            out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
        }
        if (text.size() > 100) {
            out += "...";
        }
        return out;
    }

  private:
    static std::string add_cidr(std::string_view text, CidrSet& set) {
        const auto slash = text.find('/');
        const std::string_view address_text = text.substr(0, slash);
        const auto address = policyd::parse_ip(address_text);
        if (!address) {
            return "\"" + printable(text) + "\" is not an IP address or CIDR";
        }
        const bool written_v6 = address_text.find(':') != std::string_view::npos;
        unsigned prefix = address->is_v4() ? 32 : 128;
        if (slash != std::string_view::npos) {
            const std::string_view digits = text.substr(slash + 1);
            if (digits.empty() || digits.size() > 3 ||
                !std::all_of(digits.begin(), digits.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
                return "\"" + printable(text) + "\" has a bad prefix length";
            }
            prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
            const unsigned max = written_v6 ? 128 : 32;
            if (prefix > max) {
                return "\"" + printable(text) + "\": prefix length " + std::to_string(prefix) +
                       " is out of range (0-" + std::to_string(max) + ")";
            }
            if (written_v6 && address->is_v4()) {
                // ::ffff:192.0.2.0/120 is the v4 network 192.0.2.0/24, and
                // clients are normalised to v4, so store it as that.
                if (prefix < 96) {
                    return "\"" + printable(text) +
                           "\": a v4-mapped network needs a prefix length of at least 96";
                }
                prefix -= 96;
            }
        }
        if (address->is_v4()) {
            const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
            const std::uint32_t value = address->to_v4().to_uint();
            if ((value & ~mask) != 0) {
                return "\"" + printable(text) + "\" has host bits set (did you mean " +
                       boost::asio::ip::address_v4(value & mask).to_string() + "/" +
                       std::to_string(prefix) + "?)";
            }
            set.v4.push_back({value, mask});
            return {};
        }
        Cidr6 cidr;
        cidr.network = address->to_v6().to_bytes();
        cidr.prefix = prefix;
        bool host_bits = false;
        for (unsigned i = 0; i < 16; ++i) {
            const unsigned keep = prefix >= 8 * (i + 1) ? 8 : (prefix > 8 * i ? prefix - 8 * i : 0);
            const auto mask = static_cast<unsigned char>(keep == 0 ? 0 : 0xffU << (8 - keep));
            host_bits = host_bits || (cidr.network[i] & ~mask & 0xffU) != 0;
        }
        if (host_bits) {
            return "\"" + printable(text) + "\" has host bits set";
        }
        set.v6.push_back(cidr);
        return {};
    }

    std::string_view source_name_;
    std::filesystem::path base_dir_;
    std::deque<std::string> list_files_;  // names of the list files read, for Item::file
    std::vector<std::string>& errors_;
    std::string rule_id_;
    std::size_t count_ = 0;
};

bool valid_id(std::string_view id) {
    const auto ok = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (!first && (c == '_' || c == '-'));
    };
    if (id.empty() || id.size() > kMaxIdBytes || !ok(id.front(), true)) {
        return false;
    }
    return std::all_of(id.begin() + 1, id.end(), [&](char c) { return ok(c, false); });
}

constexpr std::array<std::string_view, 24> kRuleKeys{"id",
                                                     "action",
                                                     "mode",
                                                     "iprev",
                                                     "helo_syntax",
                                                     "helo_literal",
                                                     "helo_forward",
                                                     "helo_ptr_alignment",
                                                     "generic_ptr",
                                                     "iprev_dnssec",
                                                     "helo_dnssec",
                                                     "client_address",
                                                     "helo_name",
                                                     "ptr_name",
                                                     "sender",
                                                     "recipient",
                                                     "helo_name_regex",
                                                     "ptr_name_regex",
                                                     "sender_regex",
                                                     "recipient_regex",
                                                     "sasl_username",
                                                     "protocol_state",
                                                     "policy_context",
                                                     "server_port"};

std::string rule_keys() {
    std::string list;
    for (const auto key : kRuleKeys) {
        list += (list.empty() ? "" : ", ");
        list += key;
    }
    return list;
}

// Reads one [[rule]] table; ok is false when it had errors (already reported).
struct ReadRule {
    Rule rule;
    bool ok = false;
};

ReadRule read_rule(Loader& loader, const toml::table& table) {
    const std::size_t errors_before = loader.count();
    Rule rule;
    rule.line = table.source().begin.line;
    loader.set_rule({});

    // The id first, so that every later message can name the rule.
    if (const auto* node = table.get("id")) {
        if (const auto* id = node->as_string()) {
            if (id->get() == "default") {
                loader.error(node->source(),
                             "rule id \"default\" is reserved for the default action");
            } else if (valid_id(id->get())) {
                rule.id = id->get();
            } else {
                loader.error(node->source(), "bad rule id \"" + Loader::printable(id->get()) +
                                                 "\" (expected [a-z0-9][a-z0-9_-]*, at most " +
                                                 std::to_string(kMaxIdBytes) + " bytes)");
            }
        } else {
            loader.error(node->source(),
                         "id must be a string, not " + std::string(type_name(*node)));
        }
    } else {
        loader.error(table.source(), "[[rule]] has no id");
    }
    loader.set_rule(rule.id);

    bool has_action = false;
    for (const auto& [key, node] : table) {
        const std::string_view name = key.str();
        if (name == "id") {
            continue;
        }
        if (name == "action") {
            if (auto action = loader.read_action("action", node)) {
                rule.action = std::move(*action);
            }
            has_action = true;
        } else if (name == "mode") {
            loader.read_mode(node, rule);
        } else if (name == "policy_context") {
            loader.read_policy_context(node, rule);
        } else if (name == "server_port") {
            loader.read_server_port(node, rule);
        } else if (name == "iprev") {
            loader.read_enum<policyd::Iprev, 4>(name, node, policyd::parse_iprev, rule.iprev);
        } else if (name == "helo_syntax") {
            loader.read_enum<policyd::HeloSyntax, 6>(name, node, policyd::parse_helo_syntax,
                                                     rule.helo_syntax);
        } else if (name == "helo_literal") {
            loader.read_enum<policyd::HeloLiteral, 3>(name, node, policyd::parse_helo_literal,
                                                      rule.helo_literal);
        } else if (name == "helo_forward") {
            loader.read_enum<policyd::HeloForward, 5>(name, node, policyd::parse_helo_forward,
                                                      rule.helo_forward);
        } else if (name == "helo_ptr_alignment") {
            loader.read_enum<policyd::Alignment, 4>(name, node, policyd::parse_alignment,
                                                    rule.helo_ptr_alignment);
        } else if (name == "generic_ptr") {
            loader.read_enum<policyd::Generic, 3>(name, node, policyd::parse_generic,
                                                  rule.generic_ptr);
        } else if (name == "iprev_dnssec" || name == "helo_dnssec") {
            loader.read_enum<policyd::Dnssec, 3>(
                name, node, policyd::parse_dnssec,
                name == "iprev_dnssec" ? rule.iprev_dnssec : rule.helo_dnssec);
        } else if (name == "protocol_state") {
            loader.read_protocol_state(node, rule.protocol_state);
        } else if (name == "client_address") {
            loader.read_cidrs(node, rule.client_address);
        } else if (name == "helo_name") {
            loader.read_names(name, node, rule.helo_name);
        } else if (name == "ptr_name") {
            loader.read_names(name, node, rule.ptr_name);
        } else if (name == "sender") {
            loader.read_addresses(name, node, rule.sender);
        } else if (name == "recipient") {
            loader.read_addresses(name, node, rule.recipient);
        } else if (name == "helo_name_regex") {
            loader.read_regexes(name, node, rule.helo_name_regex);
        } else if (name == "ptr_name_regex") {
            loader.read_regexes(name, node, rule.ptr_name_regex);
        } else if (name == "sender_regex") {
            loader.read_regexes(name, node, rule.sender_regex);
        } else if (name == "recipient_regex") {
            loader.read_regexes(name, node, rule.recipient_regex);
        } else if (name == "sasl_username") {
            loader.read_sasl(node, rule);
        } else {
            loader.error(key.source(), "unknown key \"" + Loader::printable(name) +
                                           "\" in [[rule]] (known: " + rule_keys() + ")");
        }
    }
    if (!has_action) {
        loader.error(table.source(), "[[rule]] has no action");
    }
    loader.set_rule({});
    const bool ok = loader.count() == errors_before;
    return {std::move(rule), ok};
}

}  // namespace

std::optional<RuleTable> parse_rule_table(const toml::table& root, std::string_view source_name,
                                          std::vector<std::string>& errors) {
    Loader loader(source_name, errors);
    auto impl = std::make_shared<RuleTable::Impl>();

    bool default_set = false;
    if (const auto* policy_node = root.get("policy")) {
        if (const auto* policy = policy_node->as_table()) {
            for (const auto& [key, node] : *policy) {
                if (key.str() == "default_action") {
                    if (auto action = loader.read_action("default_action", node)) {
                        impl->default_action = std::move(*action);
                        default_set = true;
                    }
                } else if (key.str() == "dry_run") {
                    if (const auto* flag = node.as_boolean()) {
                        impl->dry_run = flag->get();
                    } else {
                        loader.error(node.source(), "dry_run must be true or false, not " +
                                                        std::string(type_name(node)));
                    }
                } else {
                    loader.error(key.source(),
                                 "unknown key \"" + Loader::printable(key.str()) +
                                     "\" in [policy] (known: default_action, dry_run)");
                }
            }
        } else {
            loader.error(policy_node->source(), "[policy] must be a table");
        }
    }
    if (!default_set) {
        impl->default_action = std::get<ActionTemplate>(parse_action("DUNNO"));
    }

    std::unordered_map<std::string, unsigned> first_line;  // id -> line of its rule
    if (const auto* rules_node = root.get("rule")) {
        const auto* rules = rules_node->as_array();
        if (rules == nullptr) {
            loader.error(rules_node->source(),
                         "rule must be a list of tables: write each rule as [[rule]]");
        } else {
            for (const auto& element : *rules) {
                const auto* table = element.as_table();
                if (table == nullptr) {
                    loader.error(element.source(), "rule must be a list of tables, not of " +
                                                       std::string(type_name(element)));
                    continue;
                }
                auto [rule, ok] = read_rule(loader, *table);
                // Duplicates are checked even in a rule with other errors, so
                // that one pass reports everything.
                if (!rule.id.empty()) {
                    const auto [it, inserted] = first_line.emplace(rule.id, rule.line);
                    if (!inserted) {
                        loader.error(table->get("id")->source(), "duplicate rule id \"" + rule.id +
                                                                     "\" (first defined at line " +
                                                                     std::to_string(it->second) +
                                                                     ")");
                        continue;
                    }
                }
                if (ok) {
                    impl->rules.push_back(std::move(rule));
                }
            }
        }
    }

    if (loader.count() != 0) {
        return std::nullopt;
    }
    impl->counters = std::make_unique<Counter[]>(impl->rules.size() + 1);
    return RuleTable(std::move(impl));
}

}  // namespace rules
