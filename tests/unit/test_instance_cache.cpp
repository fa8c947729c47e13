// InstanceCache: per-message facts, bounded in count and time.
#include <catch2/catch.hpp>

#include "policyd/instance_cache.hpp"

using namespace policyd;
using namespace std::chrono_literals;

namespace {
Facts facts_with(Iprev iprev) {
    Facts facts;
    facts.iprev = iprev;
    return facts;
}
const InstanceCache::Clock::time_point t0{};
}  // namespace

TEST_CASE("facts are remembered per message", "[instance]") {
    InstanceCache cache(100, 60s);
    CHECK(cache.find("A.1", "192.0.2.1", "mx.example", t0) == nullptr);
    cache.insert("A.1", "192.0.2.1", "mx.example", facts_with(Iprev::fail), t0);
    const Facts* hit = cache.find("A.1", "192.0.2.1", "mx.example", t0 + 59s);
    REQUIRE(hit != nullptr);
    CHECK(hit->iprev == Iprev::fail);

    SECTION("another client or HELO never borrows them") {
        CHECK(cache.find("A.1", "192.0.2.2", "mx.example", t0) == nullptr);
        CHECK(cache.find("A.1", "192.0.2.1", "other.example", t0) == nullptr);
    }
    SECTION("they expire after the ttl") {
        CHECK(cache.find("A.1", "192.0.2.1", "mx.example", t0 + 60s) == nullptr);
        CHECK(cache.size() == 0);
    }
    SECTION("a new insert replaces them") {
        cache.insert("A.1", "192.0.2.1", "mx.example", facts_with(Iprev::pass), t0 + 1s);
        CHECK(cache.size() == 1);
        CHECK(cache.find("A.1", "192.0.2.1", "mx.example", t0 + 2s)->iprev == Iprev::pass);
    }
}

TEST_CASE("the least recently used message goes first", "[instance]") {
    InstanceCache cache(2, 60s);
    cache.insert("one", "c", "h", facts_with(Iprev::pass), t0);
    cache.insert("two", "c", "h", facts_with(Iprev::pass), t0);
    CHECK(cache.find("one", "c", "h", t0) != nullptr);  // "two" is now the oldest
    cache.insert("three", "c", "h", facts_with(Iprev::pass), t0);
    CHECK(cache.size() == 2);
    CHECK(cache.find("two", "c", "h", t0) == nullptr);
    CHECK(cache.find("one", "c", "h", t0) != nullptr);
    CHECK(cache.find("three", "c", "h", t0) != nullptr);
}

TEST_CASE("a zero-sized cache and an empty instance remember nothing", "[instance]") {
    InstanceCache off(0, 60s);
    off.insert("A", "c", "h", facts_with(Iprev::pass), t0);
    CHECK(off.find("A", "c", "h", t0) == nullptr);
    InstanceCache on(10, 60s);
    on.insert("", "c", "h", facts_with(Iprev::pass), t0);
    CHECK(on.size() == 0);
}
