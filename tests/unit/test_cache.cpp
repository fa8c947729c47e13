// Unit tests of resolver::Cache: lifetimes, expiry at exact instants (time is
// injected, nothing sleeps), LRU order, keys, counters.
#include <malloc.h>

#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "resolver/cache.hpp"

using namespace std::chrono_literals;
using resolver::Answer;
using resolver::Cache;
using resolver::CacheOptions;
using resolver::Clock;
using resolver::RrType;
using resolver::Status;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1000h;

Answer make(Status status, std::uint32_t ttl, std::uint32_t negative_ttl = 0) {
    Answer answer;
    answer.status = status;
    answer.ttl = ttl;
    answer.negative_ttl = negative_ttl;
    return answer;
}

Answer ptr_answer(std::vector<std::string> names, std::uint32_t ttl = 3600) {
    Answer answer = make(Status::ok, ttl);
    answer.names = std::move(names);
    return answer;
}

}  // namespace

TEST_CASE("cache lifetime per status, clamped", "[cache]") {
    struct Case {
        const char* label;
        Answer answer;
        CacheOptions options;
        std::chrono::seconds expected;
    };
    const CacheOptions defaults;  // min 30, max 86400, negative max 900, temperror 5
    CacheOptions no_temperror;
    no_temperror.temperror_ttl = 0s;
    CacheOptions crossed;  // max_ttl below min_ttl: max_ttl wins
    crossed.min_ttl = 100s;
    crossed.max_ttl = 50s;
    const std::vector<Case> cases = {
        {"ok: within bounds", make(Status::ok, 3600), defaults, 3600s},
        {"ok: below min_ttl raised", make(Status::ok, 5), defaults, 30s},
        {"ok: ttl 0 raised to min_ttl", make(Status::ok, 0), defaults, 30s},
        {"ok: above max_ttl lowered", make(Status::ok, 604800), defaults, 86400s},
        {"ok: exactly min_ttl", make(Status::ok, 30), defaults, 30s},
        {"ok: exactly max_ttl", make(Status::ok, 86400), defaults, 86400s},
        {"ok: crossed bounds", make(Status::ok, 75), crossed, 50s},
        {"nxdomain: SOA-derived ttl", make(Status::nxdomain, 3600, 300), defaults, 300s},
        {"nxdomain: SOA-derived ttl capped", make(Status::nxdomain, 3600, 7200), defaults, 900s},
        {"nxdomain: no SOA, answer ttl", make(Status::nxdomain, 120, 0), defaults, 120s},
        {"nxdomain: no SOA, answer ttl capped", make(Status::nxdomain, 5000, 0), defaults, 900s},
        {"nxdomain: nothing, min_ttl", make(Status::nxdomain, 0, 0), defaults, 30s},
        {"nodata: SOA-derived ttl", make(Status::nodata, 0, 60), defaults, 60s},
        {"nodata: SOA-derived ttl capped", make(Status::nodata, 0, 901), defaults, 900s},
        {"nodata: nothing, min_ttl", make(Status::nodata, 0, 0), defaults, 30s},
        {"temperror: temperror_ttl", make(Status::temperror, 3600), defaults, 5s},
        {"temperror: 0 means not stored", make(Status::temperror, 3600), no_temperror, 0s},
    };
    for (const auto& c : cases) {
        SECTION(c.label) {
            Cache cache(c.options);
            CHECK(cache.lifetime(c.answer) == c.expected);
            cache.insert("a.example.test", RrType::a, c.answer, t0);
            if (c.expected == 0s) {
                CHECK(cache.stats().size == 0);
                CHECK_FALSE(cache.find("a.example.test", RrType::a, t0));
                continue;
            }
            // Live until the last instant of its lifetime, gone at it.
            const auto last = cache.find("a.example.test", RrType::a, t0 + c.expected - 1ns);
            REQUIRE(last);
            CHECK(last->status == c.answer.status);
            CHECK(last->lifetime == 1);
            // The TTLs come back as received; only the lifetime counts down.
            CHECK(last->ttl == c.answer.ttl);
            CHECK(last->negative_ttl == c.answer.negative_ttl);
            CHECK_FALSE(cache.find("a.example.test", RrType::a, t0 + c.expected));
        }
    }
}

