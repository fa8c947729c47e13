// Integration tests of resolver::CachingLookup in front of the real Resolver
// (libunbound) forwarding to ldns-testns on loopback. The server runs with -v,
// which prints every query it receives: that log, not our own counters, proves
// how many queries reached the DNS server. libunbound caches and merges
// queries too; what is asserted is what reaches the server, plus how many
// lookups our layer handed to libunbound.
//
// A log read races the server's output pipe, so each count is taken after a
// fence: a query the test sends itself and waits to see in the log. The
// server answers one query at a time and prints each before the next, so
// every query it received earlier is in the log by then.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dns_server.hpp"
#include "resolver/caching_lookup.hpp"
#include "resolver/resolver.hpp"

using namespace std::chrono_literals;
using resolver::Answer;
using resolver::CacheOptions;
using resolver::CachingLookup;
using resolver::Clock;
using resolver::Lookup;
using resolver::Resolver;
using resolver::ResolverOptions;
using resolver::RrType;
using resolver::Status;

namespace {

constexpr auto kWait = 10s;  // every wait below is bounded by this

std::string data_file() {
    return std::string(TEST_DATA_DIR) + "/coalescing.testns";
}

// Sends a query for `name` A to the server from a socket of the test's own
// and waits until the server logged it: every query sent before it has been
// logged too (ldns-testns answers one query at a time).
void fence(const testing_support::TestNameServer& server, const std::string& name) {
    std::vector<unsigned char> query = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    std::size_t start = 0;
    const std::string dotted = name + ".";
    for (std::size_t dot = dotted.find('.'); dot != std::string::npos;
         start = dot + 1, dot = dotted.find('.', start)) {
        query.push_back(static_cast<unsigned char>(dot - start));
        query.insert(query.end(), dotted.begin() + static_cast<std::ptrdiff_t>(start),
                     dotted.begin() + static_cast<std::ptrdiff_t>(dot));
    }
    query.insert(query.end(), {0, 0, 1, 0, 1});  // root, type A, class IN
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server.port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // NOLINTNEXTLINE: the sockets API takes sockaddr_in as sockaddr.
    const auto sent = sendto(fd, query.data(), query.size(), 0,
                             reinterpret_cast<const sockaddr*>(&to), sizeof to);
    close(fd);
    REQUIRE(sent == static_cast<ssize_t>(query.size()));
    const bool seen = server.wait_output(
        [&](const std::string& log) { return log.find(dotted) != std::string::npos; }, kWait);
    INFO(server.output());
    REQUIRE(seen);
}

// The queries in an ldns-testns -v log, "name TYPE" -> count. Its lines read
// "query 3: id 4711: UDP 35 bytes: mx1.coalesce.test.\tIN\tA".
std::map<std::string, int> queries_in(const std::string& log) {
    std::map<std::string, int> out;
    std::istringstream lines(log);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("query ", 0) != 0) {
            continue;
        }
        const auto bytes = line.find(" bytes: ");
        if (bytes == std::string::npos) {
            continue;
        }
        std::istringstream fields(line.substr(bytes + 8));
        std::string name;
        std::string klass;
        std::string type;
        fields >> name >> klass >> type;
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        ++out[name + " " + type];
    }
    return out;
}

// Passes lookups through to the Resolver, counting them: what our layer
// handed to libunbound.
class CountingLookup final : public Lookup {
  public:
    explicit CountingLookup(Lookup& next) : next_(next) {}
    void lookup(std::string_view name, RrType type, Handler handler) override {
        ++calls;
        next_.lookup(name, type, std::move(handler));
    }
    int calls = 0;

  private:
    Lookup& next_;
};

ResolverOptions forward_to(const std::string& forwarder) {
    return testing_support::forward_to(forwarder);
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
    return testing_support::run_until(io, done, kWait);
}

const std::string kReverse = "77.2.0.192.in-addr.arpa";

// What a client check asks: the PTR, then A and AAAA of every PTR name.
struct Round {
    int ptr_answers = 0;
    int forward_answers = 0;
    int synchronous = 0;
    std::set<std::string> addresses;
    std::set<std::string> ptr_names;
    std::map<std::string, int> statuses;  // "name TYPE status" -> count

    void start(Lookup& lookup, int clients) {
        for (int i = 0; i < clients; ++i) {
            auto inside = std::make_shared<bool>(true);
            lookup.lookup(kReverse, RrType::ptr, [this, &lookup, inside](const Answer& ptr) {
                synchronous += *inside ? 1 : 0;
                ++ptr_answers;
                for (const auto& name : ptr.names) {
                    ptr_names.insert(name);
                    for (const RrType type : {RrType::a, RrType::aaaa}) {
                        lookup.lookup(name, type, [this, name, type](const Answer& answer) {
                            ++forward_answers;
                            ++statuses[name + (type == RrType::a ? " A " : " AAAA ") +
                                       std::string(resolver::to_string(answer.status))];
                            for (const auto& address : answer.addresses) {
                                addresses.insert(address.to_string());
                            }
                        });
                    }
                }
            });
            *inside = false;
        }
    }
};

}  // namespace

