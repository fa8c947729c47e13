// Conditions: every key a [[rule]] may test, declared once.
//
// Each entry of condition_specs() says what the condition looks at (a fact
// of policyd/checks/facts.hpp, a request attribute, the verified PTR names,
// the client address) and how it is written and matched (its Form). From
// that one entry come: the key the loader accepts and how it reads it, how
// the evaluator matches it, the value `explain` shows when it stops a rule,
// and which request attributes a case file may set. Every enumerated fact
// of kFactFields is a condition by itself; a new request-attribute
// condition is one row here (and, for a new Form, one Condition class in
// conditions.cpp).
//
// Contract: the table is built once (first use) and immutable; conditions
// are immutable after loading, and holds() is const, thread-safe and
// allocates nothing. A rule tries its conditions in table order: enumerated
// facts first (one bit test each), regexes last.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/checks/facts.hpp"
#include "policyd/protocol/request.hpp"
#include "rules/rules.hpp"

namespace rules {

// What a condition looks at.
struct Subject {
    enum class Kind { fact, attribute, verified_names, client, listings };
    Kind kind = Kind::attribute;
    const policyd::FactField* fact = nullptr;    // Kind::fact
    policyd::Attr attr = policyd::Attr::count_;  // Kind::attribute
};

// How a condition is written in the rule file and matched.
enum class Form {
    fact_words,       // words of the fact's values ("pass", "n/a", ...)
    protocol_states,  // Postfix's protocol_state values, any case
    exact,            // exact strings, case-sensitive (policy_context)
    ports,            // integers 1..65535
    sasl,             // true (authenticated), false (not), or user names
    flag,             // true (the attribute is "yes") or false (anything else)
    cidrs,            // addresses and networks (rules/matchers.hpp CidrSet)
    names,            // "name" or ".suffix" (NameSet)
    addresses,        // mail address patterns (AddressSet)
    regexes,          // RE2 (RegexSet)
    listings,         // [[dnsbl]] names, or "NAME:MEANING" (Facts::listings)
};

// What a condition of this form takes, in one sentence (for the man page).
std::string_view describe(Form form);

struct ConditionSpec {
    std::string_view key;
    Subject subject;
    Form form = Form::exact;
};

// Every condition, in the order rules try them.
std::span<const ConditionSpec> condition_specs();
// The condition of that key, or null.
const ConditionSpec* find_condition(std::string_view key);
// The request attributes some condition looks at, in table order.
std::vector<policyd::Attr> condition_attributes();

// One condition of one rule, compiled.
class Condition {
  public:
    explicit Condition(const ConditionSpec& spec) : spec_(&spec) {}
    virtual ~Condition() = default;
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;

    [[nodiscard]] virtual bool holds(const Evidence& evidence) const = 0;
    [[nodiscard]] const ConditionSpec& spec() const { return *spec_; }
    // What it looked at, for `explain` when it stops a rule: observed()
    // below, or what a negation says about its parts. Allocates.
    [[nodiscard]] virtual std::string describe(const Evidence& evidence) const;
    // Does it look at what only DNS tells (a from_dns fact, the verified
    // PTR names)? The request's own attributes, the client address and the
    // HELO-text facts do not.
    [[nodiscard]] virtual bool needs_dns() const;

  private:
    const ConditionSpec* spec_;
};

// Negation, in two forms:
//  - of one condition's values: `iprev = { not = "pass" }` holds when the
//    condition `iprev = "pass"` does not (any key, any form);
//  - of a table of conditions: `not = { ptr_name = ".example.com",
//    helo_provider = "verified" }` holds unless all of them hold. It is
//    tried after the rule's other conditions, and does not nest.
// The key of the second form, and its spec (not in condition_specs()).
// (rules/loader.hpp read_not_table() reads it.)
inline constexpr std::string_view kNotKey = "not";
const ConditionSpec& not_table_spec();

// The value a condition looked at, as the rule file spells it: the fact's
// word, the attribute ("(empty)" when empty; "(not authenticated)" for
// sasl_username), the verified names joined by ',' ("(no verified PTR
// name)"), the client address. For `explain`; allocates.
std::string observed(const ConditionSpec& spec, const Evidence& evidence);

}  // namespace rules
