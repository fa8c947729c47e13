// UpstreamHealth: notices when the DNS upstream is failing, as a Lookup
// decorator that watches every answer coming back from upstream.
//
// Contract:
// - Single-threaded (the event loop); lookups pass through unchanged.
// - State "outage" begins when, within the last `window`, at least
//   `min_lookups` answers arrived and at least `threshold_percent` of them
//   were temperror (SERVFAIL, timeout, resolver error). It ends when the
//   share over the window falls below the threshold again. Timeouts are
//   answers here (temperror "timeout"), so a dead upstream counts.
// - on_change is called once when the state begins and once when it ends,
//   never per lookup: the owner logs one alarm line each time.
// - Put it directly in front of the Resolver (behind any cache): cache hits
//   say nothing about the upstream.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>

#include "resolver/resolver.hpp"

namespace resolver {

struct HealthOptions {
    std::chrono::seconds window{30};
    unsigned threshold_percent = 50;  // 1..100
    std::uint64_t min_lookups = 10;
};

struct HealthSnapshot {
    bool outage = false;
    std::uint64_t answers = 0;     // within the window
    std::uint64_t temperrors = 0;  // within the window
};

class UpstreamHealth final : public Lookup {
  public:
    using Clock = std::chrono::steady_clock;
    using ChangeHandler = std::function<void(const HealthSnapshot&)>;

    UpstreamHealth(Lookup& upstream, HealthOptions options, ChangeHandler on_change,
                   std::function<Clock::time_point()> clock = Clock::now);

    void lookup(std::string_view name, RrType type, Handler handler) override;

    [[nodiscard]] bool outage() const { return outage_; }
    [[nodiscard]] HealthSnapshot snapshot();

    // Counts one answer (exposed so tests can drive the window directly).
    void record(Status status);

  private:
    // One bucket per second of the window, reused round-robin.
    static constexpr std::size_t kMaxBuckets = 3600;
    struct Bucket {
        std::int64_t second = -1;  // which second it counts, -1 = unused
        std::uint64_t answers = 0;
        std::uint64_t temperrors = 0;
    };

    HealthSnapshot totals(std::int64_t now_second) const;
    void update(std::int64_t now_second);

    Lookup& upstream_;
    HealthOptions options_;
    ChangeHandler on_change_;
    std::function<Clock::time_point()> clock_;
    std::array<Bucket, kMaxBuckets> buckets_{};
    bool outage_ = false;
};

}  // namespace resolver
