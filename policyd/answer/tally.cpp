#include "policyd/answer/tally.hpp"

namespace policyd {

Tally::RuleCounts& Tally::rule(std::string_view id) {
    if (last_ != nullptr && *last_id_ == id) {
        return *last_;
    }
    auto it = rules_.find(id);
    if (it == rules_.end()) {
        it = rules_.emplace(std::string(id), RuleCounts{}).first;
    }
    last_id_ = &it->first;
    last_ = &it->second;
    return *last_;
}

void Tally::count(const rules::Decision& decision, bool header_added, FactsSource source,
                  const Facts& facts, std::chrono::steady_clock::duration elapsed) {
    const rules::ActionClass sent =
        header_added ? rules::ActionClass::accept : rules::action_class(decision.answer());
    ++rule(decision.rule_id).decided[static_cast<std::size_t>(sent)];
    if (decision.dry_run) {
        ++rule(decision.rule_id).shadow;
    }
    for (const auto& hit : decision.shadow) {
        ++rule(hit.rule_id).shadow;
    }
    ++sources_[static_cast<std::size_t>(source)];
    for (std::size_t i = 0; i < kFactFields.size(); ++i) {
        if (source == FactsSource::rules && kFactFields[i].from_dns) {
            continue;  // not looked up
        }
        const std::uint8_t value = kFactFields[i].get(facts);
        if (value < kMaxFactWords) {
            ++facts_[i][value];
        }
    }
    if (source == FactsSource::dns && facts.budget_exhausted) {
        ++budget_exhausted_;
    }
    latency_.observe(elapsed);
}

void Tally::for_each_rule(
    const std::function<void(std::string_view id, const RuleCounts&)>& visit) const {
    for (const auto& [id, counts] : rules_) {
        visit(id, counts);
    }
}

}  // namespace policyd
