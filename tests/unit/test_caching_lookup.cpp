// Unit tests of resolver::CachingLookup over a fake upstream Lookup that
// records every call and answers only when the test says so (through the
// io_context, as the Lookup contract requires). Time is an injected clock.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "resolver/caching_lookup.hpp"

using namespace std::chrono_literals;
using resolver::Answer;
using resolver::CacheOptions;
using resolver::CachingLookup;
using resolver::Clock;
using resolver::Lookup;
using resolver::RrType;
using resolver::Status;

namespace {

class FakeUpstream final : public Lookup {
  public:
    struct Call {
        std::string name;
        RrType type;
        Handler handler;
    };

    explicit FakeUpstream(boost::asio::io_context& io) : io_(io) {}

    void lookup(std::string_view name, RrType type, Handler handler) override {
        calls.push_back({std::string(name), type, std::move(handler)});
    }

    // Answers call `index` through the loop.
    void answer(std::size_t index, Answer answer) {
        REQUIRE(index < calls.size());
        REQUIRE(calls[index].handler);
        boost::asio::post(io_, [h = std::move(calls[index].handler),
                                a = std::move(answer)]() mutable { h(std::move(a)); });
        calls[index].handler = nullptr;
    }

    std::vector<Call> calls;

  private:
    boost::asio::io_context& io_;
};

Answer ok_a(const char* address, std::uint32_t ttl) {
    Answer answer;
    answer.status = Status::ok;
    answer.ttl = ttl;
    answer.lifetime = ttl;  // as the Resolver sets it
    answer.addresses = {boost::asio::ip::make_address(address)};
    return answer;
}

Answer temperror(const char* why) {
    Answer answer;
    answer.status = Status::temperror;
    answer.error = why;
    return answer;
}

struct Fixture {
    boost::asio::io_context io;
    FakeUpstream upstream{io};
    Clock::time_point now = Clock::time_point{} + 1000h;
    std::function<Clock::time_point()> clock = [this] { return now; };
};

// Records the answers a batch of lookups receives and that none arrived
// while lookup() was still running.
struct Recorder {
    std::vector<Answer> answers;
    int synchronous = 0;
    bool inside = false;

    void start(Lookup& lookup, std::string_view name, RrType type) {
        inside = true;
        lookup.lookup(name, type, [this](Answer answer) {
            if (inside) {
                ++synchronous;
            }
            answers.push_back(std::move(answer));
        });
        inside = false;
    }
};

}  // namespace

TEST_CASE("caching lookup coalesces identical lookups into one upstream call", "[caching]") {
    Fixture f;
    CachingLookup cache(f.io, f.upstream, CacheOptions{}, 1000, f.clock);
    Recorder recorder;
    constexpr int n = 200;
    for (int i = 0; i < n; ++i) {
        // The key ignores case and a trailing dot.
        recorder.start(cache, i % 2 == 0 ? "Mail.Example.Test" : "mail.example.test.", RrType::a);
    }
    f.io.poll();
    REQUIRE(f.upstream.calls.size() == 1);
    CHECK(f.upstream.calls[0].name == "Mail.Example.Test");
    CHECK(recorder.answers.empty());
    CHECK(cache.stats().in_flight == 1);

    f.upstream.answer(0, ok_a("192.0.2.1", 3600));
    f.io.restart();
    f.io.poll();
    REQUIRE(recorder.answers.size() == n);
    CHECK(recorder.synchronous == 0);
    for (const auto& answer : recorder.answers) {
        CHECK(answer.status == Status::ok);
        CHECK(answer.addresses == std::vector{boost::asio::ip::make_address("192.0.2.1")});
    }
    const auto& stats = cache.stats();
    CHECK(stats.upstream_lookups == 1);
    CHECK(stats.coalesced == n - 1);
    CHECK(stats.in_flight == 0);
    CHECK(stats.cache.size == 1);
}

TEST_CASE("caching lookup keeps different keys apart", "[caching]") {
    Fixture f;
    CachingLookup cache(f.io, f.upstream, CacheOptions{}, 1000, f.clock);
    Recorder recorder;
    recorder.start(cache, "a.example.test", RrType::a);
    recorder.start(cache, "a.example.test", RrType::aaaa);
    recorder.start(cache, "b.example.test", RrType::a);
    recorder.start(cache, "a.example.test", RrType::a);
    CHECK(f.upstream.calls.size() == 3);
    CHECK(cache.stats().coalesced == 1);
}

