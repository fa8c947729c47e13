// LookupMeter and Histogram: upstream answers counted by type and outcome,
// timed into the fixed latency buckets, lookups in flight; outcome_of()
// telling temperror apart by cause.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "policyd/base/histogram.hpp"
#include "resolver/lookup_meter.hpp"

using namespace resolver;
using namespace std::chrono_literals;

namespace {

// Holds every lookup until the test answers it.
struct HeldUpstream final : Lookup {
    std::vector<Handler> held;
    void lookup(std::string_view, RrType, Handler handler) override {
        held.push_back(std::move(handler));
    }
};

Answer with(Status status, int rcode = 0, std::string error = {}) {
    Answer answer;
    answer.status = status;
    answer.rcode = rcode;
    answer.error = std::move(error);
    return answer;
}

}  // namespace

TEST_CASE("outcome_of tells temperror apart by cause", "[meter][metrics]") {
    CHECK(outcome_of(with(Status::ok)) == Outcome::ok);
    CHECK(outcome_of(with(Status::nxdomain, 3)) == Outcome::nxdomain);
    CHECK(outcome_of(with(Status::nodata)) == Outcome::nodata);
    CHECK(outcome_of(with(Status::temperror, 2, "SERVFAIL")) == Outcome::servfail);
    CHECK(outcome_of(with(Status::temperror, 5, "REFUSED")) == Outcome::refused);
    CHECK(outcome_of(with(Status::temperror, 0, std::string(kTimeoutError))) == Outcome::timeout);
    CHECK(outcome_of(with(Status::temperror, 0, "shutdown")) == Outcome::error);
    auto bogus = with(Status::temperror, 0, "DNSSEC bogus");
    bogus.bogus = true;
    CHECK(outcome_of(bogus) == Outcome::bogus);
}

TEST_CASE("the meter counts each answer by type and outcome and times it", "[meter][metrics]") {
    HeldUpstream upstream;
    LookupMeter meter(upstream);
    int delivered = 0;
    meter.lookup("1.2.0.192.in-addr.arpa", RrType::ptr, [&](const Answer&) { ++delivered; });
    meter.lookup("mail.example.com", RrType::a, [&](const Answer&) { ++delivered; });
    meter.lookup("mail.example.com", RrType::aaaa, [&](const Answer&) { ++delivered; });
    CHECK(meter.in_flight() == 3);
    CHECK(delivered == 0);
    upstream.held[0](with(Status::ok));
    upstream.held[1](with(Status::temperror, 2, "SERVFAIL"));
    upstream.held[2](with(Status::nodata));
    CHECK(delivered == 3);
    CHECK(meter.in_flight() == 0);
    CHECK(meter.answers(RrType::ptr, Outcome::ok) == 1);
    CHECK(meter.answers(RrType::a, Outcome::servfail) == 1);
    CHECK(meter.answers(RrType::aaaa, Outcome::nodata) == 1);
    CHECK(meter.answers(RrType::a, Outcome::ok) == 0);
    CHECK(meter.latency().count() == 3);
}

TEST_CASE("a histogram puts each duration in the first bucket that holds it", "[metrics]") {
    policyd::Histogram histogram;
    histogram.observe(50us);   // <= 0.0001
    histogram.observe(100us);  // == 0.0001: its bound holds it
    histogram.observe(3ms);    // <= 0.005
    histogram.observe(20s);    // above every bound
    const auto& counts = histogram.counts();
    CHECK(counts[0] == 2);
    CHECK(counts[5] == 1);
    CHECK(counts.back() == 1);
    CHECK(histogram.count() == 4);
    CHECK(histogram.sum_seconds() == Approx(20.00315));
}
