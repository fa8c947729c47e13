// Alarms for a site set up wrong: each raised once, repeated at most every
// `repeat` while it lasts, cleared once; a window with too little to judge
// changes nothing. WindowCounts (under the alarms and the upstream health
// watch) and is_internal() with them.
#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/base/window_counts.hpp"
#include "policyd/metrics/alarms.hpp"

using namespace policyd;
using namespace std::chrono_literals;

namespace {

AlarmOptions small() {
    AlarmOptions options;
    options.window = 60s;
    options.min_requests = 10;
    options.internal_percent = 90;
    options.min_assessments = 5;
    options.repeat = 3600s;
    return options;
}

std::vector<AlarmEvent::Kind> kinds(const std::vector<AlarmEvent>& events, Alarm alarm) {
    std::vector<AlarmEvent::Kind> found;
    for (const auto& event : events) {
        if (event.alarm == alarm) {
            found.push_back(event.kind);
        }
    }
    return found;
}

using Kind = AlarmEvent::Kind;
const AlarmWatch::Clock::time_point t0{1000s};

}  // namespace

TEST_CASE("internal-clients needs enough unauthenticated requests, most of them internal",
          "[alarms]") {
    AlarmWatch watch(small());
    for (int i = 0; i < 9; ++i) {
        watch.request(false, true, std::nullopt, t0);
    }
    CHECK(watch.evaluate(t0).empty());  // 9 < min_requests: not judged
    watch.request(false, true, std::nullopt, t0);
    // Authenticated clients (submission) never count.
    for (int i = 0; i < 100; ++i) {
        watch.request(true, false, std::nullopt, t0);
    }
    auto events = watch.evaluate(t0);
    REQUIRE(kinds(events, Alarm::internal_clients) == std::vector{Kind::raised});
    CHECK(events[0].detail ==
          "10 of 10 unauthenticated requests in the last 1 min came from "
          "internal addresses");
    CHECK(watch.active(Alarm::internal_clients));
    CHECK(watch.raised(Alarm::internal_clients) == 1);
    CHECK_FALSE(watch.active(Alarm::no_ptr_anywhere));
    CHECK_FALSE(watch.active(Alarm::connections_refused));

    // Still true: no second line within `repeat`.
    CHECK(watch.evaluate(t0 + 30s).empty());
    // Public clients bring the share under 90 %: cleared once.
    for (int i = 0; i < 2; ++i) {
        watch.request(false, false, std::nullopt, t0 + 30s);
    }
    CHECK(kinds(watch.evaluate(t0 + 31s), Alarm::internal_clients) == std::vector{Kind::cleared});
    CHECK(watch.evaluate(t0 + 32s).empty());
    CHECK(watch.raised(Alarm::internal_clients) == 1);
}

TEST_CASE("a lasting alarm is repeated every `repeat`, not more", "[alarms]") {
    auto options = small();
    options.repeat = 120s;
    AlarmWatch watch(options);
    auto now = t0;
    std::vector<Kind> seen;
    for (int second = 0; second < 300; second += 5, now += 5s) {
        watch.request(false, true, std::nullopt, now);
        watch.request(false, true, std::nullopt, now);
        for (auto kind : kinds(watch.evaluate(now), Alarm::internal_clients)) {
            seen.push_back(kind);
        }
    }
    // Raised once the window holds 10, then at +120 s and +240 s.
    CHECK(seen == std::vector{Kind::raised, Kind::repeated, Kind::repeated});
}

TEST_CASE("no-ptr-anywhere: every fresh assessment without a PTR", "[alarms]") {
    AlarmWatch watch(small());
    for (int i = 0; i < 5; ++i) {
        watch.request(false, false, true, t0);
    }
    // A request whose facts came from a cache says nothing about DNS.
    watch.request(false, false, std::nullopt, t0);
    CHECK(kinds(watch.evaluate(t0), Alarm::no_ptr_anywhere) == std::vector{Kind::raised});
    // One client with a PTR: the resolver works.
    watch.request(false, false, false, t0 + 1s);
    CHECK(kinds(watch.evaluate(t0 + 1s), Alarm::no_ptr_anywhere) == std::vector{Kind::cleared});
}

