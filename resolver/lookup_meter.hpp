// LookupMeter: counts and times the lookups that go upstream, as a Lookup
// decorator, for the daemon's metrics (policyd/metrics/metrics.hpp).
//
// Contract:
// - Single-threaded (the event loop); lookups and answers pass through
//   unchanged, and the handler still runs exactly once, never inside
//   lookup() (the upstream's guarantee is kept, not re-made).
// - Every answer is counted by type and Outcome (resolver.hpp) and its
//   time from lookup() to the answer goes into one latency histogram;
//   in_flight() is the lookups asked and not yet answered.
// - Put it directly in front of the Resolver, with UpstreamHealth: behind
//   every cache, so it counts what the upstream was really asked.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policyd/base/histogram.hpp"
#include "resolver/resolver.hpp"

namespace resolver {

class LookupMeter final : public Lookup {
  public:
    using Clock = std::chrono::steady_clock;

    explicit LookupMeter(Lookup& upstream) : upstream_(upstream) {}

    void lookup(std::string_view name, RrType type, Handler handler) override;

    // Answers of `type` that ended as `outcome`.
    [[nodiscard]] std::uint64_t answers(RrType type, Outcome outcome) const;
    [[nodiscard]] const policyd::Histogram& latency() const { return latency_; }
    [[nodiscard]] std::size_t in_flight() const { return in_flight_; }

  private:
    Lookup& upstream_;
    std::array<std::array<std::uint64_t, kOutcomeWords.size()>, kRrTypes.size()> answers_{};
    policyd::Histogram latency_;
    std::size_t in_flight_ = 0;
};

}  // namespace resolver
