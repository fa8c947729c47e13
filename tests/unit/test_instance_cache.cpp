// InstanceCache: per-message facts, bounded in count and time.
#include <catch2/catch.hpp>

#include "policyd/checks/instance_cache.hpp"

using namespace policyd;
using namespace std::chrono_literals;

namespace {
Facts facts_with(Iprev iprev) {
    Facts facts;
    facts.iprev = iprev;
    return facts;
}
const InstanceCache::Clock::time_point t0{};

// The remembered iprev, or nothing.
std::optional<Iprev> iprev_of(InstanceCache& cache, std::string_view instance,
                              std::string_view client, std::string_view helo,
                              InstanceCache::Clock::time_point now) {
    Facts facts;
    bool header_sent = false;
    if (!cache.find(instance, client, helo, now, facts, header_sent)) {
        return std::nullopt;
    }
    return facts.iprev;
}
}  // namespace

TEST_CASE("facts are remembered per message", "[instance]") {
    InstanceCache cache(100, 60s);
    CHECK_FALSE(iprev_of(cache, "A.1", "192.0.2.1", "mx.example", t0));
    cache.insert("A.1", "192.0.2.1", "mx.example", facts_with(Iprev::fail), t0, false);
    CHECK(iprev_of(cache, "A.1", "192.0.2.1", "mx.example", t0 + 59s) == Iprev::fail);

    SECTION("another client or HELO never borrows them") {
        CHECK_FALSE(iprev_of(cache, "A.1", "192.0.2.2", "mx.example", t0));
        CHECK_FALSE(iprev_of(cache, "A.1", "192.0.2.1", "other.example", t0));
        CHECK_FALSE(iprev_of(cache, "A.1", "192.0.2.1", "mx.exampl", t0));
    }
    SECTION("they expire after the ttl") {
        CHECK_FALSE(iprev_of(cache, "A.1", "192.0.2.1", "mx.example", t0 + 60s));
        CHECK(cache.size() == 0);
    }
    SECTION("a new insert replaces them") {
        cache.insert("A.1", "192.0.2.1", "mx.example", facts_with(Iprev::pass), t0 + 1s, false);
        CHECK(cache.size() == 1);
        CHECK(iprev_of(cache, "A.1", "192.0.2.1", "mx.example", t0 + 2s) == Iprev::pass);
    }
}

TEST_CASE("every fact comes back as it was remembered", "[instance]") {
    InstanceCache cache(10, 60s);
    Facts facts;
    facts.iprev = Iprev::pass;
    facts.ptr_names = {"a.example", "b.example", "c.example"};
    facts.verified_names = {"b.example", "c.example"};
    facts.helo_syntax = HeloSyntax::fqdn;
    facts.helo_literal = HeloLiteral::na;
    facts.helo_forward = HeloForward::fail;
    facts.helo_ptr_alignment = Alignment::org_domain;
    facts.generic_ptr = GenericPtr::dynamic;
    facts.iprev_dnssec = Dnssec::secure;
    facts.helo_dnssec = Dnssec::bogus;
    facts.budget_exhausted = true;
    facts.helo_changed = true;  // the session's, never remembered
    cache.insert("B.2", "2001:db8::1", "mx.example", facts, t0, false);
    Facts got;
    got.ptr_names = {"left", "over", "from", "before"};
    bool header_sent = true;
    REQUIRE(cache.find("B.2", "2001:db8::1", "mx.example", t0, got, header_sent));
    CHECK_FALSE(header_sent);
    CHECK(got.iprev == Iprev::pass);
    CHECK(got.ptr_names == facts.ptr_names);
    CHECK(got.verified_names == facts.verified_names);
    CHECK(got.helo_syntax == HeloSyntax::fqdn);
    CHECK(got.helo_literal == HeloLiteral::na);
    CHECK(got.helo_forward == HeloForward::fail);
    CHECK(got.helo_ptr_alignment == Alignment::org_domain);
    CHECK(got.generic_ptr == GenericPtr::dynamic);
    CHECK(got.iprev_dnssec == Dnssec::secure);
    CHECK(got.helo_dnssec == Dnssec::bogus);
    CHECK(got.budget_exhausted);
    CHECK_FALSE(got.helo_changed);
}

TEST_CASE("the least recently used message goes first", "[instance]") {
    InstanceCache cache(2, 60s);
    cache.insert("one", "c", "h", facts_with(Iprev::pass), t0, false);
    cache.insert("two", "c", "h", facts_with(Iprev::pass), t0, false);
    CHECK(iprev_of(cache, "one", "c", "h", t0));  // "two" is now the oldest
    cache.insert("three", "c", "h", facts_with(Iprev::pass), t0, false);
    CHECK(cache.size() == 2);
    CHECK_FALSE(iprev_of(cache, "two", "c", "h", t0));
    CHECK(iprev_of(cache, "one", "c", "h", t0));
    CHECK(iprev_of(cache, "three", "c", "h", t0));
}

TEST_CASE("whether the message's header was sent is remembered with it", "[instance]") {
    InstanceCache cache(10, 60s);
    cache.insert("M.1", "c", "h", facts_with(Iprev::pass), t0, true);
    cache.insert("M.2", "c", "h", facts_with(Iprev::pass), t0, false);
    Facts facts;
    bool sent = false;
    REQUIRE(cache.find("M.1", "c", "h", t0, facts, sent));
    CHECK(sent);
    REQUIRE(cache.find("M.2", "c", "h", t0, facts, sent));
    CHECK_FALSE(sent);
}

TEST_CASE("a zero-sized cache, an empty instance and unpackable facts remember nothing",
          "[instance]") {
    InstanceCache off(0, 60s);
    off.insert("A", "c", "h", facts_with(Iprev::pass), t0, false);
    CHECK_FALSE(iprev_of(off, "A", "c", "h", t0));
    InstanceCache on(10, 60s);
    on.insert("", "c", "h", facts_with(Iprev::pass), t0, false);
    CHECK(on.size() == 0);
    // A verified name that is not one of the PTR names cannot be packed.
    Facts odd = facts_with(Iprev::pass);
    odd.ptr_names = {"a.example"};
    odd.verified_names = {"z.example"};
    on.insert("A", "c", "h", facts_with(Iprev::fail), t0, false);
    on.insert("A", "c", "h", odd, t0, false);
    CHECK_FALSE(iprev_of(on, "A", "c", "h", t0));  // and the older entry is gone
}