TEST_CASE("cache expiry at exact boundaries and remaining lifetime", "[cache]") {
    Cache cache(CacheOptions{});
    cache.insert("host.example.test", RrType::a, make(Status::ok, 60), t0);
    struct Probe {
        Clock::duration at;
        bool live;
        std::uint32_t lifetime;
    };
    // Remaining lifetime is rounded up so a live entry never reports 0.
    const std::vector<Probe> probes = {
        {0s, true, 60}, {1ns, true, 60},    {500ms, true, 60},    {1s, true, 59},
        {59s, true, 1}, {59999ms, true, 1}, {60s - 1ns, true, 1}, {60s, false, 0},
    };
    for (const auto& probe : probes) {
        const auto found = cache.find("host.example.test", RrType::a, t0 + probe.at);
        INFO("at +" << std::chrono::duration_cast<std::chrono::nanoseconds>(probe.at).count()
                    << "ns");
        REQUIRE(found.has_value() == probe.live);
        if (found) {
            CHECK(found->lifetime == probe.lifetime);
            CHECK(found->ttl == 60);
        }
    }
    // The expired entry was dropped on sight, and later finds do not resurrect it.
    CHECK(cache.stats().expired == 1);
    CHECK(cache.stats().size == 0);
    CHECK_FALSE(cache.find("host.example.test", RrType::a, t0));
    CHECK(cache.stats().expired == 1);
}

TEST_CASE("a cached negative answer keeps its TTLs; its lifetime counts down", "[cache]") {
    Cache cache(CacheOptions{});
    cache.insert("gone.example.test", RrType::a, make(Status::nxdomain, 3600, 300), t0);
    const auto found = cache.find("gone.example.test", RrType::a, t0 + 100s);
    REQUIRE(found);
    CHECK(found->status == Status::nxdomain);
    CHECK(found->ttl == 3600);
    CHECK(found->negative_ttl == 300);
    CHECK(found->lifetime == 200);
}

TEST_CASE("cache evicts the least recently used entry", "[cache]") {
    CacheOptions options;
    options.max_entries = 3;
    Cache cache(options);
    const auto has = [&](const char* name) { return cache.find(name, RrType::a, t0).has_value(); };
    cache.insert("a", RrType::a, make(Status::ok, 60), t0);
    cache.insert("b", RrType::a, make(Status::ok, 60), t0);
    cache.insert("c", RrType::a, make(Status::ok, 60), t0);
    REQUIRE(cache.stats().size == 3);

    SECTION("a find makes an entry recent") {
        REQUIRE(has("a"));                                       // order now (recent first): a c b
        cache.insert("d", RrType::a, make(Status::ok, 60), t0);  // evicts b
        CHECK(cache.stats().evictions == 1);
        CHECK(cache.stats().size == 3);
        cache.insert("e", RrType::a, make(Status::ok, 60), t0);  // evicts c
        CHECK(cache.stats().evictions == 2);
        CHECK_FALSE(has("b"));
        CHECK_FALSE(has("c"));
        CHECK(has("a"));
        CHECK(has("d"));
        CHECK(has("e"));
    }
    SECTION("a re-insert makes an entry recent, without evicting") {
        cache.insert("a", RrType::a, make(Status::ok, 60), t0);  // order: a c b
        CHECK(cache.stats().evictions == 0);
        CHECK(cache.stats().size == 3);
        cache.insert("d", RrType::a, make(Status::ok, 60), t0);  // evicts b
        CHECK_FALSE(has("b"));
        CHECK(has("a"));
        CHECK(has("c"));
    }
    SECTION("without any use, insertion order") {
        cache.insert("d", RrType::a, make(Status::ok, 60), t0);
        CHECK_FALSE(has("a"));
        CHECK(has("b"));
    }
    SECTION("a miss does not change the order") {
        CHECK_FALSE(has("zzz"));
        cache.insert("d", RrType::a, make(Status::ok, 60), t0);
        CHECK_FALSE(has("a"));
    }
}

TEST_CASE("cache re-insert replaces the answer and refreshes the lifetime", "[cache]") {
    Cache cache(CacheOptions{});
    cache.insert("x.example.test", RrType::ptr, ptr_answer({"old.example.test"}, 60), t0);
    cache.insert("x.example.test", RrType::ptr, ptr_answer({"new.example.test"}, 60), t0 + 50s);
    CHECK(cache.stats().size == 1);
    CHECK(cache.stats().inserts == 2);
    const auto later = cache.find("x.example.test", RrType::ptr, t0 + 100s);
    REQUIRE(later);
    CHECK(later->names == std::vector<std::string>{"new.example.test"});
    CHECK(later->lifetime == 10);
    CHECK_FALSE(cache.find("x.example.test", RrType::ptr, t0 + 110s));
}

