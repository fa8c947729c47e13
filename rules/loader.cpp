// The loader: [policy] and every [[rule]] of a parsed configuration document
// into a RuleTable, collecting every error with its file and line.
#include "rules/loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <variant>

#include "policyd/base/ascii.hpp"
#include "rules/conditions.hpp"
#include "rules/matchers.hpp"
#include "rules/profiles.hpp"
#include "rules/table.hpp"

namespace rules {
namespace {

using policyd::to_lower;

constexpr std::size_t kMaxIdBytes = 64;

// A list file is read whole, so it is bounded as a whole.
constexpr std::size_t kMaxListFileBytes = std::size_t{16} << 20;
constexpr std::string_view kFilePrefix = "file:";

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

}  // namespace

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

Loader::Loader(std::string_view source_name, std::vector<std::string>& errors)
    : source_name_(source_name),
      base_dir_(std::filesystem::path(std::string(source_name)).parent_path()),
      errors_(errors) {}

void Loader::error(const toml::source_region& where, std::string_view message) {
    error_at(source_name_, where.begin.line, message);
}

void Loader::error(const Item& item, std::string_view message) {
    if (item.file != nullptr) {
        error_at(*item.file, item.line, message);
    } else {
        error(*item.source, message);
    }
}

void Loader::error_at(std::string_view file, unsigned line_number, std::string_view message) {
    std::string line = std::string(file) + ":" + std::to_string(line_number) + ": ";
    if (!rule_id_.empty()) {
        line += "rule \"" + rule_id_ + "\": ";
    }
    line += message;
    errors_.push_back(std::move(line));
    ++count_;
}

std::optional<std::vector<Item>> Loader::patterns(std::string_view key, const toml::node& node) {
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

void Loader::read_list_file(std::string_view key, const Item& item, std::vector<Item>& out) {
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

std::optional<std::vector<Item>> Loader::strings(std::string_view key, const toml::node& node) {
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
            error(element.source(),
                  std::string(key) + " must list strings, not " + std::string(type_name(element)));
            ok = false;
        }
    }
    return ok ? std::optional(std::move(items)) : std::nullopt;
}

std::optional<ActionTemplate> Loader::action(std::string_view key, const toml::node& node) {
    const auto* value = node.as_string();
    if (value == nullptr) {
        error(node.source(),
              std::string(key) + " must be a string, not " + std::string(type_name(node)));
        return std::nullopt;
    }
    auto parsed = parse_action(value->get(), restriction_classes_);
    if (auto* why = std::get_if<std::string>(&parsed)) {
        error(node.source(), std::string(key) + ": " + *why);
        return std::nullopt;
    }
    return std::get<ActionTemplate>(std::move(parsed));
}

namespace {

void read_mode(Loader& loader, const toml::node& node, Rule& rule) {
    const auto* value = node.as_string();
    const std::string word = value == nullptr ? "" : to_lower(value->get());
    if (word == "enforce") {
        rule.mode = Mode::enforce;
    } else if (word == "shadow") {
        rule.mode = Mode::shadow;
    } else if (value == nullptr) {
        loader.error(node.source(), "mode must be a string, not " + std::string(type_name(node)));
    } else {
        loader.error(node.source(), "mode: unknown value \"" + printable(value->get()) +
                                        "\" (allowed: enforce, shadow)");
    }
}

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

// The keys a [[rule]] may hold, for the "unknown key" message.
std::string rule_keys() {
    std::string list = "id, action, mode, after_profile, not";
    for (const auto& spec : condition_specs()) {
        list += ", ";
        list += spec.key;
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
                loader.error(node->source(), "bad rule id \"" + printable(id->get()) +
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
            if (auto action = loader.action("action", node)) {
                rule.action = std::move(*action);
            }
            has_action = true;
        } else if (name == "mode") {
            read_mode(loader, node, rule);
        } else if (name == "after_profile") {
            if (const auto* flag = node.as_boolean()) {
                rule.after_profile = flag->get();
            } else {
                loader.error(node.source(), "after_profile must be true or false, not " +
                                                std::string(type_name(node)));
            }
        } else if (name == kNotKey) {
            if (auto condition = read_not_table(loader, node)) {
                rule.conditions.push_back(std::move(condition));
            }
        } else if (const ConditionSpec* spec = find_condition(name)) {
            if (auto condition = read_condition(loader, *spec, node)) {
                rule.conditions.push_back(std::move(condition));
            }
        } else {
            loader.error(key.source(), "unknown key \"" + printable(name) +
                                           "\" in [[rule]] (known: " + rule_keys() + ")");
        }
    }
    // Table order, whatever order the file wrote them in (toml++ iterates
    // keys sorted): the cheap conditions are tried first.
    // A not table goes last: it may hold anything, regexes included.
    const auto position = [](const std::unique_ptr<const Condition>& condition) {
        const ConditionSpec* spec = &condition->spec();
        return spec == &not_table_spec() ? static_cast<std::ptrdiff_t>(condition_specs().size())
                                         : spec - condition_specs().data();
    };
    std::sort(rule.conditions.begin(), rule.conditions.end(),
              [&](const auto& a, const auto& b) { return position(a) < position(b); });
    if (!has_action) {
        loader.error(table.source(), "[[rule]] has no action");
    }
    loader.set_rule({});
    const bool ok = loader.count() == errors_before;
    return {std::move(rule), ok};
}

// Reads the [[rule]] array of `root` into `out`, each rule's origin set;
// duplicate ids (within `seen` too) are errors.
void read_rules(Loader& loader, const toml::table& root, const std::string& origin,
                std::unordered_map<std::string, unsigned>& seen, std::vector<Rule>& out) {
    const auto* rules_node = root.get("rule");
    if (rules_node == nullptr) {
        return;
    }
    const auto* rules = rules_node->as_array();
    if (rules == nullptr) {
        loader.error(rules_node->source(),
                     "rule must be a list of tables: write each rule as [[rule]]");
        return;
    }
    for (const auto& element : *rules) {
        const auto* table = element.as_table();
        if (table == nullptr) {
            loader.error(element.source(), "rule must be a list of tables, not of " +
                                               std::string(type_name(element)));
            continue;
        }
        auto [rule, ok] = read_rule(loader, *table);
        rule.origin = origin;
        // Duplicates are checked even in a rule with other errors, so that
        // one pass reports everything.
        if (!rule.id.empty()) {
            const auto [it, inserted] = seen.emplace(rule.id, rule.line);
            if (!inserted) {
                loader.error(table->get("id")->source(), "duplicate rule id \"" + rule.id +
                                                             "\" (first defined at line " +
                                                             std::to_string(it->second) + ")");
                continue;
            }
        }
        if (ok) {
            out.push_back(std::move(rule));
        }
    }
}

// [policy] restriction_classes: the Postfix restriction classes actions
// may name, each checked once.
void read_restriction_classes(Loader& loader, const toml::node& node) {
    const auto items = loader.strings("restriction_classes", node);
    if (!items) {
        return;
    }
    std::vector<std::string> classes;
    for (const Item& item : *items) {
        if (const std::string why = check_restriction_class(item.text); !why.empty()) {
            loader.error(item, "restriction_classes: \"" + printable(item.text) + "\": " + why);
        } else if (std::find(classes.begin(), classes.end(), item.text) != classes.end()) {
            loader.error(item, "restriction_classes: \"" + item.text + "\" is listed twice");
        } else {
            classes.push_back(item.text);
        }
    }
    loader.set_restriction_classes(std::move(classes));
}

// [policy] profile and disable_rules, as read.
struct ProfileChoice {
    const Profile* profile = nullptr;
    const toml::node* profile_node = nullptr;
    std::vector<Item> disabled;
    const toml::node* disable_node = nullptr;
};

// The profile's rules, less the disabled ones; every problem reported.
std::vector<Rule> profile_rules(Loader& loader, const ProfileChoice& choice,
                                const std::vector<Rule>& own, std::vector<std::string>& errors) {
    std::vector<Rule> rules;
    const std::string origin = "profile " + std::string(choice.profile->name);
    toml::table root;
    try {
        root = toml::parse(choice.profile->text, origin);
    } catch (const toml::parse_error& error) {
        // The profiles are built in and unit-tested: this is a build that
        // was never tested.
        loader.error(choice.profile_node->source(),
                     origin + " does not parse: " + std::string(error.description()));
        return rules;
    }
    Loader profile_loader(origin, errors);
    std::unordered_map<std::string, unsigned> seen;
    read_rules(profile_loader, root, origin, seen, rules);
    for (const Item& item : choice.disabled) {
        const auto it = std::find_if(rules.begin(), rules.end(),
                                     [&](const Rule& rule) { return rule.id == item.text; });
        if (it == rules.end()) {
            loader.error(item,
                         "disable_rules: \"" + printable(item.text) + "\" is no rule of " + origin);
            continue;
        }
        rules.erase(it);
    }
    // An own rule may take a profile rule's id only in its place.
    for (const Rule& rule : own) {
        if (seen.count(rule.id) != 0 &&
            std::none_of(choice.disabled.begin(), choice.disabled.end(),
                         [&](const Item& item) { return item.text == rule.id; })) {
            loader.error_at(rule.origin, rule.line,
                            "rule \"" + rule.id + "\" has the id of a rule of " + origin +
                                "; choose another id, or disable_rules = [\"" + rule.id +
                                "\"] to put it in that rule's place");
        }
    }
    return rules;
}

}  // namespace

std::optional<RuleTable> parse_rule_table(const toml::table& root, std::string_view source_name,
                                          std::vector<std::string>& errors,
                                          std::vector<std::string> blocklists) {
    Loader loader(source_name, errors);
    loader.set_blocklists(std::move(blocklists));
    auto impl = std::make_shared<RuleTable::Impl>();

    bool default_set = false;
    ProfileChoice choice;
    if (const auto* policy_node = root.get("policy")) {
        if (const auto* policy = policy_node->as_table()) {
            // First: the actions below may name these.
            if (const toml::node* classes = policy->get("restriction_classes")) {
                read_restriction_classes(loader, *classes);
            }
            for (const auto& [key, node] : *policy) {
                if (key.str() == "restriction_classes") {
                    continue;
                }
                if (key.str() == "default_action") {
                    if (auto action = loader.action("default_action", node)) {
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
                } else if (key.str() == "profile") {
                    choice.profile_node = &node;
                    const auto* name = node.as_string();
                    choice.profile = name != nullptr ? find_profile(name->get()) : nullptr;
                    if (choice.profile == nullptr) {
                        std::string known;
                        for (const Profile& profile : profiles()) {
                            known += (known.empty() ? "" : ", ") + std::string(profile.name);
                        }
                        loader.error(node.source(), "profile must be one of " + known);
                    }
                } else if (key.str() == "disable_rules") {
                    choice.disable_node = &node;
                    if (auto items = loader.strings("disable_rules", node)) {
                        choice.disabled = std::move(*items);
                    }
                } else {
                    loader.error(key.source(),
                                 "unknown key \"" + printable(key.str()) +
                                     "\" in [policy] (known: default_action, dry_run, profile, "
                                     "disable_rules, restriction_classes)");
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
    std::vector<Rule> own;
    read_rules(loader, root, std::string(source_name), first_line, own);
    std::vector<Rule> from_profile;
    if (choice.profile != nullptr) {
        from_profile = profile_rules(loader, choice, own, errors);
    } else {
        if (choice.disable_node != nullptr && choice.profile_node == nullptr) {
            loader.error(choice.disable_node->source(),
                         "disable_rules names rules of a profile, and there is no [policy] "
                         "profile");
        }
        for (const Rule& rule : own) {
            if (rule.after_profile && choice.profile_node == nullptr) {
                loader.error_at(rule.origin, rule.line,
                                "rule \"" + rule.id +
                                    "\": after_profile = true, but there is no [policy] profile");
            }
        }
    }
    // Own rules first (exemptions), then the profile's, then own rules
    // marked after_profile.
    for (Rule& rule : own) {
        if (!rule.after_profile) {
            impl->rules.push_back(std::move(rule));
        }
    }
    for (Rule& rule : from_profile) {
        impl->rules.push_back(std::move(rule));
    }
    for (Rule& rule : own) {
        if (rule.after_profile) {
            impl->rules.push_back(std::move(rule));
        }
    }

    if (loader.count() != 0) {
        return std::nullopt;
    }
    impl->restriction_classes = loader.restriction_classes();
    impl->counters = std::make_unique<Counter[]>(impl->rules.size() + 1);
    return RuleTable(std::move(impl));
}

}  // namespace rules
