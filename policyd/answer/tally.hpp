// Tally: what the Responder answered, counted since the daemon started, for
// the metrics endpoint (policyd/metrics/metrics.hpp). A reload keeps the
// counts: a rule that stays in the table keeps counting under its id.
//
// Contract:
// - Single-threaded (the event loop); count() allocates only the first
//   time it meets a rule id (the ids come from the admin's rule table plus
//   "default" and "outage", so they are bounded by the tables loaded).
// - Every answered request is counted exactly once: by the rule that
//   decided and the class of the action sent (an Authentication-Results
//   PREPEND is the DUNNO it replaced: accept), by where its facts came from,
//   by each fact's value, and in the request latency histogram (from
//   begin() to the reply being ready, lookups included).
// - Each shadow rule that matched counts once more, under shadow; in
//   dry-run the decision is sent as DUNNO (accept) and its rule counts
//   under shadow as well, as rules/rules.hpp counts it.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policyd/base/histogram.hpp"
#include "policyd/checks/facts.hpp"
#include "rules/action.hpp"
#include "rules/rules.hpp"

namespace policyd {

// Where the facts of an answered request came from: a fresh assessment,
// the facts cache (same client and HELO, recently), the message they
// belong to (this connection's, or the instance cache's), or nowhere: the
// rule table decided on the request and the HELO text alone, without a
// lookup (rules::RuleTable::decided_without_dns).
enum class FactsSource : std::uint8_t { dns, cache, instance, rules };
inline constexpr std::array<std::string_view, 4> kFactsSourceWords{"dns", "cache", "instance",
                                                                   "rules"};

// The most values any fact has (kFactFields).
inline constexpr std::size_t kMaxFactWords = [] {
    std::size_t most = 0;
    for (const auto& field : kFactFields) {
        most = std::max(most, field.words.size());
    }
    return most;
}();

class Tally {
  public:
    struct RuleCounts {
        std::array<std::uint64_t, rules::kActionClassWords.size()> decided{};
        std::uint64_t shadow = 0;
    };

    Tally() = default;
    Tally(const Tally&) = delete;  // last_ points into rules_
    Tally& operator=(const Tally&) = delete;

    void count(const rules::Decision& decision, bool header_added, FactsSource source,
               const Facts& facts, std::chrono::steady_clock::duration elapsed);

    // Every rule id counted so far, in no particular order.
    void for_each_rule(
        const std::function<void(std::string_view id, const RuleCounts&)>& visit) const;
    [[nodiscard]] std::uint64_t requests(FactsSource source) const {
        return sources_[static_cast<std::size_t>(source)];
    }
    // Requests answered with fact kFactFields[fact] at value index `value`.
    [[nodiscard]] std::uint64_t fact(std::size_t fact, std::size_t value) const {
        return fact < facts_.size() && value < kMaxFactWords ? facts_[fact][value] : 0;
    }
    // Fresh assessments that the time budget cut short.
    [[nodiscard]] std::uint64_t budget_exhausted() const { return budget_exhausted_; }
    [[nodiscard]] const Histogram& latency() const { return latency_; }

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view id) const noexcept {
            return std::hash<std::string_view>{}(id);
        }
    };
    RuleCounts& rule(std::string_view id);

    std::unordered_map<std::string, RuleCounts, Hash, std::equal_to<>> rules_;
    // The rule counted last: most answers in a row are decided by the same
    // rule, and a comparison is cheaper than a hash. Map nodes never move.
    const std::string* last_id_ = nullptr;
    RuleCounts* last_ = nullptr;
    std::array<std::uint64_t, kFactsSourceWords.size()> sources_{};
    std::array<std::array<std::uint64_t, kMaxFactWords>, kFactFields.size()> facts_{};
    std::uint64_t budget_exhausted_ = 0;
    Histogram latency_;
};

}  // namespace policyd
