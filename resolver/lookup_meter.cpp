#include "resolver/lookup_meter.hpp"

#include <algorithm>
#include <utility>

namespace resolver {
namespace {

std::size_t type_index(RrType type) {
    const auto* it = std::find(kRrTypes.begin(), kRrTypes.end(), type);
    return static_cast<std::size_t>(it - kRrTypes.begin());
}

}  // namespace

void LookupMeter::lookup(std::string_view name, RrType type, Handler handler) {
    ++in_flight_;
    const auto started = Clock::now();
    // The meter outlives every lookup: the Stack owns both, and the
    // Resolver answers each one (with temperror "shutdown" at the latest)
    // before it is destroyed.
    upstream_.lookup(name, type,
                     [this, type, started, handler = std::move(handler)](Answer answer) {
                         --in_flight_;
                         latency_.observe(Clock::now() - started);
                         const std::size_t row = type_index(type);
                         if (row < answers_.size()) {
                             ++answers_[row][static_cast<std::size_t>(outcome_of(answer))];
                         }
                         handler(std::move(answer));
                     });
}

std::uint64_t LookupMeter::answers(RrType type, Outcome outcome) const {
    const std::size_t row = type_index(type);
    const auto column = static_cast<std::size_t>(outcome);
    return row < answers_.size() && column < kOutcomeWords.size() ? answers_[row][column] : 0;
}

}  // namespace resolver
