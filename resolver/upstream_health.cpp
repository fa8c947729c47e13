#include "resolver/upstream_health.hpp"

#include <algorithm>
#include <utility>

namespace resolver {

namespace {

HealthOptions clamped(HealthOptions options, std::chrono::seconds longest) {
    options.window = std::clamp(options.window, std::chrono::seconds(1), longest);
    options.threshold_percent = std::clamp(options.threshold_percent, 1U, 100U);
    return options;
}

}  // namespace

UpstreamHealth::UpstreamHealth(Lookup& upstream, HealthOptions options, ChangeHandler on_change,
                               std::function<Clock::time_point()> clock)
    : upstream_(upstream),
      options_(clamped(options, kMaxWindow)),
      on_change_(std::move(on_change)),
      clock_(std::move(clock)),
      counts_(options_.window, static_cast<std::size_t>(options_.window.count())) {}

void UpstreamHealth::lookup(std::string_view name, RrType type, Handler handler) {
    upstream_.lookup(name, type, [this, handler = std::move(handler)](Answer answer) {
        record(answer.status);
        handler(std::move(answer));
    });
}

void UpstreamHealth::record(Status status) {
    const auto now = clock_();
    counts_.add(kAnswers, now);
    if (status == Status::temperror) {
        counts_.add(kTemperrors, now);
    }
    update(now);
}

HealthSnapshot UpstreamHealth::snapshot() {
    HealthSnapshot current = totals(clock_());
    current.outage = outage_;
    return current;
}

HealthSnapshot UpstreamHealth::totals(Clock::time_point now) const {
    const auto sums = counts_.totals(now);
    HealthSnapshot sum;
    sum.answers = sums[kAnswers];
    sum.temperrors = sums[kTemperrors];
    return sum;
}

void UpstreamHealth::update(Clock::time_point now) {
    HealthSnapshot current = totals(now);
    const bool over_threshold =
        current.answers >= options_.min_lookups &&
        current.temperrors * 100 >= current.answers * options_.threshold_percent;
    // Leaving needs the share to drop below the threshold; a window with too
    // few answers to judge keeps the state it had.
    const bool under_threshold =
        current.temperrors * 100 < current.answers * options_.threshold_percent;
    if (!outage_ && over_threshold) {
        outage_ = true;
    } else if (outage_ && under_threshold) {
        outage_ = false;
    } else {
        return;
    }
    current.outage = outage_;
    if (on_change_) {
        on_change_(current);
    }
}

}  // namespace resolver
