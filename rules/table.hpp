// Table internals: one rule as loaded, and the table's shared state. Seen
// only by rules/table.cpp (evaluation) and rules/loader.cpp (which builds
// them); everyone else uses rules/rules.hpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rules/action.hpp"
#include "rules/conditions.hpp"
#include "rules/rules.hpp"

namespace rules {

struct Rule {
    std::string id;
    unsigned line = 0;
    std::string origin;  // the rule file, or "profile NAME"
    bool after_profile = false;
    Mode mode = Mode::enforce;
    ActionTemplate action;
    // In condition_specs() order, so the cheap ones are tried first and
    // `explain` names the same first failing condition as evaluation.
    std::vector<std::unique_ptr<const Condition>> conditions;

    // The first condition that does not hold, or null when all hold.
    [[nodiscard]] const Condition* failing(const Evidence& evidence) const {
        for (const auto& condition : conditions) {
            if (!condition->holds(evidence)) {
                return condition.get();
            }
        }
        return nullptr;
    }
};

struct Counter {
    std::atomic<std::uint64_t> decided{0};
    std::atomic<std::uint64_t> shadow_matched{0};
};

struct RuleTable::Impl {
    std::vector<Rule> rules;
    ActionTemplate default_action;
    bool dry_run = false;
    std::vector<std::string> restriction_classes;
    // rules.size() + 1 entries, the last for the default. Allocated once the
    // rules are final; the pointee is mutable through a const Impl.
    std::unique_ptr<Counter[]> counters;  // NOLINT: a fixed array of atomics
};

}  // namespace rules