TEST_CASE("cache keys ignore case and one trailing dot, not the type", "[cache]") {
    struct Case {
        const char* stored;
        const char* asked;
        RrType asked_type;
        bool hit;
    };
    const std::vector<Case> cases = {
        {"Mail.Example.TEST", "mail.example.test", RrType::a, true},
        {"mail.example.test", "MAIL.EXAMPLE.TEST", RrType::a, true},
        {"mail.example.test.", "mail.example.test", RrType::a, true},
        {"mail.example.test", "Mail.Example.Test.", RrType::a, true},
        {"mail.example.test", "mail.example.test", RrType::aaaa, false},
        {"mail.example.test", "mail.example.tes", RrType::a, false},
        {"mail.example.test", "mail.example.test..", RrType::a, false},
    };
    for (const auto& c : cases) {
        SECTION(std::string(c.stored) + " / " + c.asked) {
            Cache cache(CacheOptions{});
            cache.insert(c.stored, RrType::a, make(Status::ok, 60), t0);
            CHECK(cache.find(c.asked, c.asked_type, t0).has_value() == c.hit);
        }
    }
}

TEST_CASE("cache refuses names it cannot key", "[cache]") {
    Cache cache(CacheOptions{});
    const std::string longest(253, 'a');
    const std::string too_long(254, 'a');
    cache.insert("", RrType::a, make(Status::ok, 60), t0);
    cache.insert(".", RrType::a, make(Status::ok, 60), t0);
    cache.insert(too_long, RrType::a, make(Status::ok, 60), t0);
    CHECK(cache.stats().size == 0);
    CHECK(cache.stats().inserts == 0);
    CHECK_FALSE(cache.find(too_long, RrType::a, t0));
    cache.insert(longest + ".", RrType::a, make(Status::ok, 60), t0);  // 253 + dot is fine
    CHECK(cache.find(longest, RrType::a, t0).has_value());
}

TEST_CASE("cache keeps the canonical name whether or not it is the key", "[cache]") {
    struct Case {
        const char* label;
        const char* key;
        const char* canonical;
        const char* expected;
    };
    const std::vector<Case> cases = {
        {"same as the key", "host.example.test", "host.example.test", "host.example.test"},
        {"same as the key asked in upper case", "HOST.example.test", "host.example.test",
         "host.example.test"},
        {"a CNAME target", "5.2.0.192.in-addr.arpa", "5.0-25.2.0.192.in-addr.arpa",
         "5.0-25.2.0.192.in-addr.arpa"},
        {"none", "host.example.test", "", ""},
    };
    for (const auto& c : cases) {
        SECTION(c.label) {
            Cache cache(CacheOptions{});
            Answer answer = make(Status::ok, 60);
            answer.canonical_name = c.canonical;
            answer.addresses = {boost::asio::ip::make_address("192.0.2.1")};
            answer.secure = true;
            cache.insert(c.key, RrType::a, answer, t0);
            const auto found = cache.find(c.key, RrType::a, t0);
            REQUIRE(found);
            CHECK(found->canonical_name == c.expected);
            CHECK(found->addresses == answer.addresses);
            CHECK(found->secure);
        }
    }
}

TEST_CASE("cache returns every field of the answer it stored", "[cache]") {
    const auto v4 = boost::asio::ip::make_address("192.0.2.1");
    const auto v6 = boost::asio::ip::make_address("2001:db8::1");
    struct Case {
        const char* label;
        Answer answer;
    };
    Answer many = ptr_answer({"a.example.test", "b.example.test", std::string(253, 'c')});
    many.canonical_name = "other.example.test";
    many.rcode = 0;
    many.secure = true;
    Answer mixed = make(Status::ok, 60);
    mixed.addresses = {v4, v6, v4};
    mixed.bogus = true;
    Answer failed = make(Status::temperror, 0);
    failed.rcode = 2;
    failed.error = "SERVFAIL";
    Answer negative = make(Status::nodata, 0, 100);
    negative.canonical_name = "k.example.test";
    const std::vector<Case> cases = {
        {"PTR names, a CNAME target, secure", many},
        {"v4 and v6 addresses in order, bogus", mixed},
        {"temperror with rcode and error text", failed},
        {"nodata with negative ttl", negative},
        {"empty answer", make(Status::nxdomain, 0)},
    };
    for (const auto& c : cases) {
        SECTION(c.label) {
            Cache cache(CacheOptions{});
            cache.insert("k.example.test", RrType::ptr, c.answer, t0);
            auto found = cache.find("k.example.test", RrType::ptr, t0);
            REQUIRE(found);
            // The lifetime is the cache's; everything else as stored.
            CHECK(found->lifetime == cache.lifetime(c.answer).count());
            CHECK(found->ttl == c.answer.ttl);
            CHECK(found->negative_ttl == c.answer.negative_ttl);
            CHECK(found->status == c.answer.status);
            CHECK(found->rcode == c.answer.rcode);
            CHECK(found->canonical_name == c.answer.canonical_name);
            CHECK(found->names == c.answer.names);
            CHECK(found->addresses == c.answer.addresses);
            CHECK(found->error == c.answer.error);
            CHECK(found->secure == c.answer.secure);
            CHECK(found->bogus == c.answer.bogus);
        }
    }
}

