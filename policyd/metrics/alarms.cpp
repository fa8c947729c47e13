#include "policyd/metrics/alarms.hpp"

#include <string>

namespace policyd {
namespace {

// Ten slots: an event ages out of the window within a tenth of it.
constexpr std::size_t kSlots = 10;

}  // namespace

AlarmWatch::AlarmWatch(AlarmOptions options) : options_(options), counts_(options.window, kSlots) {}

void AlarmWatch::request(bool authenticated, bool internal, std::optional<bool> no_ptr,
                         Clock::time_point now) {
    if (!authenticated) {
        counts_.add(kUnauthenticated, now);
        if (internal) {
            counts_.add(kInternal, now);
        }
    }
    if (no_ptr) {
        counts_.add(kAssessed, now);
        if (*no_ptr) {
            counts_.add(kNoPtr, now);
        }
    }
}

void AlarmWatch::refused(Clock::time_point now) {
    counts_.add(kRefused, now);
}

std::vector<AlarmEvent> AlarmWatch::evaluate(Clock::time_point now) {
    const auto totals = counts_.totals(now);
    const std::uint64_t unauthenticated = totals[kUnauthenticated];
    const std::uint64_t internal = totals[kInternal];
    const std::uint64_t assessed = totals[kAssessed];
    const std::uint64_t no_ptr = totals[kNoPtr];
    const std::uint64_t refused = totals[kRefused];
    const auto minutes = std::to_string(options_.window.count() / 60);
    const auto window = options_.window.count() % 60 == 0
                            ? minutes + " min"
                            : std::to_string(options_.window.count()) + " s";

    // judged: enough in the window to tell. Too little to tell keeps an
    // alarm as it is (a quiet night does not clear or raise it).
    struct Check {
        bool judged;
        bool holds;
        std::string detail;
    };
    const std::array<Check, kAlarms.size()> checks{{
        {unauthenticated >= options_.min_requests,
         internal * 100 >= unauthenticated * options_.internal_percent,
         std::to_string(internal) + " of " + std::to_string(unauthenticated) +
             " unauthenticated requests in the last " + window + " came from internal addresses"},
        {assessed >= options_.min_assessments, no_ptr == assessed,
         std::to_string(no_ptr) + " of " + std::to_string(assessed) +
             " clients assessed in the last " + window + " had no PTR record"},
        {true, refused > 0, std::to_string(refused) + " connections refused in the last " + window},
    }};

    std::vector<AlarmEvent> events;
    for (std::size_t i = 0; i < kAlarms.size(); ++i) {
        State& state = states_[i];
        const Check& check = checks[i];
        const auto alarm = static_cast<Alarm>(i);
        if (!check.judged) {
            continue;
        }
        if (check.holds && !state.active) {
            state.active = true;
            ++state.raised;
            state.logged = now;
            events.push_back({alarm, AlarmEvent::Kind::raised, check.detail});
        } else if (check.holds && now - state.logged >= options_.repeat) {
            state.logged = now;
            events.push_back({alarm, AlarmEvent::Kind::repeated, check.detail});
        } else if (!check.holds && state.active) {
            state.active = false;
            events.push_back({alarm, AlarmEvent::Kind::cleared, check.detail});
        }
    }
    return events;
}

}  // namespace policyd
