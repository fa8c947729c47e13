// Integration tests of resolver::Resolver against real DNS servers on loopback
// (ldns-testns with zones/resolver.testns, and a UDP socket that never
// answers). The io_context is driven in loops bounded in time; nothing waits
// by sleeping.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dns_server.hpp"
#include "resolver/resolver.hpp"

using namespace std::chrono_literals;
using resolver::Answer;
using resolver::Resolver;
using resolver::ResolverOptions;
using resolver::RrType;
using resolver::Status;
using testing_support::forward_to;
using testing_support::run_until;
using testing_support::SilentUdpServer;
using testing_support::TestNameServer;

namespace {

std::string zone_file() {
    return std::string(TEST_DATA_DIR) + "/zones/resolver.testns";
}

// Runs whatever is ready or becomes ready within `limit` (to catch a second
// invocation of a handler).
void run_for(boost::asio::io_context& io, std::chrono::milliseconds limit) {
    io.restart();
    io.run_for(limit);
}

struct Outcome {
    int calls = 0;
    Answer answer;
};

// One lookup; the handler records how often it ran and checks it did not run
// inside lookup().
std::shared_ptr<Outcome> start(Resolver& resolver, const std::string& name, RrType type) {
    auto outcome = std::make_shared<Outcome>();
    auto returned = std::make_shared<bool>(false);
    resolver.lookup(name, type, [outcome, returned](Answer answer) {
        CHECK(*returned);  // Never completes synchronously.
        ++outcome->calls;
        outcome->answer = std::move(answer);
    });
    *returned = true;
    return outcome;
}

std::vector<std::string> addresses_of(const Answer& answer) {
    std::vector<std::string> out;
    for (const auto& address : answer.addresses) {
        out.push_back(address.to_string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("resolver maps real DNS answers", "[resolver]") {
    struct Case {
        const char* label;
        std::string name;
        RrType type;
        Status status;
        std::vector<std::string> names;
        std::vector<std::string> addresses;
        std::string canonical;
        int rcode;
        std::string error;
    };
    const std::string v6_reverse =
        "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
    const std::vector<Case> cases = {
        {"PTR: names lower-cased, trailing dot dropped",
         "10.2.0.192.in-addr.arpa",
         RrType::ptr,
         Status::ok,
         {"host.example.test", "mail.example.test"},
         {},
         "10.2.0.192.in-addr.arpa",
         0,
         ""},
        {"PTR: query name with final dot and upper case",
         "10.2.0.192.IN-ADDR.ARPA.",
         RrType::ptr,
         Status::ok,
         {"host.example.test", "mail.example.test"},
         {},
         "10.2.0.192.in-addr.arpa",
         0,
         ""},
        {"PTR: targets that are no host names ('.' in a label, \"x);iprev=pass\", '*') are "
         "skipped",
         "11.2.0.192.in-addr.arpa",
         RrType::ptr,
         Status::ok,
         {"good.example.test"},
         {},
         "11.2.0.192.in-addr.arpa",
         0,
         ""},
        {"PTR through an RFC 2317 CNAME",
         "5.2.0.192.in-addr.arpa",
         RrType::ptr,
         Status::ok,
         {"host5.example.test"},
         {},
         "5.0-25.2.0.192.in-addr.arpa",
         0,
         ""},
        {"PTR of an IPv6 address (ip6.arpa nibbles)",
         v6_reverse,
         RrType::ptr,
         Status::ok,
         {"host6.example.test"},
         {},
         v6_reverse,
         0,
         ""},
        {"A",
         "host.example.test",
         RrType::a,
         Status::ok,
         {},
         {"192.0.2.10", "192.0.2.11"},
         "host.example.test",
         0,
         ""},
        {"AAAA",
         "host.example.test",
         RrType::aaaa,
         Status::ok,
         {},
         {"2001:db8::10"},
         "host.example.test",
         0,
         ""},
        {"NXDOMAIN",
         "missing.example.test",
         RrType::a,
         Status::nxdomain,
         {},
         {},
         "missing.example.test",
         3,
         ""},
        {"NODATA",
         "v4only.example.test",
         RrType::aaaa,
         Status::nodata,
         {},
         {},
         "v4only.example.test",
         0,
         ""},
        {"SERVFAIL is a temperror",
         "broken.example.test",
         RrType::a,
         Status::temperror,
         {},
         {},
         "broken.example.test",
         2,
         "SERVFAIL"},
        // libunbound turns an upstream REFUSED into SERVFAIL itself.
        {"REFUSED is a temperror",
         "refused.example.test",
         RrType::a,
         Status::temperror,
         {},
         {},
         "refused.example.test",
         2,
         "SERVFAIL"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.label) {
            TestNameServer server(zone_file());
            boost::asio::io_context io;
            Resolver resolver(io, forward_to(server.forwarder()));
            auto outcome = start(resolver, c.name, c.type);
            CHECK(resolver.in_flight() == 1);
            INFO("ldns-testns output:\n" << server.output());
            REQUIRE(run_until(
                io, [&] { return outcome->calls > 0; }, 10s));
            run_for(io, 50ms);
            CHECK(outcome->calls == 1);
            CHECK(resolver.in_flight() == 0);
            const Answer& a = outcome->answer;
            CHECK(resolver::to_string(a.status) == resolver::to_string(c.status));
            CHECK(a.error == c.error);
            CHECK(a.rcode == c.rcode);
            CHECK(sorted(a.names) == sorted(c.names));
            CHECK(addresses_of(a) == c.addresses);
            CHECK(a.canonical_name == c.canonical);
            CHECK_FALSE(a.secure);
            CHECK_FALSE(a.bogus);
            if (c.status == Status::ok) {
                CHECK(a.ttl > 0);
                CHECK(a.ttl <= 3600);
            }
            // The Resolver's lifetime is what the TTLs allow (Answer::lifetime).
            if (c.status == Status::ok) {
                CHECK(a.lifetime == a.ttl);
            } else if (c.status == Status::temperror) {
                CHECK(a.lifetime == 0);
            } else {
                CHECK(a.lifetime == (a.negative_ttl != 0 ? a.negative_ttl : a.ttl));
            }
        }
    }
}

TEST_CASE("resolver keeps at most max_records", "[resolver]") {
    TestNameServer server(zone_file());
    boost::asio::io_context io;
    auto options = forward_to(server.forwarder());
    options.max_records = 3;
    Resolver resolver(io, options);
    auto outcome = start(resolver, "12.2.0.192.in-addr.arpa", RrType::ptr);
    REQUIRE(run_until(
        io, [&] { return outcome->calls > 0; }, 10s));
    CHECK(outcome->answer.status == Status::ok);
    CHECK(outcome->answer.names.size() == 3);  // the server sent 6
}

TEST_CASE("resolver times out against a server that never answers", "[resolver]") {
    SilentUdpServer silent;
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(silent.forwarder(), 300ms));
    const auto started = std::chrono::steady_clock::now();
    auto outcome = start(resolver, "10.2.0.192.in-addr.arpa", RrType::ptr);
    REQUIRE(run_until(
        io, [&] { return outcome->calls > 0; }, 5s));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(elapsed >= 300ms);
    CHECK(elapsed < 3s);
    CHECK(outcome->answer.status == Status::temperror);
    CHECK(outcome->answer.error == "timeout");
    CHECK(resolver.in_flight() == 0);
    // libunbound keeps retrying in the background; nothing more may arrive.
    run_for(io, 700ms);
    CHECK(outcome->calls == 1);
}

TEST_CASE("resolver never completes inside lookup()", "[resolver]") {
    SilentUdpServer silent;
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(silent.forwarder()));
    struct Case {
        const char* label;
        std::string name;
        std::string error;
        bool shut_down_first;
    };
    const std::vector<Case> cases = {
        {"empty name", "", "invalid name", false},
        {"name too long", std::string(300, 'a'), "invalid name", false},
        {"name with NUL", std::string("a\0b.example.test", 16), "invalid name", false},
        {"after shutdown", "host.example.test", "shutdown", true},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.label) {
            if (c.shut_down_first) {
                resolver.shutdown();
            }
            auto outcome = start(resolver, c.name, RrType::a);
            CHECK(outcome->calls == 0);
            REQUIRE(run_until(
                io, [&] { return outcome->calls > 0; }, 2s));
            run_for(io, 20ms);
            CHECK(outcome->calls == 1);
            CHECK(outcome->answer.status == Status::temperror);
            CHECK(outcome->answer.error == c.error);
        }
    }
}

TEST_CASE("resolver shutdown answers outstanding lookups once", "[resolver]") {
    SilentUdpServer silent;
    boost::asio::io_context io;
    auto resolver = std::make_unique<Resolver>(io, forward_to(silent.forwarder(), 10s));
    std::vector<std::shared_ptr<Outcome>> outcomes;
    outcomes.reserve(20);
    for (int i = 0; i < 20; ++i) {
        outcomes.push_back(start(*resolver, "h" + std::to_string(i) + ".example.test", RrType::a));
    }
    // Give libunbound's thread time to send the queries, so that shutdown
    // cancels queries really in flight (the assertions hold either way).
    run_for(io, 50ms);
    REQUIRE(resolver->in_flight() == outcomes.size());

    SECTION("by shutdown()") {
        resolver->shutdown();
        resolver->shutdown();  // idempotent
        CHECK(resolver->in_flight() == 0);
    }
    SECTION("by the destructor") {
        resolver.reset();
    }

    const auto all_done = [&] {
        return std::all_of(outcomes.begin(), outcomes.end(),
                           [](const auto& o) { return o->calls > 0; });
    };
    REQUIRE(run_until(io, all_done, 2s));
    run_for(io, 100ms);
    for (const auto& o : outcomes) {
        CHECK(o->calls == 1);
        CHECK(o->answer.status == Status::temperror);
        CHECK(o->answer.error == "shutdown");
    }
}

TEST_CASE("resolver rejects bad options at start-up", "[resolver]") {
    boost::asio::io_context io;
    struct Case {
        std::string forwarder;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"not-an-ip", "forwarder \"not-an-ip\": not an IP address"},
        {"192.0.2.1@", "forwarder \"192.0.2.1@\": bad port"},
        {"192.0.2.1@53x", "forwarder \"192.0.2.1@53x\": bad port"},
        {"192.0.2.1@0", "forwarder \"192.0.2.1@0\": port out of range"},
        {"192.0.2.1@65536", "forwarder \"192.0.2.1@65536\": port out of range"},
        {"192.0.2.1:53", "forwarder \"192.0.2.1:53\": not an IP address"},
        {"", "forwarder \"\": not an IP address"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION("forwarder '" << c.forwarder << "'") {
            auto options = forward_to(c.forwarder);
            CHECK_THROWS_WITH(Resolver(io, options), Catch::Contains(c.message));
        }
    }
    SECTION("forward without forwarders") {
        ResolverOptions options;
        options.upstream = ResolverOptions::Upstream::forward;
        CHECK_THROWS_WITH(Resolver(io, options), Catch::Contains("at least one forwarder"));
    }
    SECTION("missing unbound config file") {
        ResolverOptions options;
        options.upstream = ResolverOptions::Upstream::recursive;
        options.unbound_config = "/nonexistent/unbound.conf";
        CHECK_THROWS_WITH(Resolver(io, options),
                          Catch::Contains("unbound config /nonexistent/unbound.conf"));
    }
    SECTION("good IPv4 and IPv6 forwarders are accepted") {
        ResolverOptions options;
        options.upstream = ResolverOptions::Upstream::forward;
        options.forwarders = {"192.0.2.1", "192.0.2.1@5353", "2001:db8::1", "2001:db8::1@53"};
        CHECK_NOTHROW(Resolver(io, options));
    }
}

TEST_CASE("resolver completes many concurrent lookups", "[resolver]") {
    // A datafile with one A record per name, so that libunbound cannot
    // coalesce the lookups into a few queries.
    constexpr int kCount = 200;
    const auto datafile = std::filesystem::temp_directory_path() /
                          ("rdns-itest-many-" + std::to_string(getpid()) + ".testns");
    {
        std::ofstream out(datafile);
        for (int i = 0; i < kCount; ++i) {
            const std::string name = "h" + std::to_string(i) + ".example.test.";
            out << "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\n"
                << "REPLY QR AA RD RA NOERROR\nSECTION QUESTION\n"
                << name << " IN A\nSECTION ANSWER\n"
                << name << " 300 IN A 192.0.2." << i << "\nENTRY_END\n";
        }
    }
    struct Remove {
        std::filesystem::path path;
        ~Remove() { std::filesystem::remove(path); }
    } remove{datafile};
    TestNameServer server(datafile.string());
    boost::asio::io_context io;

    SECTION("all answered") {
        Resolver resolver(io, forward_to(server.forwarder(), 20s));
        std::vector<std::shared_ptr<Outcome>> outcomes;
        outcomes.reserve(kCount);
        for (int i = 0; i < kCount; ++i) {
            outcomes.push_back(
                start(resolver, "h" + std::to_string(i) + ".example.test", RrType::a));
        }
        CHECK(resolver.in_flight() == kCount);
        const auto all_done = [&] {
            return std::all_of(outcomes.begin(), outcomes.end(),
                               [](const auto& o) { return o->calls > 0; });
        };
        REQUIRE(run_until(io, all_done, 30s));
        run_for(io, 50ms);
        CHECK(resolver.in_flight() == 0);
        for (int i = 0; i < kCount; ++i) {
            const auto& o = *outcomes[static_cast<std::size_t>(i)];
            INFO("lookup " << i << ": " << o.answer.error);
            CHECK(o.calls == 1);
            CHECK(o.answer.status == Status::ok);
            CHECK(addresses_of(o.answer) ==
                  std::vector<std::string>{"192.0.2." + std::to_string(i)});
        }
    }

    SECTION("answers, timeouts and shutdown mixed") {
        // Names the server does not know get no reply and time out, while
        // the rest are answered; then shutdown cancels what libunbound still
        // retries. Each handler must run exactly once (and ASan/valgrind
        // builds see every Pending freed once).
        Resolver resolver(io, forward_to(server.forwarder(), 400ms));
        std::vector<std::shared_ptr<Outcome>> known;
        std::vector<std::shared_ptr<Outcome>> unknown;
        for (int i = 0; i < kCount / 2; ++i) {
            known.push_back(start(resolver, "h" + std::to_string(i) + ".example.test", RrType::a));
            unknown.push_back(
                start(resolver, "nx" + std::to_string(i) + ".example.test", RrType::a));
        }
        const auto all_done = [&] {
            const auto done = [](const auto& o) { return o->calls > 0; };
            return std::all_of(known.begin(), known.end(), done) &&
                   std::all_of(unknown.begin(), unknown.end(), done);
        };
        REQUIRE(run_until(io, all_done, 10s));
        CHECK(resolver.in_flight() == 0);
        resolver.shutdown();
        run_for(io, 100ms);
        for (const auto& o : unknown) {
            CHECK(o->calls == 1);
            CHECK(o->answer.error == "timeout");
        }
        int answered = 0;
        for (const auto& o : known) {
            CHECK(o->calls == 1);
            // With one query served at a time a few may be slower than 400 ms.
            answered += o->answer.status == Status::ok ? 1 : 0;
        }
        CHECK(answered > 0);
    }
}
