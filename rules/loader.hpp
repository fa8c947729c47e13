// Loader: the one place that turns a parsed configuration document into a
// RuleTable, and the only rules/ header that includes toml++.
//
// Contract: reads every [[rule]] entry and the [policy] table (which holds
// only default_action, "DUNNO" when absent, and dry_run, false when absent).
// Every problem is appended to errors as "<file>:<line>: <message>" (all of
// them, not just the first); the result is nullopt if there was any. May
// allocate, read list files and compile regexes: call it at start-up or
// reload, never per request.
//
// A [[rule]] holds id ([a-z0-9][a-z0-9_-]*, unique, not "default"), action
// (rules/action.hpp), mode ("enforce", the default, or "shadow") and any of
// the conditions of rules/conditions.hpp, each a string or a non-empty list
// (any-of). Any other key is an error.
//
// List files: in client_address, helo_name, ptr_name, sender and recipient
// an entry "file:<path>" stands for the patterns in that file, one a line
// (surrounding blanks trimmed; blank lines and lines starting with # are
// skipped; no nesting). A relative path is taken from the directory of
// source_name, so source_name must be the rule file's path. A bad entry is
// reported as "<list file>:<line>: ..."; an unreadable file (or one over
// 16 MiB) at the rule file's line. Files are read only here: a changed list
// file takes effect at the next reload.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/action.hpp"
#include "rules/rules.hpp"

namespace rules {

// One pattern, from the rule file or from a list file it names.
struct Item {
    std::string text;
    const toml::source_region* source;  // in the rule file (for a list file: its "file:" entry)
    const std::string* file;            // the list file it came from, or nullptr
    unsigned line;                      // its line in that list file
};

// The reading and error-reporting helpers every part of the loader shares
// (rules/conditions.cpp reads each condition's value with them). Errors are
// "<file>:<line>: rule \"ID\": message", the rule named once set_rule() is.
class Loader {
  public:
    Loader(std::string_view source_name, std::vector<std::string>& errors);

    void error(const toml::source_region& where, std::string_view message);
    void error(const Item& item, std::string_view message);  // in its list file if from one
    void error_at(std::string_view file, unsigned line_number, std::string_view message);

    // A string or a non-empty list of strings; nullopt (error reported) otherwise.
    std::optional<std::vector<Item>> strings(std::string_view key, const toml::node& node);
    // strings(), with each "file:path" replaced by the patterns listed in
    // that file: one a line, blank lines and lines starting with # skipped,
    // a relative path taken from the rule file's directory. An empty list
    // file is allowed (an allowlist nobody is on yet): it adds nothing.
    std::optional<std::vector<Item>> patterns(std::string_view key, const toml::node& node);
    std::optional<ActionTemplate> action(std::string_view key, const toml::node& node);

    [[nodiscard]] std::size_t count() const { return count_; }
    void set_rule(std::string id) { rule_id_ = std::move(id); }
    // The restriction classes action() accepts ([policy] restriction_classes).
    void set_restriction_classes(std::vector<std::string> classes) {
        restriction_classes_ = std::move(classes);
    }
    [[nodiscard]] const std::vector<std::string>& restriction_classes() const {
        return restriction_classes_;
    }
    // The [[dnsbl]] names dnsbl_listed may name.
    void set_blocklists(std::vector<std::string> names) { blocklists_ = std::move(names); }
    [[nodiscard]] const std::vector<std::string>& blocklists() const { return blocklists_; }

  private:
    void read_list_file(std::string_view key, const Item& item, std::vector<Item>& out);

    std::string_view source_name_;
    std::filesystem::path base_dir_;
    std::deque<std::string> list_files_;  // names of the list files read, for Item::file
    std::vector<std::string>& errors_;
    std::string rule_id_;
    std::size_t count_ = 0;
    std::vector<std::string> restriction_classes_;
    std::vector<std::string> blocklists_;
};

// "a string", "a list", ... for messages.
std::string_view type_name(const toml::node& node);

class Condition;
struct ConditionSpec;
// Reads the value of one condition key (rules/conditions.hpp); null, with
// every problem reported to the loader, when it does not read.
// A value may also be `{ not = VALUE }` (rules/conditions.hpp).
std::unique_ptr<const Condition> read_condition(Loader& loader, const ConditionSpec& spec,
                                                const toml::node& node);
// Reads a rule's `not` table of conditions; null, with every problem
// reported, when it does not read.
std::unique_ptr<const Condition> read_not_table(Loader& loader, const toml::node& node);

// `blocklists`: the names of the configuration's [[dnsbl]] lists, which
// dnsbl_listed may name.
std::optional<RuleTable> parse_rule_table(const toml::table& root, std::string_view source_name,
                                          std::vector<std::string>& errors,
                                          std::vector<std::string> blocklists = {});

}  // namespace rules
