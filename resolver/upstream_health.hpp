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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "policyd/base/window_counts.hpp"
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
    // Answers and temperrors, one slot per second of the window (at most an
    // hour).
    static constexpr std::chrono::seconds kMaxWindow{3600};
    enum Field : std::size_t { kAnswers, kTemperrors };

    HealthSnapshot totals(Clock::time_point now) const;
    void update(Clock::time_point now);

    Lookup& upstream_;
    HealthOptions options_;
    ChangeHandler on_change_;
    std::function<Clock::time_point()> clock_;
    policyd::WindowCounts<2> counts_;
    bool outage_ = false;
};

}  // namespace resolver