TEST_CASE("too little in the window keeps an alarm as it is", "[alarms]") {
    AlarmWatch watch(small());
    for (int i = 0; i < 5; ++i) {
        watch.request(false, false, true, t0);
    }
    CHECK(kinds(watch.evaluate(t0), Alarm::no_ptr_anywhere) == std::vector{Kind::raised});
    // The window empties (a quiet night): not judged, still raised.
    CHECK(watch.evaluate(t0 + 120s).empty());
    CHECK(watch.active(Alarm::no_ptr_anywhere));
}

TEST_CASE("connections-refused holds while refusals are in the window", "[alarms]") {
    AlarmWatch watch(small());
    CHECK(watch.evaluate(t0).empty());
    watch.refused(t0);
    watch.refused(t0);
    auto events = watch.evaluate(t0);
    REQUIRE(kinds(events, Alarm::connections_refused) == std::vector{Kind::raised});
    CHECK(events[0].detail == "2 connections refused in the last 1 min");
    CHECK(watch.evaluate(t0 + 30s).empty());
    CHECK(kinds(watch.evaluate(t0 + 61s), Alarm::connections_refused) ==
          std::vector{Kind::cleared});
}

TEST_CASE("every alarm has a name, a meaning and a remedy", "[alarms]") {
    for (const auto& spec : kAlarms) {
        INFO(spec.name);
        CHECK_FALSE(spec.name.empty());
        CHECK(spec.means.size() > 40);
        CHECK(spec.remedy.size() > 40);
    }
}

TEST_CASE("window counts sum the slots within the window", "[alarms][window]") {
    WindowCounts<2> counts(10s, 10);
    counts.add(0, t0);
    counts.add(1, t0, 3);
    counts.add(0, t0 + 5s);
    CHECK(counts.totals(t0 + 5s) == WindowCounts<2>::Totals{2, 3});
    CHECK(counts.totals(t0 + 9s) == WindowCounts<2>::Totals{2, 3});
    CHECK(counts.totals(t0 + 10s) == WindowCounts<2>::Totals{1, 0});  // t0 aged out
    CHECK(counts.totals(t0 + 15s) == WindowCounts<2>::Totals{0, 0});
    // A slot reused round-robin forgets what it held.
    counts.add(0, t0 + 20s);
    CHECK(counts.totals(t0 + 20s) == WindowCounts<2>::Totals{1, 0});
}

TEST_CASE("same_network: one /24 for IPv4, one /64 for IPv6", "[address]") {
    const auto same = [](const char* a, const char* b) {
        return same_network(*parse_ip(a), *parse_ip(b));
    };
    CHECK(same("192.0.2.1", "192.0.2.254"));
    CHECK_FALSE(same("192.0.2.1", "192.0.3.1"));
    CHECK(same("2001:db8::1", "2001:db8::ffff:1"));
    CHECK(same("2001:db8:0:0:1::1", "2001:db8::2"));
    CHECK_FALSE(same("2001:db8:0:1::1", "2001:db8::1"));
    CHECK(same("::ffff:192.0.2.1", "192.0.2.7"));
    CHECK_FALSE(same("192.0.2.1", "2001:db8::1"));
}

TEST_CASE("is_internal: the networks the shipped table exempts", "[address]") {
    const std::pair<const char*, bool> table[] = {
        {"127.0.0.1", true},      {"10.1.2.3", true},        {"172.16.0.1", true},
        {"172.31.255.255", true}, {"172.32.0.1", false},     {"192.168.1.1", true},
        {"100.64.0.1", true},     {"100.128.0.1", false},    {"169.254.1.1", true},
        {"192.0.2.1", false},     {"8.8.8.8", false},        {"::1", true},
        {"fd00::1", true},        {"fc00::1", true},         {"fe80::1", true},
        {"2001:db8::1", false},   {"::ffff:10.0.0.1", true}, {"::ffff:8.8.8.8", false},
    };
    for (const auto& [text, internal] : table) {
        INFO(text);
        CHECK(is_internal(*parse_ip(text)) == internal);
    }
}
