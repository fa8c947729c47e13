// Rules: the admin's rule table, evaluated for every policy request.
//
// Contract:
// - A RuleTable is built only by parse_rule_table() (rules/loader.hpp),
//   which refuses a table with any error: there is no half-loaded table.
// - Its rules are immutable; copies share the same rules and the same hit
//   counters. evaluate() is const, thread-safe, compiles nothing and
//   allocates only the Decision's strings (plus Decision::shadow when a
//   shadow rule matched).
// - Rules are tried in file order; the first enforce rule whose every
//   condition holds decides (a list in a condition means any-of). When none
//   does, the [policy].default_action decides with rule_id "default".
// - A shadow rule (mode = "shadow") that matches never decides: it is
//   recorded in Decision::shadow and evaluation goes on. So an admin can see
//   what a new rule would do before it acts.
// - Dry-run ([policy].dry_run = true): the table decides as usual, but the
//   reply to send (Decision::answer()) is always "DUNNO"; rule_id and action
//   say what would have been sent.
// - Hit counters live in the table: a reload builds a new table whose
//   counters start at zero. Relaxed atomics: totals are exact, but a reader
//   may see one rule's count before another's.
// - Name and address conditions are case-insensitive and ignore a trailing
//   dot; regex conditions are RE2 (linear time), unanchored and
//   case-insensitive unless the pattern says (?-i).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/protocol/request.hpp"

namespace rules {

struct Evidence {
    const policyd::Request& request;
    const policyd::Facts& facts;
    // The parsed client_address, nullopt if unparsable (then no client_address
    // condition matches).
    const std::optional<policyd::IpAddress>& client;
};

enum class Mode : std::uint8_t { enforce, shadow };

// A shadow rule that matched, with the action it would have sent.
struct ShadowHit {
    std::string rule_id;
    std::string action;  // macros expanded, like Decision::action
};

struct Decision {
    std::string rule_id;   // "default" when no enforce rule matched
    std::string action;    // macros expanded, safe to send: no control characters, <= 1000 bytes
    bool dry_run = false;  // true: action was NOT sent, answer() was
    std::vector<ShadowHit> shadow;  // shadow rules that matched before the decision, in order

    // The text to send to Postfix: action, or "DUNNO" in dry-run. A view
    // into this Decision (or a literal), so it costs no allocation.
    [[nodiscard]] std::string_view answer() const {
        return dry_run ? std::string_view("DUNNO") : std::string_view(action);
    }
};

// How often one rule (or "default", listed last) decided and matched in
// shadow since its table was built. In dry-run a would-be decision counts
// as shadow_matched: nothing was decided.
struct RuleCounters {
    std::string id;
    std::uint64_t decided = 0;
    std::uint64_t shadow_matched = 0;
};

// How one rule fared against one request (for `rdns-policyd explain`).
struct RuleTrace {
    std::string id;
    unsigned line = 0;            // where the rule starts in its file
    std::string_view origin;      // that file, or "profile NAME" (rules/profiles.hpp)
    std::string_view failed_key;  // the first condition that does not hold; "" = matched
    std::string observed;         // what that condition looked at (rules/conditions.hpp)
    Mode mode = Mode::enforce;
};

class RuleTable {
  public:
    // Also counts the hit (decided or shadow_matched).
    [[nodiscard]] Decision evaluate(const Evidence& evidence) const;

    // Would evaluate() decide the same whatever DNS tells? True when every
    // rule before the deciding one fails on a condition that needs no DNS,
    // every shadow rule on the way is decided without DNS too, and the
    // deciding rule (or the default) holds and acts without it (its action
    // names no DNS fact). `evidence` need hold only the HELO-text facts
    // (policyd/checks/assessment.hpp derive_text_facts). Counts nothing,
    // allocates nothing.
    [[nodiscard]] bool decided_without_dns(const Evidence& evidence) const;

    // Every rule in order, each with the first condition that stopped it:
    // what evaluate() does, made visible. Allocates; not for the hot path.
    // Counts nothing.
    [[nodiscard]] std::vector<RuleTrace> trace(const Evidence& evidence) const;

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::vector<std::string> rule_ids() const;
    // [policy] restriction_classes, as declared.
    [[nodiscard]] const std::vector<std::string>& restriction_classes() const;
    // The default action as written (before macro expansion).
    [[nodiscard]] std::string_view default_action() const;
    [[nodiscard]] bool dry_run() const;
    // One entry per rule in file order, then "default". Thread-safe.
    [[nodiscard]] std::vector<RuleCounters> counters() const;

    // Impl is complete only in rules/table.hpp (seen by table.cpp and
    // loader.cpp), so in effect only
    // parse_rule_table() can build a table.
    struct Impl;
    explicit RuleTable(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  private:
    std::shared_ptr<const Impl> impl_;
};

}  // namespace rules
