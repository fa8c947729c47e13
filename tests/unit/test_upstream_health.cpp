// UpstreamHealth: one alarm when the upstream starts failing, one when it
// recovers, judged over a sliding window with an injected clock.
#include <catch2/catch.hpp>
#include <vector>

#include "resolver/upstream_health.hpp"

using namespace resolver;
using namespace std::chrono_literals;

namespace {

// Pure-logic stand-in for the upstream: answers are fed by record().
struct NoUpstream final : Lookup {
    void lookup(std::string_view, RrType, Handler) override {}
};

struct Harness {
    NoUpstream upstream;
    UpstreamHealth::Clock::time_point now{1000s};
    std::vector<HealthSnapshot> changes;
    UpstreamHealth health{upstream, HealthOptions{10s, 50, 10},
                          [this](const HealthSnapshot& s) { changes.push_back(s); },
                          [this] { return now; }};

    void answers(int ok, int temperror) {
        for (int i = 0; i < ok; ++i) {
            health.record(Status::ok);
        }
        for (int i = 0; i < temperror; ++i) {
            health.record(Status::temperror);
        }
    }
};

}  // namespace

TEST_CASE("an outage begins and ends once each", "[health]") {
    Harness h;
    h.answers(20, 5);  // 20% failing: healthy
    CHECK_FALSE(h.health.outage());
    h.answers(0, 30);  // now 35 of 55 failing
    CHECK(h.health.outage());
    REQUIRE(h.changes.size() == 1);
    CHECK(h.changes[0].outage);
    CHECK(h.changes[0].temperrors >= h.changes[0].answers / 2);

    h.answers(0, 100);  // more failures: no further alarm
    CHECK(h.changes.size() == 1);

    // The failures age out of the 10 s window; fresh good answers end it.
    h.now += 11s;
    h.answers(10, 0);
    CHECK_FALSE(h.health.outage());
    REQUIRE(h.changes.size() == 2);
    CHECK_FALSE(h.changes[1].outage);
}

TEST_CASE("too few answers to judge never raise the alarm", "[health]") {
    Harness h;
    h.answers(0, 9);  // 100% failing, but below min_lookups
    CHECK_FALSE(h.health.outage());
    h.answers(0, 1);
    CHECK(h.health.outage());
}

TEST_CASE("the window slides second by second", "[health]") {
    Harness h;
    h.answers(0, 10);
    CHECK(h.health.outage());
    // 5 s later the failures are still in the window: good answers must
    // outnumber them before the state ends.
    h.now += 5s;
    h.answers(9, 0);
    CHECK(h.health.outage());
    h.answers(2, 0);
    CHECK_FALSE(h.health.outage());
    CHECK(h.health.snapshot().answers == 21);
    h.now += 10s;
    CHECK(h.health.snapshot().answers == 0);
}
