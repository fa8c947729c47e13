// Integration tests of the resolver stack (Resolver, Assessor) against a DNS
// server that answers in hostile or broken ways: truncation, oversized
// RRsets, CNAME chains and loops, slow answers (ldns-testns with
// zones/hostile.testns). Every wait is a loop bounded in time; the only
// sleeps are the server's own (ADJUST sleep=N).
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns_server.hpp"
#include "policyd/checks/assessment.hpp"
#include "resolver/resolver.hpp"

using namespace std::chrono_literals;
using policyd::AssessmentOptions;
using policyd::Assessor;
using policyd::Facts;
using policyd::Iprev;
using resolver::Answer;
using resolver::Resolver;
using resolver::ResolverOptions;
using resolver::RrType;
using resolver::Status;
using testing_support::run_until;
using testing_support::TestNameServer;

namespace {

using Clock = std::chrono::steady_clock;

std::string zone_file() {
    return std::string(TEST_DATA_DIR) + "/zones/hostile.testns";
}

// libunbound's default rotates every RRset it hands out (rrset-roundrobin),
// so "the first N records" differ from one lookup to the next; this config
// keeps the server's order, for the cases that assert which N are kept.
const char* const kWireOrder = "    rrset-roundrobin: no\n";

ResolverOptions forward_to(const std::string& forwarder, std::chrono::milliseconds timeout,
                           std::size_t max_records = ResolverOptions{}.max_records,
                           const std::string& unbound_extra = "") {
    ResolverOptions options = testing_support::forward_to(forwarder, timeout, unbound_extra);
    options.max_records = max_records;
    return options;
}

// One resolver lookup, run to completion (or the limit), timed.
struct Timed {
    std::optional<Answer> answer;
    Clock::duration elapsed{};
};

Timed lookup(boost::asio::io_context& io, Resolver& resolver, const std::string& name, RrType type,
             std::chrono::milliseconds limit = 10s) {
    auto result = std::make_shared<Timed>();
    const auto started = Clock::now();
    resolver.lookup(name, type, [result, started](Answer answer) {
        result->elapsed = Clock::now() - started;
        result->answer = std::move(answer);
    });
    run_until(
        io, [&] { return result->answer.has_value(); }, limit);
    return *result;
}

// One assessment, run to completion (or the limit), timed.
struct Assessed {
    std::optional<Facts> facts;
    Clock::duration elapsed{};
};

Assessed assess(boost::asio::io_context& io, Resolver& resolver, std::string_view client,
                AssessmentOptions options = AssessmentOptions{},
                std::chrono::milliseconds limit = 10s) {
    Assessor assessor(io, resolver, std::move(options));
    auto result = std::make_shared<Assessed>();
    const auto started = Clock::now();
    assessor.assess(*policyd::parse_ip(client), "", [result, started](Facts facts) {
        result->elapsed = Clock::now() - started;
        result->facts = std::move(facts);
    });
    run_until(
        io, [&] { return result->facts.has_value(); }, limit);
    return *result;
}

std::vector<std::string> sorted(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    return names;
}

// "n01.hostile.test" .. "n30.hostile.test", in the order of the data file.
std::vector<std::string> thirty_names() {
    std::vector<std::string> names;
    for (int i = 1; i <= 30; ++i) {
        names.push_back((i < 10 ? "n0" : "n") + std::to_string(i) + ".hostile.test");
    }
    return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// names is a run of consecutive entries of whole, wrapping around its end.
bool is_cyclic_run_of(const std::vector<std::string>& names,
                      const std::vector<std::string>& whole) {
    const auto start =
        std::find(whole.begin(), whole.end(), names.empty() ? std::string() : names.front());
    if (start == whole.end() || names.size() > whole.size()) {
        return false;
    }
    const auto offset = static_cast<std::size_t>(start - whole.begin());
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] != whole[(offset + i) % whole.size()]) {
            return false;
        }
    }
    return true;
}

// One server for the cases that do not block it (case 5 sleeps and gets its
// own); each test case makes its own Resolver, so no libunbound cache is
// shared between cases.
TestNameServer& shared_server() {
    static TestNameServer server(zone_file());
    return server;
}

}  // namespace

TEST_CASE("hostile: truncated UDP answer is retried over TCP", "[hostile]") {
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(shared_server().forwarder(), 5000ms));
    const Timed t = lookup(io, resolver, "1.2.0.192.in-addr.arpa", RrType::ptr);
    INFO("ldns-testns output:\n" << shared_server().output());
    REQUIRE(t.answer);
    // The UDP entry has TC and no records: names can only come from TCP.
    CHECK(t.answer->status == Status::ok);
    CHECK(sorted(t.answer->names) ==
          std::vector<std::string>{"tc1.hostile.test", "tc2.hostile.test"});
    CHECK(t.answer->error.empty());
}

