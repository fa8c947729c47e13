// Rules: the admin's rule table, evaluated for every policy request.
//
// Contract:
// - A RuleTable is built only by parse_rule_table() (rules/rules_toml.hpp),
//   which refuses a table with any error: there is no half-loaded table.
// - It is immutable; copies share the same rules. evaluate() is const,
//   thread-safe, compiles nothing and allocates only the Decision's strings.
// - Rules are tried in file order; the first rule whose every condition holds
//   decides (a list in a condition means any-of). When none does, the
//   [policy].default_action decides with rule_id "default".
// - Name and address conditions are case-insensitive and ignore a trailing
//   dot; regex conditions are RE2 (linear time), unanchored and
//   case-insensitive unless the pattern says (?-i).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policyd/address.hpp"
#include "policyd/facts.hpp"
#include "policyd/request.hpp"

namespace rules {

struct Evidence {
    const policyd::Request& request;
    const policyd::Facts& facts;
    // The parsed client_address, nullopt if unparsable (then no client_address
    // condition matches).
    const std::optional<policyd::IpAddress>& client;
};

struct Decision {
    std::string rule_id;  // "default" when no rule matched
    std::string action;   // macros expanded, safe to send: no control characters, <= 1000 bytes
};

// How one rule fared against one request (for `rdns-policyd explain`).
struct RuleTrace {
    std::string id;
    unsigned line = 0;            // where the rule starts in its file
    std::string_view failed_key;  // the first condition that does not hold; "" = matched
};

class RuleTable {
  public:
    [[nodiscard]] Decision evaluate(const Evidence& evidence) const;

    // Every rule in order, each with the first condition that stopped it:
    // what evaluate() does, made visible. Allocates; not for the hot path.
    [[nodiscard]] std::vector<RuleTrace> trace(const Evidence& evidence) const;

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::vector<std::string> rule_ids() const;
    // The default action as written (before macro expansion).
    [[nodiscard]] std::string_view default_action() const;

    // Impl is complete only in rules/rules.cpp, so in effect only
    // parse_rule_table() can build a table.
    struct Impl;
    explicit RuleTable(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  private:
    std::shared_ptr<const Impl> impl_;
};

}  // namespace rules
