// Histogram: counts of durations in fixed buckets, the shape Prometheus
// scrapes (policyd/metrics/metrics.hpp). The one histogram of every layer
// that measures a latency (DNS lookups, requests).
//
// Contract:
// - The bucket bounds are kLatencyBounds, fixed at compile time, so every
//   histogram has the same buckets and an observation costs a short scan
//   and two additions: no allocation, no lock.
// - Single-threaded: one owner on the event loop.
// - counts()[i] counts observations <= kLatencyBounds[i] and above the
//   bound before (not cumulative); the last count is those above every
//   bound (Prometheus' +Inf less the others).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace policyd {

// Upper bounds in seconds: a warm answer takes tens of microseconds, a
// DNS lookup a few milliseconds, a dead upstream the lookup timeout (3 s by
// default) and the budget (6 s).
inline constexpr std::array<double, 14> kLatencyBounds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0};

class Histogram {
  public:
    void observe(std::chrono::steady_clock::duration elapsed) {
        const double seconds = std::chrono::duration<double>(elapsed).count();
        std::size_t i = 0;
        while (i < kLatencyBounds.size() && seconds > kLatencyBounds[i]) {
            ++i;
        }
        ++counts_[i];
        ++count_;
        sum_seconds_ += seconds;
    }

    [[nodiscard]] const std::array<std::uint64_t, kLatencyBounds.size() + 1>& counts() const {
        return counts_;
    }
    [[nodiscard]] std::uint64_t count() const { return count_; }
    [[nodiscard]] double sum_seconds() const { return sum_seconds_; }

  private:
    std::array<std::uint64_t, kLatencyBounds.size() + 1> counts_{};
    std::uint64_t count_ = 0;
    double sum_seconds_ = 0;
};

}  // namespace policyd