TEST_CASE("coalescing: 500 concurrent checks of one new client reach the server once",
          "[coalescing]") {
    testing_support::TestNameServer server(data_file(), true);
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(server.forwarder()));
    CountingLookup counting(resolver);
    CachingLookup lookup(io, counting, CacheOptions{});
    constexpr int clients = 500;

    Round first;
    first.start(lookup, clients);
    CHECK(first.ptr_answers == 0);
    const bool answered = run_until(
        io, [&] { return first.ptr_answers == clients && first.forward_answers == clients * 4; });
    fence(server, "fence1.coalesce.test");
    INFO("server log:\n" << server.output());
    REQUIRE(answered);
    CHECK(first.synchronous == 0);
    CHECK(first.ptr_names == std::set<std::string>{"mx1.coalesce.test", "mx2.coalesce.test"});
    CHECK(first.addresses == std::set<std::string>{"192.0.2.77", "192.0.2.78", "2001:db8::77"});
    const std::map<std::string, int> statuses = {
        {"mx1.coalesce.test A ok", clients},
        {"mx1.coalesce.test AAAA ok", clients},
        {"mx2.coalesce.test A ok", clients},
        {"mx2.coalesce.test AAAA nodata", clients},
    };
    CHECK(first.statuses == statuses);

    // Exactly one query per question reached the server, and nothing else.
    const std::map<std::string, int> expected = {
        {"77.2.0.192.in-addr.arpa. PTR", 1}, {"mx1.coalesce.test. A", 1},
        {"mx1.coalesce.test. AAAA", 1},      {"mx2.coalesce.test. A", 1},
        {"mx2.coalesce.test. AAAA", 1},      {"fence1.coalesce.test. A", 1},
    };
    CHECK(queries_in(server.output()) == expected);
    // And our layer asked libunbound once per question, too.
    CHECK(counting.calls == 5);
    CHECK(lookup.stats().upstream_lookups == 5);
    CHECK(lookup.stats().coalesced == std::uint64_t{5} * (clients - 1));

    // Second round, answers cached: nothing new reaches libunbound or the server.
    Round second;
    second.start(lookup, clients);
    CHECK(second.ptr_answers == 0);  // cache hits are not delivered synchronously either
    REQUIRE(run_until(io, [&] {
        return second.ptr_answers == clients && second.forward_answers == clients * 4;
    }));
    fence(server, "fence2.coalesce.test");
    CHECK(second.synchronous == 0);
    CHECK(second.statuses == statuses);
    auto after = expected;
    after["fence2.coalesce.test. A"] = 1;
    CHECK(queries_in(server.output()) == after);
    CHECK(counting.calls == 5);
    CHECK(lookup.stats().cache.hits == std::uint64_t{5} * clients);
}

TEST_CASE("coalescing: negative answers carry the SOA-derived TTL", "[coalescing]") {
    testing_support::TestNameServer server(data_file(), true);
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(server.forwarder()));
    struct Case {
        const char* name;
        RrType type;
        Status status;
        std::uint32_t negative_ttl;  // as served; libunbound may have counted down a second
    };
    const std::vector<Case> cases = {
        {"gone.coalesce.test", RrType::a, Status::nxdomain, 240},  // SOA MINIMUM < SOA TTL
        {"mx2.coalesce.test", RrType::aaaa, Status::nodata, 120},  // SOA TTL < SOA MINIMUM
        {"nosoa.coalesce.test", RrType::a, Status::nxdomain, 0},   // no SOA at all
        {"mx1.coalesce.test", RrType::a, Status::ok, 0},           // not negative
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            std::optional<Answer> got;
            resolver.lookup(c.name, c.type, [&got](Answer answer) { got = std::move(answer); });
            REQUIRE(run_until(io, [&] { return got.has_value(); }));
            CHECK(got->status == c.status);
            CHECK(got->negative_ttl <= c.negative_ttl);
            CHECK(got->negative_ttl + 1 >= c.negative_ttl);
            if (c.negative_ttl != 0) {
                CHECK(got->lifetime == got->negative_ttl);
            }
        }
    }
}

TEST_CASE("coalescing: a cached NXDOMAIN lives for its SOA-derived TTL", "[coalescing]") {
    testing_support::TestNameServer server(data_file(), true);
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(server.forwarder()));
    CountingLookup counting(resolver);
    Clock::time_point now = Clock::now();
    CachingLookup lookup(io, counting, CacheOptions{}, 1000, [&now] { return now; });
    const auto ask = [&] {
        std::optional<Answer> got;
        lookup.lookup("gone.coalesce.test", RrType::a, [&got](Answer a) { got = std::move(a); });
        REQUIRE(run_until(io, [&] { return got.has_value(); }));
        return *got;
    };
    const Answer first = ask();
    REQUIRE(first.status == Status::nxdomain);
    REQUIRE(first.negative_ttl > 0);
    // Stored for its SOA-derived TTL, which the cache reports as the lifetime.
    CHECK(first.lifetime == first.negative_ttl);
    const auto lifetime = std::chrono::seconds{first.lifetime};
    now += lifetime - 1s;
    CHECK(ask().status == Status::nxdomain);
    CHECK(counting.calls == 1);  // still cached
    now += 1s;
    CHECK(ask().status == Status::nxdomain);
    CHECK(counting.calls == 2);  // expired: asked again
}
