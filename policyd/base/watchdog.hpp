// Watchdog: the one timer of a connection, which cancels its pending read
// or write when that operation's deadline passes.
//
// Contract:
// - arm(now, after) or arm_until(deadline) before an operation, disarm()
//   after it; expired() says
//   whether the last armed operation was cancelled by its deadline.
// - arm() and disarm() only move the deadline: the timer is re-armed only
//   when a deadline comes earlier than the time it already waits for; when
//   it fires early it waits again for the later deadline. A timer armed and
//   cancelled for every read and every write cost a timer-queue update and
//   a handler dispatch each, per request.
// - The state is shared with the pending timer handler, so a handler that
//   runs after the connection ended finds it closed, not freed memory.
// - Single-threaded: the executor's thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace policyd {

class Watchdog {
  public:
    using Clock = std::chrono::steady_clock;

    Watchdog(const boost::asio::any_io_executor& executor, std::function<void()> cancel)
        : state_(std::make_shared<State>(executor, std::move(cancel))) {}
    ~Watchdog() {
        state_->closed = true;
        // Ends the pending wait now rather than at its deadline (which holds
        // the state until then). Cancelling a timer does not fail in practice.
        try {
            state_->timer.cancel();
        } catch (const boost::system::system_error&) {  // NOLINT(bugprone-empty-catch)
        }
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    // The operation about to start must complete within `after` of `now`.
    void arm(Clock::time_point now, std::chrono::seconds after) { arm_until(now + after); }
    // The operation about to start must complete by `deadline` (a request's
    // whole arrival, however many reads it takes).
    void arm_until(Clock::time_point deadline) {
        State& state = *state_;
        state.expired = false;  // a late expiry of the previous operation does not count
        state.deadline = deadline;
        if (state.deadline < state.armed_for) {
            wait_until(state_, state.deadline);
        }
    }
    void disarm() { state_->deadline = Clock::time_point::max(); }
    [[nodiscard]] bool expired() const { return state_->expired; }

  private:
    struct State {
        State(const boost::asio::any_io_executor& executor, std::function<void()> c)
            : timer(executor), cancel(std::move(c)) {}
        boost::asio::steady_timer timer;
        std::function<void()> cancel;
        Clock::time_point deadline = Clock::time_point::max();   // of the pending operation
        Clock::time_point armed_for = Clock::time_point::max();  // max: no wait pending
        std::uint64_t generation = 0;  // of the current wait; older ones are stale
        bool expired = false;
        bool closed = false;
    };

    static void wait_until(const std::shared_ptr<State>& state, Clock::time_point when) {
        state->armed_for = when;
        const std::uint64_t generation = ++state->generation;
        state->timer.expires_at(when);  // a wait already pending ends as aborted
        state->timer.async_wait([state, generation](boost::system::error_code ec) {
            if (ec || state->closed || generation != state->generation) {
                return;
            }
            state->armed_for = Clock::time_point::max();
            if (state->deadline == Clock::time_point::max()) {
                return;  // nothing pending: stay unarmed until the next arm()
            }
            if (Clock::now() >= state->deadline) {
                state->expired = true;
                state->cancel();
                return;
            }
            wait_until(state, state->deadline);
        });
    }

    std::shared_ptr<State> state_;
};

}  // namespace policyd