TEST_CASE("caching lookup answers from the cache until the entry expires", "[caching]") {
    Fixture f;
    CacheOptions options;
    options.min_ttl = 10s;
    CachingLookup cache(f.io, f.upstream, options, 1000, f.clock);
    Recorder first;
    first.start(cache, "host.example.test", RrType::a);
    f.upstream.answer(0, ok_a("192.0.2.7", 60));
    f.io.poll();
    REQUIRE(first.answers.size() == 1);

    struct Probe {
        const char* label;
        std::chrono::seconds after;
        bool hit;
        std::uint32_t lifetime;
    };
    const std::vector<Probe> probes = {
        {"right after the answer", 0s, true, 60},
        {"half way", 30s, true, 30},
        {"last second", 59s, true, 1},
        {"at expiry", 60s, false, 0},
    };
    for (const auto& probe : probes) {
        SECTION(probe.label) {
            f.now += probe.after;
            Recorder again;
            again.start(cache, "host.example.test", RrType::a);
            CHECK(again.answers.empty());  // even a hit is not delivered inside lookup()
            f.io.restart();
            f.io.poll();
            if (probe.hit) {
                CHECK(f.upstream.calls.size() == 1);
                REQUIRE(again.answers.size() == 1);
                CHECK(again.answers[0].lifetime == probe.lifetime);
                CHECK(again.answers[0].ttl == 60);
                CHECK(again.answers[0].addresses.size() == 1);
                CHECK(cache.stats().cache.hits == 1);
            } else {
                CHECK(f.upstream.calls.size() == 2);
                CHECK(again.answers.empty());
                CHECK(cache.stats().cache.expired == 1);
            }
            CHECK(again.synchronous == 0);
        }
    }
}

TEST_CASE("a fresh answer carries the lifetime the cache gave it, as a hit does", "[caching]") {
    struct Row {
        const char* label;
        Answer upstream;
        std::size_t cache_size;
        std::uint32_t lifetime;  // delivered
    };
    Answer nxdomain;
    nxdomain.status = Status::nxdomain;
    nxdomain.ttl = 3600;
    nxdomain.negative_ttl = 3600;
    Answer nodata_no_soa;
    nodata_no_soa.status = Status::nodata;
    const std::vector<Row> rows = {
        {"positive TTL below min_ttl: raised", ok_a("192.0.2.1", 5), 100, 10},
        {"positive TTL above max_ttl: capped", ok_a("192.0.2.1", 999999), 100, 7200},
        {"NXDOMAIN above negative_max_ttl: capped", nxdomain, 100, 900},
        {"NODATA without SOA: min_ttl", nodata_no_soa, 100, 10},
        {"not stored (cache off): the upstream's lifetime", ok_a("192.0.2.1", 5), 0, 5},
        {"temperror not stored: unchanged", temperror("SERVFAIL"), 100, 0},
    };
    for (const auto& row : rows) {
        SECTION(row.label) {
            Fixture f;
            CacheOptions options;
            options.max_entries = row.cache_size;
            options.min_ttl = 10s;
            options.max_ttl = 7200s;
            options.negative_max_ttl = 900s;
            options.temperror_ttl = 0s;
            CachingLookup cache(f.io, f.upstream, options, 1000, f.clock);
            Recorder fresh;
            fresh.start(cache, "host.example.test", RrType::a);
            f.upstream.answer(0, row.upstream);
            f.io.poll();
            REQUIRE(fresh.answers.size() == 1);
            CHECK(fresh.answers[0].lifetime == row.lifetime);
            // The TTLs stay as the upstream gave them.
            CHECK(fresh.answers[0].ttl == row.upstream.ttl);
            CHECK(fresh.answers[0].negative_ttl == row.upstream.negative_ttl);
            if (row.cache_size != 0 && row.upstream.status != Status::temperror) {
                // A hit at the same instant reports the same lifetime.
                Recorder hit;
                hit.start(cache, "host.example.test", RrType::a);
                f.io.restart();
                f.io.poll();
                REQUIRE(hit.answers.size() == 1);
                CHECK(hit.answers[0].lifetime == row.lifetime);
                CHECK(hit.answers[0].ttl == row.upstream.ttl);
            }
        }
    }
}

TEST_CASE("caching lookup caps the waiters of one lookup", "[caching]") {
    Fixture f;
    CachingLookup cache(f.io, f.upstream, CacheOptions{}, 3, f.clock);
    Recorder recorder;
    for (int i = 0; i < 5; ++i) {
        recorder.start(cache, "busy.example.test", RrType::ptr);
    }
    CHECK(recorder.answers.empty());
    f.io.poll();
    // The two beyond the cap are refused at once, through the loop.
    REQUIRE(recorder.answers.size() == 2);
    for (const auto& answer : recorder.answers) {
        CHECK(answer.status == Status::temperror);
        CHECK(answer.error == "too many waiters");
    }
    CHECK(cache.stats().too_many_waiters == 2);
    CHECK(cache.stats().coalesced == 2);

    Answer ptr;
    ptr.status = Status::ok;
    ptr.ttl = 3600;
    ptr.names = {"busy.example.test"};
    f.upstream.answer(0, ptr);
    f.io.restart();
    f.io.poll();
    REQUIRE(recorder.answers.size() == 5);
    for (std::size_t i = 2; i < 5; ++i) {
        CHECK(recorder.answers[i].status == Status::ok);
    }
    CHECK(recorder.synchronous == 0);
    CHECK(f.upstream.calls.size() == 1);
}