TEST_CASE("hostile: 30 PTR names are bounded by max_ptr_names", "[hostile]") {
    boost::asio::io_context io;
    const std::vector<std::string> all = thirty_names();

    SECTION("default config: the resolver keeps all 30, in the order served") {
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms));
        const Timed t = lookup(io, resolver, "2.2.0.192.in-addr.arpa", RrType::ptr);
        REQUIRE(t.answer);
        CHECK(t.answer->status == Status::ok);
        REQUIRE(t.answer->names.size() == 30);
        // The Resolver turns libunbound's rrset-roundrobin off: a rotated
        // order would make which names are checked change per lookup.
        CHECK(t.answer->names == all);
    }
    SECTION("default config: the Assessor keeps the first 10, the same on every lookup") {
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms));
        const Assessed a = assess(io, resolver, "192.0.2.2");
        REQUIRE(a.facts);
        const Facts& facts = *a.facts;
        INFO("kept from " << (facts.ptr_names.empty() ? "?" : facts.ptr_names.front()));
        REQUIRE(facts.ptr_names.size() == 10);
        CHECK(is_cyclic_run_of(facts.ptr_names, all));
        const bool confirming_kept = contains(facts.ptr_names, "n25.hostile.test");
        // Every other name resolves to 192.0.2.99: fail, never temperror.
        CHECK(facts.iprev == (confirming_kept ? Iprev::pass : Iprev::fail));
        CHECK(facts.verified_names == (confirming_kept
                                           ? std::vector<std::string>{"n25.hostile.test"}
                                           : std::vector<std::string>{}));
        CHECK(a.elapsed < 3s);
        CHECK(facts.ptr_names == std::vector<std::string>(all.begin(), all.begin() + 10));
        CHECK(facts.iprev == Iprev::fail);
        const Assessed again = assess(io, resolver, "192.0.2.2");
        REQUIRE(again.facts);
        CHECK(again.facts->ptr_names == facts.ptr_names);
    }
    SECTION("wire order: the first 10 are kept, the confirming 25th is not: fail") {
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms,
                                         ResolverOptions{}.max_records, kWireOrder));
        const Timed t = lookup(io, resolver, "2.2.0.192.in-addr.arpa", RrType::ptr);
        REQUIRE(t.answer);
        CHECK(t.answer->names == all);
        const Assessed a = assess(io, resolver, "192.0.2.2");
        REQUIRE(a.facts);
        CHECK(a.facts->ptr_names == std::vector<std::string>(all.begin(), all.begin() + 10));
        CHECK(a.facts->iprev == Iprev::fail);
        CHECK(a.facts->verified_names.empty());
    }
    SECTION("max_ptr_names = 30: the 25th name is checked and confirms") {
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms));
        AssessmentOptions options;
        options.max_ptr_names = 30;
        const Assessed a = assess(io, resolver, "192.0.2.2", options);
        REQUIRE(a.facts);
        CHECK(a.facts->ptr_names.size() == 30);
        CHECK(a.facts->iprev == Iprev::pass);
        CHECK(a.facts->verified_names == std::vector<std::string>{"n25.hostile.test"});
    }
}

TEST_CASE("hostile: a PTR name with 30 A records", "[hostile]") {
    boost::asio::io_context io;

    SECTION("default max_records (32): the client's address is among them: pass") {
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms));
        const Timed t = lookup(io, resolver, "many.hostile.test", RrType::a);
        REQUIRE(t.answer);
        CHECK(t.answer->status == Status::ok);
        CHECK(t.answer->addresses.size() == 30);
        const Assessed a = assess(io, resolver, "192.0.2.3");
        REQUIRE(a.facts);
        CHECK(a.facts->iprev == Iprev::pass);
        CHECK(a.facts->verified_names == std::vector<std::string>{"many.hostile.test"});
    }
    SECTION("max_records = 5, wire order, client last: the bound drops it: fail") {
        // The resolver keeps the first 5 addresses as sent; the client's is
        // the 30th, so the name does not confirm. The bound turns a host
        // that would pass into iprev fail (not temperror).
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms, 5, kWireOrder));
        const Timed t = lookup(io, resolver, "many.hostile.test", RrType::a);
        REQUIRE(t.answer);
        CHECK(t.answer->status == Status::ok);
        REQUIRE(t.answer->addresses.size() == 5);
        CHECK(t.answer->addresses.front().to_string() == "192.0.2.100");
        CHECK(t.answer->addresses.back().to_string() == "192.0.2.104");
        const Assessed a = assess(io, resolver, "192.0.2.3");
        REQUIRE(a.facts);
        CHECK(a.facts->ptr_names == std::vector<std::string>{"many.hostile.test"});
        CHECK(a.facts->iprev == Iprev::fail);
        CHECK(a.facts->verified_names.empty());
    }
    SECTION("max_records = 5, default config: 5 kept, iprev pass or fail, never more") {
        // Rotation decides whether the client's address is among the 5.
        Resolver resolver(io, forward_to(shared_server().forwarder(), 3000ms, 5));
        const Timed t = lookup(io, resolver, "many.hostile.test", RrType::a);
        REQUIRE(t.answer);
        CHECK(t.answer->addresses.size() == 5);
        const Assessed a = assess(io, resolver, "192.0.2.3");
        REQUIRE(a.facts);
        CHECK((a.facts->iprev == Iprev::pass || a.facts->iprev == Iprev::fail));
    }
}

