#include "rules/conditions.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>

#include "policyd/base/address.hpp"
#include "policyd/base/ascii.hpp"
#include "rules/loader.hpp"
#include "rules/matchers.hpp"

namespace rules {
namespace {

using policyd::Attr;
using Kind = Subject::Kind;

Subject attribute(Attr attr) {
    return Subject{Kind::attribute, nullptr, attr};
}

std::vector<ConditionSpec> build_specs() {
    std::vector<ConditionSpec> specs;
    specs.reserve(policyd::kFactFields.size() + 16);
    for (const auto& fact : policyd::kFactFields) {
        specs.push_back({fact.name, Subject{Kind::fact, &fact, Attr::count_}, Form::fact_words});
    }
    const Subject verified{Kind::verified_names, nullptr, Attr::count_};
    const Subject client{Kind::client, nullptr, Attr::client_address};
    const ConditionSpec rest[] = {
        {"protocol_state", attribute(Attr::protocol_state), Form::protocol_states},
        {"policy_context", attribute(Attr::policy_context), Form::exact},
        {"server_port", attribute(Attr::server_port), Form::ports},
        {"sasl_username", attribute(Attr::sasl_username), Form::sasl},
        // Postfix sends stress=yes while smtpd is overloaded (STRESS_README).
        {"stress", attribute(Attr::stress), Form::flag},
        {"client_address", client, Form::cidrs},
        {"helo_name", attribute(Attr::helo_name), Form::names},
        {"ptr_name", verified, Form::names},
        {"sender", attribute(Attr::sender), Form::addresses},
        {"recipient", attribute(Attr::recipient), Form::addresses},
        {"helo_name_regex", attribute(Attr::helo_name), Form::regexes},
        {"ptr_name_regex", verified, Form::regexes},
        {"sender_regex", attribute(Attr::sender), Form::regexes},
        {"recipient_regex", attribute(Attr::recipient), Form::regexes},
        {"dnsbl_listed", Subject{Kind::listings, nullptr, Attr::count_}, Form::listings},
    };
    specs.insert(specs.end(), std::begin(rest), std::end(rest));
    return specs;
}

const std::vector<ConditionSpec>& specs() {
    static const std::vector<ConditionSpec> table = build_specs();
    return table;
}

// Postfix's protocol_state values (SMTPD_POLICY_README).
constexpr std::array<std::string_view, 9> kProtocolStates{
    "CONNECT", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "VRFY", "ETRN"};

std::optional<unsigned> protocol_state_index(std::string_view state) {
    for (unsigned i = 0; i < kProtocolStates.size(); ++i) {
        if (policyd::iequals(kProtocolStates[i], state)) {
            return i;
        }
    }
    return std::nullopt;
}

std::string word_list(std::span<const std::string_view> words) {
    std::string list;
    for (const auto word : words) {
        list += (list.empty() ? "" : ", ");
        list += word;
    }
    return list;
}

// Calls test(value) for each value the subject holds (one attribute, or
// every verified PTR name); true when one passes.
template <typename Test>
bool any_value(const Subject& subject, const Evidence& evidence, Test test) {
    if (subject.kind == Kind::verified_names) {
        const auto& names = evidence.facts.verified_names;
        return std::any_of(names.begin(), names.end(),
                           [&](const std::string& name) { return test(std::string_view(name)); });
    }
    return test(evidence.request.get(subject.attr));
}

// An enumerated fact or protocol_state: one bit per allowed value.
class BitCondition final : public Condition {
  public:
    BitCondition(const ConditionSpec& spec, unsigned mask) : Condition(spec), mask_(mask) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        const Subject& subject = spec().subject;
        if (subject.kind == Kind::fact) {
            return ((mask_ >> subject.fact->get(evidence.facts)) & 1U) != 0;
        }
        const auto index = protocol_state_index(evidence.request.get(subject.attr));
        return index && ((mask_ >> *index) & 1U) != 0;
    }

  private:
    unsigned mask_;
};

class ExactCondition final : public Condition {
  public:
    ExactCondition(const ConditionSpec& spec, std::set<std::string, std::less<>> values)
        : Condition(spec), values_(std::move(values)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        return values_.find(evidence.request.get(spec().subject.attr)) != values_.end();
    }

  private:
    std::set<std::string, std::less<>> values_;
};

class PortCondition final : public Condition {
  public:
    PortCondition(const ConditionSpec& spec, std::vector<std::uint16_t> ports)
        : Condition(spec), ports_(std::move(ports)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        const auto port = policyd::parse_port(evidence.request.get(spec().subject.attr));
        return port && std::find(ports_.begin(), ports_.end(), *port) != ports_.end();
    }

