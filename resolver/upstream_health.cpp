#include "resolver/upstream_health.hpp"

#include <algorithm>
#include <utility>

namespace resolver {

UpstreamHealth::UpstreamHealth(Lookup& upstream, HealthOptions options, ChangeHandler on_change,
                               std::function<Clock::time_point()> clock)
    : upstream_(upstream),
      options_(options),
      on_change_(std::move(on_change)),
      clock_(std::move(clock)) {
    options_.window =
        std::clamp(options_.window, std::chrono::seconds(1), std::chrono::seconds(kMaxBuckets));
    options_.threshold_percent = std::clamp(options_.threshold_percent, 1U, 100U);
}

void UpstreamHealth::lookup(std::string_view name, RrType type, Handler handler) {
    upstream_.lookup(name, type, [this, handler = std::move(handler)](Answer answer) {
        record(answer.status);
        handler(std::move(answer));
    });
}

void UpstreamHealth::record(Status status) {
    const auto now_second =
        std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
    Bucket& bucket = buckets_[static_cast<std::size_t>(now_second) %
                              static_cast<std::size_t>(options_.window.count())];
    if (bucket.second != now_second) {
        bucket = Bucket{now_second, 0, 0};
    }
    ++bucket.answers;
    if (status == Status::temperror) {
        ++bucket.temperrors;
    }
    update(now_second);
}

HealthSnapshot UpstreamHealth::snapshot() {
    const auto now_second =
        std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
    HealthSnapshot current = totals(now_second);
    current.outage = outage_;
    return current;
}

HealthSnapshot UpstreamHealth::totals(std::int64_t now_second) const {
    HealthSnapshot sum;
    const auto window = static_cast<std::size_t>(options_.window.count());
    for (std::size_t i = 0; i < window; ++i) {
        const Bucket& bucket = buckets_[i];
        if (bucket.second >= 0 && now_second - bucket.second < options_.window.count()) {
            sum.answers += bucket.answers;
            sum.temperrors += bucket.temperrors;
        }
    }
    return sum;
}

void UpstreamHealth::update(std::int64_t now_second) {
    HealthSnapshot current = totals(now_second);
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
