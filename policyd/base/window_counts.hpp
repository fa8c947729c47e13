// WindowCounts: a few counters summed over a sliding window of time, the one
// mechanism under the upstream health watch (resolver/upstream_health.hpp)
// and the alarms (policyd/metrics/alarms.hpp).
//
// Contract:
// - The window is cut into `slots` slots of window/slots each (at least one
//   second); a slot is reused round-robin, so memory is fixed at
//   construction. Adding within the slot of the last add costs two
//   comparisons and one addition (the daemon adds on every request: the
//   divisions that find a slot are paid once per slot, not per request).
// - totals(now) sums the slots that lie within the window before `now`:
//   an event ages out between window - slot and window after it happened.
// - Time is the caller's `now` (steady clock), so tests never sleep.
// - Single-threaded: one owner.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace policyd {

template <std::size_t Fields>
class WindowCounts {
  public:
    using Clock = std::chrono::steady_clock;
    using Totals = std::array<std::uint64_t, Fields>;

    WindowCounts(const WindowCounts&) = delete;  // current_ points into slots_
    WindowCounts& operator=(const WindowCounts&) = delete;

    WindowCounts(std::chrono::seconds window, std::size_t slots)
        : slot_seconds_(std::max<std::int64_t>(
              1, window.count() / static_cast<std::int64_t>(std::max<std::size_t>(1, slots)))),
          slots_(
              static_cast<std::size_t>(std::max<std::int64_t>(1, window.count() / slot_seconds_))) {
    }

    void add(std::size_t field, Clock::time_point now, std::uint64_t n = 1) {
        if (now < current_begin_ || now >= current_end_) {
            const std::int64_t index = slot_index(now);
            Slot& slot = slots_[static_cast<std::size_t>(index) % slots_.size()];
            if (slot.index != index) {
                slot = Slot{index, {}};
            }
            current_ = &slot;
            current_begin_ = Clock::time_point(std::chrono::seconds(index * slot_seconds_));
            current_end_ = current_begin_ + std::chrono::seconds(slot_seconds_);
        }
        if (field < Fields) {
            current_->counts[field] += n;
        }
    }

    [[nodiscard]] Totals totals(Clock::time_point now) const {
        const std::int64_t current = slot_index(now);
        const auto span = static_cast<std::int64_t>(slots_.size());
        Totals sum{};
        for (const Slot& slot : slots_) {
            if (slot.index >= 0 && current - slot.index < span) {
                for (std::size_t i = 0; i < Fields; ++i) {
                    sum[i] += slot.counts[i];
                }
            }
        }
        return sum;
    }

  private:
    struct Slot {
        std::int64_t index = -1;  // which slot of time it counts; -1: unused
        Totals counts{};
    };

    [[nodiscard]] std::int64_t slot_index(Clock::time_point now) const {
        const auto seconds =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        return seconds / slot_seconds_;
    }

    std::int64_t slot_seconds_;
    std::vector<Slot> slots_;
    // The slot of the last add and the time it covers (empty at first).
    Slot* current_ = nullptr;
    Clock::time_point current_begin_ = Clock::time_point::max();
    Clock::time_point current_end_ = Clock::time_point::min();
};

}  // namespace policyd