  private:
    std::vector<std::uint16_t> ports_;
};

// true: authenticated; false: not; else one of the user names (exact).
class SaslCondition final : public Condition {
  public:
    enum class Want { authenticated, anonymous, users };
    SaslCondition(const ConditionSpec& spec, Want want, std::set<std::string, std::less<>> users)
        : Condition(spec), want_(want), users_(std::move(users)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        const auto username = evidence.request.get(spec().subject.attr);
        switch (want_) {
            case Want::authenticated:
                return !username.empty();
            case Want::anonymous:
                return username.empty();
            case Want::users:
                return users_.find(username) != users_.end();
        }
        return false;
    }

  private:
    Want want_;
    std::set<std::string, std::less<>> users_;
};

// true: the attribute is "yes"; false: it is anything else (Postfix leaves
// stress empty when there is none).
class FlagCondition final : public Condition {
  public:
    FlagCondition(const ConditionSpec& spec, bool want) : Condition(spec), want_(want) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        return (evidence.request.get(spec().subject.attr) == "yes") == want_;
    }

  private:
    bool want_;
};

class CidrCondition final : public Condition {
  public:
    CidrCondition(const ConditionSpec& spec, CidrSet set) : Condition(spec), set_(std::move(set)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        return evidence.client && set_.matches(*evidence.client);
    }

  private:
    CidrSet set_;
};

// Names, addresses and regexes: any value of the subject matches the set.
template <typename Set>
class SetCondition final : public Condition {
  public:
    SetCondition(const ConditionSpec& spec, Set set) : Condition(spec), set_(std::move(set)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        return any_value(spec().subject, evidence,
                         [this](std::string_view value) { return set_.matches(value); });
    }

  private:
    Set set_;
};

// dnsbl_listed: a listing of one of the named lists ("zen"), or exactly one
// listing ("zen:xbl").
class ListingCondition final : public Condition {
  public:
    ListingCondition(const ConditionSpec& spec, std::vector<std::string> wanted)
        : Condition(spec), wanted_(std::move(wanted)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        for (const std::string& listing : evidence.facts.listings) {
            const std::string_view list = std::string_view(listing).substr(0, listing.find(':'));
            for (const std::string& want : wanted_) {
                if (want == listing || want == list) {
                    return true;
                }
            }
        }
        return false;
    }

  private:
    std::vector<std::string> wanted_;
};

// `{ not = ... }`: the inner condition, inverted.
class NotCondition final : public Condition {
  public:
    explicit NotCondition(std::unique_ptr<const Condition> inner)
        : Condition(inner->spec()), inner_(std::move(inner)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        return !inner_->holds(evidence);
    }
    [[nodiscard]] std::string describe(const Evidence& evidence) const override {
        return inner_->describe(evidence) + ", which the rule excludes";
    }
    [[nodiscard]] bool needs_dns() const override { return inner_->needs_dns(); }

  private:
    std::unique_ptr<const Condition> inner_;
};

// A rule's `not` table: holds unless every condition in it holds.
class NotAllCondition final : public Condition {
  public:
    explicit NotAllCondition(std::vector<std::unique_ptr<const Condition>> all)
        : Condition(not_table_spec()), all_(std::move(all)) {}
    [[nodiscard]] bool holds(const Evidence& evidence) const override {
        return !std::all_of(all_.begin(), all_.end(),
                            [&](const auto& condition) { return condition->holds(evidence); });
    }
    [[nodiscard]] std::string describe(const Evidence& evidence) const override {
        std::string out;
        for (const auto& condition : all_) {
            out += out.empty() ? "" : ", ";
            out += std::string(condition->spec().key) + " is " + condition->describe(evidence);
        }
        return out + ": all of its conditions hold";
    }
    [[nodiscard]] bool needs_dns() const override {
        return std::any_of(all_.begin(), all_.end(),
                           [](const auto& condition) { return condition->needs_dns(); });
    }

  private:
    std::vector<std::unique_ptr<const Condition>> all_;
};

// --- Reading, one function per Form. Each reports every bad entry.

using Read = std::unique_ptr<const Condition>;

