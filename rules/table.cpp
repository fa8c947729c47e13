// The rule table at work: first-match evaluation, shadow hits, counters and
// the trace `explain` prints. Nothing here allocates but the Decision.
#include "rules/table.hpp"

#include <utility>

namespace rules {

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
        if (rule.failing(evidence) != nullptr) {
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

bool RuleTable::decided_without_dns(const Evidence& evidence) const {
    for (const auto& rule : impl_->rules) {
        bool unknown = false;
        bool failed = false;
        for (const auto& condition : rule.conditions) {
            if (condition->needs_dns()) {
                unknown = true;
            } else if (!condition->holds(evidence)) {
                failed = true;
                break;
            }
        }
        if (failed) {
            continue;
        }
        if (unknown || rule.action.needs_dns()) {
            return false;
        }
        if (rule.mode == Mode::enforce) {
            return true;
        }
    }
    return !impl_->default_action.needs_dns();
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
        RuleTrace trace{rule.id, rule.line, rule.origin, {}, {}, rule.mode};
        if (const Condition* failed = rule.failing(evidence)) {
            trace.failed_key = failed->spec().key;
            trace.observed = failed->describe(evidence);
        }
        traces.push_back(std::move(trace));
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

const std::vector<std::string>& RuleTable::restriction_classes() const {
    return impl_->restriction_classes;
}

std::string_view RuleTable::default_action() const {
    return impl_->default_action.text();
}

}  // namespace rules