TEST_CASE("caching lookup and temperror answers", "[caching]") {
    struct Case {
        const char* label;
        std::chrono::seconds temperror_ttl;
        std::chrono::seconds later;
        std::size_t upstream_calls;
    };
    const std::vector<Case> cases = {
        {"temperror_ttl 0: never cached", 0s, 0s, 2},
        {"temperror_ttl 5: cached within", 5s, 4s, 1},
        {"temperror_ttl 5: gone after", 5s, 5s, 2},
    };
    for (const auto& c : cases) {
        SECTION(c.label) {
            Fixture f;
            CacheOptions options;
            options.temperror_ttl = c.temperror_ttl;
            CachingLookup cache(f.io, f.upstream, options, 1000, f.clock);
            Recorder recorder;
            recorder.start(cache, "flaky.example.test", RrType::a);
            f.upstream.answer(0, temperror("SERVFAIL"));
            f.io.poll();
            REQUIRE(recorder.answers.size() == 1);
            CHECK(recorder.answers[0].status == Status::temperror);
            CHECK(cache.stats().cache.size == (c.temperror_ttl > 0s ? 1U : 0U));
            f.now += c.later;
            recorder.start(cache, "flaky.example.test", RrType::a);
            f.io.restart();
            f.io.poll();
            CHECK(f.upstream.calls.size() == c.upstream_calls);
            CHECK(recorder.synchronous == 0);
        }
    }
}

TEST_CASE("caching lookup: a throwing waiter does not starve the others", "[caching]") {
    Fixture f;
    CachingLookup cache(f.io, f.upstream, CacheOptions{}, 1000, f.clock);
    int answered = 0;
    const auto good = [&answered](const Answer&) { ++answered; };
    cache.lookup("x.example.test", RrType::a, good);
    cache.lookup("x.example.test", RrType::a,
                 [](const Answer&) { throw std::runtime_error("handler failed"); });
    cache.lookup("x.example.test", RrType::a, good);
    cache.lookup("x.example.test", RrType::a, good);
    f.upstream.answer(0, ok_a("192.0.2.9", 60));
    // The exception reaches run() as Asio handlers' exceptions do ...
    CHECK_THROWS_WITH(f.io.run(), "handler failed");
    CHECK(answered == 1);
    // ... and the remaining waiters are still answered.
    f.io.restart();
    f.io.poll();
    CHECK(answered == 3);
}

TEST_CASE("caching lookup: a waiter asking again gets the cached answer", "[caching]") {
    Fixture f;
    CachingLookup cache(f.io, f.upstream, CacheOptions{}, 1000, f.clock);
    Recorder inner;
    bool asked = false;
    cache.lookup("r.example.test", RrType::a, [&](const Answer&) {
        inner.start(cache, "r.example.test", RrType::a);
        asked = true;
    });
    f.upstream.answer(0, ok_a("192.0.2.10", 60));
    f.io.poll();
    REQUIRE(asked);
    CHECK(f.upstream.calls.size() == 1);
    REQUIRE(inner.answers.size() == 1);
    CHECK(inner.synchronous == 0);
    CHECK(cache.stats().cache.hits == 1);
}

TEST_CASE("caching lookup: waiters are answered after the cache is destroyed", "[caching]") {
    Fixture f;
    Recorder recorder;
    {
        CachingLookup cache(f.io, f.upstream, CacheOptions{}, 1000, f.clock);
        recorder.start(cache, "late.example.test", RrType::a);
        recorder.start(cache, "late.example.test", RrType::a);
    }
    f.upstream.answer(0, ok_a("192.0.2.11", 60));
    f.io.poll();
    CHECK(recorder.answers.size() == 2);
}

TEST_CASE("caching lookup passes names it cannot key straight through", "[caching]") {
    Fixture f;
    CachingLookup cache(f.io, f.upstream, CacheOptions{}, 1000, f.clock);
    const std::string too_long(300, 'a');
    Recorder recorder;
    recorder.start(cache, too_long, RrType::a);
    recorder.start(cache, too_long, RrType::a);
    recorder.start(cache, "", RrType::a);
    CHECK(f.upstream.calls.size() == 3);
    CHECK(cache.stats().uncacheable == 3);
}