// A list of words, each one bit of the mask: a fact's values, or the
// protocol states. `index` maps a word as written to its bit.
// `mask_of` maps a word to the bit mask of the values it names, or nullopt;
// `allowed` lists them for the error message.
template <typename MaskOf>
Read read_words(Loader& loader, const ConditionSpec& spec, const toml::node& node,
                const std::string& allowed, MaskOf mask_of) {
    const auto items = loader.strings(spec.key, node);
    if (!items) {
        return nullptr;
    }
    unsigned mask = 0;
    bool ok = true;
    for (const auto& item : *items) {
        if (const auto bits = mask_of(item.text)) {
            mask |= *bits;
            continue;
        }
        loader.error(item, std::string(spec.key) + ": unknown value \"" + printable(item.text) +
                               "\" (allowed: " + allowed + ")");
        ok = false;
    }
    if (!ok) {
        return nullptr;
    }
    return std::make_unique<BitCondition>(spec, mask);
}

Read read_exact(Loader& loader, const ConditionSpec& spec, const toml::node& node) {
    const auto items = loader.strings(spec.key, node);
    if (!items) {
        return nullptr;
    }
    std::set<std::string, std::less<>> values;
    bool ok = true;
    for (const auto& item : *items) {
        const std::string_view text = item.text;
        if (text.empty() || text.size() > kMaxPatternBytes ||
            std::any_of(text.begin(), text.end(), policyd::is_control)) {
            loader.error(item, std::string(spec.key) + ": \"" + printable(text) + "\" is not a " +
                                   std::string(spec.key) +
                                   " value (non-empty, no control characters)");
            ok = false;
            continue;
        }
        values.emplace(text);
    }
    if (!ok) {
        return nullptr;
    }
    return std::make_unique<ExactCondition>(spec, std::move(values));
}

Read read_ports(Loader& loader, const ConditionSpec& spec, const toml::node& node) {
    const std::string key(spec.key);
    std::vector<std::uint16_t> ports;
    bool ok = true;
    const auto add = [&](const toml::node& element) {
        const auto* value = element.as_integer();
        if (value == nullptr) {
            loader.error(element.source(),
                         key + " must list integers, not " + std::string(type_name(element)));
            ok = false;
            return;
        }
        if (value->get() < 1 || value->get() > 65535) {
            loader.error(element.source(),
                         key + ": " + std::to_string(value->get()) + " is not a port (1-65535)");
            ok = false;
            return;
        }
        ports.push_back(static_cast<std::uint16_t>(value->get()));
    };
    if (node.is_integer()) {
        add(node);
    } else if (const auto* array = node.as_array(); array == nullptr) {
        loader.error(node.source(), key + " must be an integer or a list of integers, not " +
                                        std::string(type_name(node)));
        return nullptr;
    } else if (array->empty()) {
        loader.error(node.source(), key + " is an empty list (it could never match)");
        return nullptr;
    } else {
        for (const auto& element : *array) {
            add(element);
        }
    }
    if (!ok) {
        return nullptr;
    }
    return std::make_unique<PortCondition>(spec, std::move(ports));
}

Read read_sasl(Loader& loader, const ConditionSpec& spec, const toml::node& node) {
    using Want = SaslCondition::Want;
    if (const auto* flag = node.as_boolean()) {
        return std::make_unique<SaslCondition>(spec,
                                               flag->get() ? Want::authenticated : Want::anonymous,
                                               std::set<std::string, std::less<>>{});
    }
    if (!node.is_string() && !node.is_array()) {
        loader.error(node.source(), std::string(spec.key) +
                                        " must be true, false or a list of user names, not " +
                                        std::string(type_name(node)));
        return nullptr;
    }
    const auto items = loader.strings(spec.key, node);
    if (!items) {
        return nullptr;
    }
    std::set<std::string, std::less<>> users;
    bool ok = true;
    for (const auto& item : *items) {
        if (item.text.empty()) {
            loader.error(item, std::string(spec.key) +
                                   ": an empty user name (use false for unauthenticated clients)");
            ok = false;
            continue;
        }
        users.emplace(item.text);
    }
    if (!ok) {
        return nullptr;
    }
    return std::make_unique<SaslCondition>(spec, Want::users, std::move(users));
}

Read read_flag(Loader& loader, const ConditionSpec& spec, const toml::node& node) {
    if (const auto* flag = node.as_boolean()) {
        return std::make_unique<FlagCondition>(spec, flag->get());
    }
    loader.error(node.source(), std::string(spec.key) + " must be true or false, not " +
                                    std::string(type_name(node)));
    return nullptr;
}