TEST_CASE("hostile: CNAME chains and loops", "[hostile]") {
    boost::asio::io_context io;
    constexpr auto kTimeout = 3000ms;
    Resolver resolver(io, forward_to(shared_server().forwarder(), kTimeout));

    SECTION("a chain of 5 CNAMEs (one per answer) is followed") {
        const Timed t = lookup(io, resolver, "4.2.0.192.in-addr.arpa", RrType::ptr);
        REQUIRE(t.answer);
        CHECK(t.answer->status == Status::ok);
        CHECK(t.answer->names == std::vector<std::string>{"chain.hostile.test"});
        CHECK(t.answer->canonical_name == "c5.hostile.test");
        const Assessed a = assess(io, resolver, "192.0.2.4");
        REQUIRE(a.facts);
        CHECK(a.facts->iprev == Iprev::pass);
    }
    struct Loop {
        const char* label;
        const char* client;
        const char* reverse;
    };
    const std::vector<Loop> loops = {
        {"loop across answers (a -> b, then b -> a)", "192.0.2.5", "5.2.0.192.in-addr.arpa"},
        {"loop inside one answer", "192.0.2.6", "6.2.0.192.in-addr.arpa"},
    };
    for (const auto& loop : loops) {
        DYNAMIC_SECTION(loop.label << ": never ok, ends within the deadline") {
            const Timed t = lookup(io, resolver, loop.reverse, RrType::ptr);
            REQUIRE(t.answer);
            INFO("status " << resolver::to_string(t.answer->status) << ", error '"
                           << t.answer->error << "', rcode " << t.answer->rcode);
            CHECK(t.answer->status != Status::ok);
            CHECK(t.answer->names.empty());
            // libunbound detects the loop (SERVFAIL), it does not wait for
            // the deadline.
            CHECK(t.answer->error != "timeout");
            CHECK(t.elapsed <= kTimeout + 500ms);
            const Assessed a = assess(io, resolver, loop.client);
            REQUIRE(a.facts);
            CHECK(a.facts->iprev != Iprev::pass);
            CHECK(a.facts->ptr_names.empty());
            CHECK(a.elapsed <= kTimeout + 500ms);
        }
    }
}

TEST_CASE("hostile: a server that answers after 2 seconds", "[hostile]") {
    struct Case {
        const char* label;
        std::chrono::milliseconds timeout;
        std::string unbound_extra;
        Status status;
        std::string error;
    };
    // libunbound retransmits after its first RTT estimate for an unknown
    // server (376 ms) on a new socket and ID, dropping the reply to the
    // earlier query; ldns-testns serves the retransmits one by one, each
    // after 2 s. With a minimum RTT above the server's delay the first
    // reply is taken.
    const std::string patient = "    infra-cache-min-rtt: 3000\n";
    const std::vector<Case> cases = {
        {"lookup timeout 1000 ms: temperror timeout", 1000ms, "", Status::temperror, "timeout"},
        {"lookup timeout 4000 ms, min RTT 3000 ms: ok", 4000ms, patient, Status::ok, ""},
        {"lookup timeout 4000 ms, default RTT: temperror timeout", 4000ms, "", Status::temperror,
         "timeout"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.label) {
            // Its own server: the sleeping one serves nothing else meanwhile.
            TestNameServer server(zone_file());
            boost::asio::io_context io;
            Resolver resolver(io, forward_to(server.forwarder(), c.timeout,
                                             ResolverOptions{}.max_records, c.unbound_extra));
            const Timed t = lookup(io, resolver, "7.2.0.192.in-addr.arpa", RrType::ptr);
            INFO("ldns-testns output:\n" << server.output());
            REQUIRE(t.answer);
            INFO("error '" << t.answer->error << "'");
            CHECK(t.answer->status == c.status);
            CHECK(t.answer->error == c.error);
            CHECK(t.elapsed <= c.timeout + 300ms);
            if (c.status == Status::ok) {
                CHECK(t.elapsed >= 1900ms);  // the server's sleep, not a cache
                CHECK(t.answer->names == std::vector<std::string>{"slow.hostile.test"});
            } else {
                CHECK(t.elapsed >= c.timeout);
            }
        }
    }
}