TEST_CASE("cache does not store an answer it cannot keep unaltered", "[cache]") {
    struct Case {
        const char* label;
        Answer answer;
    };
    Answer long_target = ptr_answer({std::string(256, 'x')});
    Answer scoped = make(Status::ok, 60);
    scoped.addresses = {boost::asio::ip::make_address("fe80::1%1")};
    Answer too_many = make(Status::ok, 60);
    too_many.addresses.assign(256, boost::asio::ip::make_address("192.0.2.1"));
    Answer long_error = make(Status::temperror, 0);
    long_error.error = std::string(256, 'e');
    Answer odd_rcode = make(Status::temperror, 0);
    odd_rcode.rcode = -1;
    const std::vector<Case> cases = {
        {"a PTR target over 255 bytes", long_target},
        {"an IPv6 scope id", scoped},
        {"more than 255 addresses", too_many},
        {"an error text over 255 bytes", long_error},
        {"a negative rcode", odd_rcode},
    };
    for (const auto& c : cases) {
        SECTION(c.label) {
            Cache cache(CacheOptions{});
            cache.insert("k.example.test", RrType::a, make(Status::ok, 60), t0);
            cache.insert("k.example.test", RrType::a, c.answer, t0 + 1s);
            // Neither the new answer nor the one it should have replaced.
            CHECK_FALSE(cache.find("k.example.test", RrType::a, t0 + 1s));
            CHECK(cache.stats().size == 0);
        }
    }
}

TEST_CASE("cache counters", "[cache]") {
    CacheOptions options;
    options.max_entries = 2;
    Cache cache(options);
    cache.find("a", RrType::a, t0);                                // miss
    cache.insert("a", RrType::a, make(Status::ok, 60), t0);        // insert
    cache.find("a", RrType::a, t0 + 1s);                           // hit
    cache.find("A.", RrType::a, t0 + 2s);                          // hit
    cache.insert("b", RrType::a, make(Status::nxdomain, 0), t0);   // insert (30 s)
    cache.insert("c", RrType::a, make(Status::ok, 60), t0);        // insert, evicts a
    cache.find("b", RrType::a, t0 + 30s);                          // miss, expired
    cache.insert("t", RrType::a, make(Status::temperror, 0), t0);  // insert (5 s)
    const auto& stats = cache.stats();
    CHECK(stats.hits == 2);
    CHECK(stats.misses == 2);
    CHECK(stats.inserts == 4);
    CHECK(stats.evictions == 1);
    CHECK(stats.expired == 1);
    CHECK(stats.size == 2);
}

TEST_CASE("cache with max_entries 0 stores nothing", "[cache]") {
    CacheOptions options;
    options.max_entries = 0;
    Cache cache(options);
    cache.insert("a", RrType::a, make(Status::ok, 60), t0);
    CHECK(cache.stats().size == 0);
    CHECK_FALSE(cache.find("a", RrType::a, t0));
}

// Hidden ([.]): run with `unit_tests "[.memory]" -s` to re-measure the numbers
// in cache.hpp. Asserts only the bound, not a figure.
TEST_CASE("cache memory per entry", "[.memory]") {
    constexpr std::size_t n = 1000000;
    struct Shape {
        const char* label;
        RrType type;
        Answer answer;
    };
    Answer ptr = ptr_answer({"mail-relay.example.test"});
    Answer a = make(Status::ok, 3600);
    a.addresses = {boost::asio::ip::make_address("192.0.2.1")};
    const std::vector<Shape> shapes = {
        {"IPv4 PTR, one 23-char name", RrType::ptr, ptr},
        {"A, one address", RrType::a, a},
        {"NXDOMAIN", RrType::ptr, make(Status::nxdomain, 300, 300)},
    };
    for (const auto& shape : shapes) {
        CacheOptions options;
        options.max_entries = n;
        const auto before = mallinfo2().uordblks;
        {
            Cache cache(options);
            for (std::size_t i = 0; i < n; ++i) {
                const std::string name = std::to_string(i % 256) + "." +
                                         std::to_string(i / 256 % 256) + "." +
                                         std::to_string(i / 65536) + ".192.in-addr.arpa";
                Answer answer = shape.answer;
                answer.canonical_name = name;
                cache.insert(name, shape.type, answer, t0);
            }
            const auto used = mallinfo2().uordblks - before;
            std::printf("%s: %zu bytes/entry\n", shape.label, used / n);
            CHECK(used / n < 512);
        }
    }
}

TEST_CASE("record types and statuses have their DNS names", "[cache]") {
    CHECK(resolver::to_string(RrType::a) == "A");
    CHECK(resolver::to_string(RrType::aaaa) == "AAAA");
    CHECK(resolver::to_string(RrType::ptr) == "PTR");
    CHECK(resolver::to_string(Status::nxdomain) == "nxdomain");
}