Read read_listings(Loader& loader, const ConditionSpec& spec, const toml::node& node) {
    const auto items = loader.strings(spec.key, node);
    if (!items) {
        return nullptr;
    }
    std::vector<std::string> wanted;
    bool ok = true;
    for (const auto& item : *items) {
        const std::string_view list = std::string_view(item.text).substr(0, item.text.find(':'));
        const auto& known = loader.blocklists();
        if (std::find(known.begin(), known.end(), list) == known.end()) {
            std::string names;
            for (const auto& name : known) {
                names += (names.empty() ? "" : ", ") + name;
            }
            loader.error(
                item,
                std::string(spec.key) + ": no [[dnsbl]] named \"" + printable(list) + "\"" +
                    (names.empty() ? " (none is configured)" : " (configured: " + names + ")"));
            ok = false;
            continue;
        }
        wanted.push_back(item.text);
    }
    if (!ok) {
        return nullptr;
    }
    return std::make_unique<ListingCondition>(spec, std::move(wanted));
}

// Sets whose entries may also come from list files ("file:PATH"), except
// regexes (a list file of regexes would hide what a rule matches).
template <typename Set, typename Make>
Read read_set(Loader& loader, const ConditionSpec& spec, const toml::node& node, bool list_files,
              Make make) {
    const auto items =
        list_files ? loader.patterns(spec.key, node) : loader.strings(spec.key, node);
    if (!items) {
        return nullptr;
    }
    Set set;
    bool ok = true;
    for (const auto& item : *items) {
        if (auto why = set.add(item.text); !why.empty()) {
            loader.error(item, std::string(spec.key) + ": " + why);
            ok = false;
        }
    }
    if (!ok) {
        return nullptr;
    }
    return make(std::move(set));
}

}  // namespace

std::string_view describe(Form form) {
    switch (form) {
        case Form::fact_words:
            return "one or a list of the fact's values";
        case Form::protocol_states:
            return "one or a list of Postfix's protocol states (CONNECT, EHLO, HELO, MAIL, RCPT, "
                   "DATA, END-OF-MESSAGE, VRFY, ETRN), any case";
        case Form::exact:
            return "one or a list of exact, case-sensitive strings";
        case Form::ports:
            return "a port number or a list of them (1-65535)";
        case Form::sasl:
            return "true (authenticated), false (not), or a list of user names";
        case Form::flag:
            return "true (Postfix sent yes) or false (it did not)";
        case Form::cidrs:
            return "addresses and networks, IPv4 and IPv6 (192.0.2.0/24, 2001:db8::/32), or "
                   "\"file:PATH\" entries listing them";
        case Form::names:
            return "host names (\"name.example\") or domain suffixes (\".example\"), or "
                   "\"file:PATH\" entries listing them";
        case Form::addresses:
            return "mail address patterns (user@domain, @domain, @.domain, user@, <>), or "
                   "\"file:PATH\" entries listing them";
        case Form::regexes:
            return "RE2 regular expressions (linear time), unanchored and case-insensitive "
                   "unless (?-i)";
        case Form::listings:
            return "[[dnsbl]] names (any listing of that list) or NAME:MEANING (one return "
                   "code's meaning, or its address)";
    }
    return "";
}

std::span<const ConditionSpec> condition_specs() {
    return specs();
}

const ConditionSpec* find_condition(std::string_view key) {
    for (const auto& spec : specs()) {
        if (spec.key == key) {
            return &spec;
        }
    }
    return nullptr;
}

std::vector<Attr> condition_attributes() {
    std::vector<Attr> attrs;
    for (const auto& spec : specs()) {
        if (spec.subject.kind == Kind::attribute &&
            std::find(attrs.begin(), attrs.end(), spec.subject.attr) == attrs.end()) {
            attrs.push_back(spec.subject.attr);
        }
    }
    return attrs;
}

std::string Condition::describe(const Evidence& evidence) const {
    return observed(spec(), evidence);
}

bool Condition::needs_dns() const {
    const Subject& subject = spec().subject;
    return subject.kind == Kind::verified_names || subject.kind == Kind::listings ||
           (subject.kind == Kind::fact && subject.fact->from_dns);
}

const ConditionSpec& not_table_spec() {
    static const ConditionSpec spec{kNotKey, Subject{}, Form::exact};
    return spec;
}

namespace {

Read read_plain(Loader& loader, const ConditionSpec& spec, const toml::node& node);

}  // namespace

std::unique_ptr<const Condition> read_condition(Loader& loader, const ConditionSpec& spec,
                                                const toml::node& node) {
    if (const toml::table* table = node.as_table()) {
        const toml::node* inner = table->get("not");
        if (table->size() != 1 || inner == nullptr) {
            loader.error(node.source(), std::string(spec.key) +
                                            ": a table here must be { not = ... }, the values "
                                            "the condition must not have");
            return nullptr;
        }
        if (inner->is_table()) {
            loader.error(inner->source(), std::string(spec.key) +
                                              ": not = takes the "
                                              "condition's values, not a "
                                              "table");
            return nullptr;
        }
        auto condition = read_plain(loader, spec, *inner);
        return condition ? std::make_unique<NotCondition>(std::move(condition)) : nullptr;
    }
    return read_plain(loader, spec, node);
}

std::unique_ptr<const Condition> read_not_table(Loader& loader, const toml::node& node) {
    const toml::table* table = node.as_table();
    if (table == nullptr || table->empty()) {
        loader.error(node.source(),
                     "not must be a table of conditions, e.g. not = { ptr_name = "
                     "\".example.com\" }");
        return nullptr;
    }
    std::vector<std::unique_ptr<const Condition>> all;
    bool ok = true;
    for (const auto& [key, value] : *table) {
        const ConditionSpec* spec = find_condition(key.str());
        if (spec == nullptr) {
            loader.error(key.source(), "not: \"" + printable(key.str()) +
                                           "\" is not a condition (a not table does not nest)");
            ok = false;
            continue;
        }
        if (auto condition = read_condition(loader, *spec, value)) {
            all.push_back(std::move(condition));
        } else {
            ok = false;
        }
    }
    if (!ok) {
        return nullptr;
    }
    // Table order, as in a rule: cheap conditions first.
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return &a->spec() < &b->spec(); });
    return std::make_unique<NotAllCondition>(std::move(all));
}

namespace {

Read read_plain(Loader& loader, const ConditionSpec& spec, const toml::node& node) {
    const auto set_of = [&spec](auto set) -> Read {
        return std::make_unique<SetCondition<decltype(set)>>(spec, std::move(set));
    };
    switch (spec.form) {
        case Form::fact_words: {
            const policyd::FactField& fact = *spec.subject.fact;
            std::string allowed = word_list(fact.words);
            for (const policyd::FactAlias& alias : fact.aliases) {
                std::string meaning;
                for (std::size_t i = 0; i < fact.words.size(); ++i) {
                    if ((alias.mask & (1U << i)) != 0) {
                        meaning += (meaning.empty() ? "" : " or ") + std::string(fact.words[i]);
                    }
                }
                allowed += "; " + std::string(alias.word) + " means " + meaning;
            }
            return read_words(loader, spec, node, allowed, [&fact](std::string_view word) {
                return fact.parse_mask(policyd::to_lower(word));
            });
        }
        case Form::protocol_states:
            return read_words(loader, spec, node, word_list(kProtocolStates),
                              [](std::string_view word) -> std::optional<unsigned> {
                                  if (const auto index = protocol_state_index(word)) {
                                      return 1U << *index;
                                  }
                                  return std::nullopt;
                              });
        case Form::exact:
            return read_exact(loader, spec, node);
        case Form::ports:
            return read_ports(loader, spec, node);
        case Form::sasl:
            return read_sasl(loader, spec, node);
        case Form::flag:
            return read_flag(loader, spec, node);
        case Form::listings:
            return read_listings(loader, spec, node);
        case Form::cidrs:
            return read_set<CidrSet>(loader, spec, node, true, [&spec](CidrSet set) -> Read {
                return std::make_unique<CidrCondition>(spec, std::move(set));
            });
        case Form::names:
            return read_set<NameSet>(loader, spec, node, true, set_of);
        case Form::addresses:
            return read_set<AddressSet>(loader, spec, node, true, set_of);
        case Form::regexes:
            return read_set<RegexSet>(loader, spec, node, false, set_of);
    }
    return nullptr;
}

}  // namespace

std::string observed(const ConditionSpec& spec, const Evidence& evidence) {
    const Subject& subject = spec.subject;
    switch (subject.kind) {
        case Kind::fact:
            return std::string(subject.fact->word(evidence.facts));
        case Kind::verified_names: {
            std::string joined;
            for (const auto& name : evidence.facts.verified_names) {
                joined += (joined.empty() ? "" : ",") + name;
            }
            return joined.empty() ? "(no verified PTR name)" : joined;
        }
        case Kind::listings: {
            std::string joined;
            for (const auto& listing : evidence.facts.listings) {
                joined += (joined.empty() ? "" : ",") + listing;
            }
            return joined.empty() ? "(not listed)" : joined;
        }
        case Kind::client:
        case Kind::attribute:
            break;
    }
    const auto value = evidence.request.get(subject.attr);
    if (value.empty()) {
        return spec.form == Form::sasl ? "(not authenticated)" : "(empty)";
    }
    return std::string(value);
}

}  // namespace rules
