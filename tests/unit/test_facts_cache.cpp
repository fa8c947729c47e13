// FactsCache and the packed form of Facts it shares with InstanceCache.
#include <malloc.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "policyd/checks/facts_cache.hpp"
#include "policyd/checks/facts_pack.hpp"

using namespace policyd;
using namespace std::chrono_literals;

namespace {

const FactsCache::Clock::time_point t0{};

IpAddress ip(const char* text) {
    return *parse_ip(text);
}

Facts confirmed(const std::string& name) {
    Facts facts;
    facts.iprev = Iprev::pass;
    facts.ptr_names = {name};
    facts.verified_names = {name};
    facts.helo_syntax = HeloSyntax::fqdn;
    facts.helo_forward = HeloForward::pass;
    facts.helo_ptr_alignment = Alignment::exact;
    facts.generic_ptr = GenericPtr::not_generic;
    return facts;
}

Facts round_trip(const Facts& facts) {
    REQUIRE(packable(facts));
    ByteWriter counter;
    pack(facts, counter);
    const ByteBlock block = pack_block([&](ByteWriter& out) { pack(facts, out); });
    Facts out;
    out.ptr_names = {"stale", "names", "from", "an", "earlier", "request"};
    out.verified_names = {"stale"};
    out.helo_changed = true;
    ByteReader in(block.get());
    unpack(in, out);
    // The reader ends where the writer did.
    CHECK(in.bytes(0).data() ==
          reinterpret_cast<const char*>(block.get()) + counter.size());  // NOLINT
    return out;
}

}  // namespace

TEST_CASE("packed facts come back field for field", "[facts-pack]") {
    Facts facts;
    facts.iprev = Iprev::fail;
    facts.helo_syntax = HeloSyntax::address_literal;
    facts.helo_literal = HeloLiteral::mismatch;
    facts.helo_literal_form = HeloLiteralForm::ipv6_untagged;
    facts.helo_mx = HeloMx::temperror;
    facts.helo_forward = HeloForward::temperror;
    facts.helo_ptr_alignment = Alignment::mismatch;
    facts.generic_ptr = GenericPtr::dynamic;
    facts.iprev_dnssec = Dnssec::bogus;
    facts.helo_dnssec = Dnssec::secure;
    facts.budget_exhausted = true;
    facts.helo_changed = true;

    SECTION("the blocklist facts and their listings") {
        facts.helo_provider = HeloProvider::forged;
        facts.ptr_tld = PtrTld::unknown;
        facts.client_dnsbl = DnsblResult::listed;
        facts.ptr_rhsbl = DnsblResult::temperror;
        facts.helo_rhsbl = DnsblResult::not_listed;
        facts.listings = {"zen:xbl", "dbl:127.0.1.2"};
        const Facts out = round_trip(facts);
        CHECK(out.helo_provider == HeloProvider::forged);
        CHECK(out.ptr_tld == PtrTld::unknown);
        CHECK(out.client_dnsbl == DnsblResult::listed);
        CHECK(out.ptr_rhsbl == DnsblResult::temperror);
        CHECK(out.helo_rhsbl == DnsblResult::not_listed);
        CHECK(out.listings == facts.listings);
    }
    SECTION("no PTR names") {
        const Facts out = round_trip(facts);
        CHECK(out.iprev == Iprev::fail);
        CHECK(out.helo_syntax == HeloSyntax::address_literal);
        CHECK(out.helo_literal == HeloLiteral::mismatch);
        CHECK(out.helo_literal_form == HeloLiteralForm::ipv6_untagged);
        CHECK(out.helo_mx == HeloMx::temperror);
        CHECK(out.helo_forward == HeloForward::temperror);
        CHECK(out.helo_ptr_alignment == Alignment::mismatch);
        CHECK(out.generic_ptr == GenericPtr::dynamic);
        CHECK(out.iprev_dnssec == Dnssec::bogus);
        CHECK(out.helo_dnssec == Dnssec::secure);
        CHECK(out.budget_exhausted);
        CHECK_FALSE(out.helo_changed);  // the session's, not packed
        CHECK(out.ptr_names.empty());
        CHECK(out.verified_names.empty());
    }
    SECTION("verified names are a subsequence of the PTR names, duplicates included") {
        for (int i = 0; i < 20; ++i) {
            facts.ptr_names.push_back("host" + std::to_string(i % 7) + ".example");
        }
        facts.verified_names = {"host1.example", "host1.example", "host6.example"};
        const Facts out = round_trip(facts);
        CHECK(out.ptr_names == facts.ptr_names);
        CHECK(out.verified_names == facts.verified_names);
    }
    SECTION("a 255-byte name and 255 names still fit") {
        facts.ptr_names.assign(255, std::string(255, 'a'));
        facts.verified_names = {std::string(255, 'a')};
        const Facts out = round_trip(facts);
        CHECK(out.ptr_names == facts.ptr_names);
        CHECK(out.verified_names == facts.verified_names);
    }
}

TEST_CASE("facts that would come back altered are not packed", "[facts-pack]") {
    Facts facts = confirmed("mail.example");
    CHECK(packable(facts));
    SECTION("a verified name that is not a PTR name") {
        facts.verified_names = {"other.example"};
        CHECK_FALSE(packable(facts));
    }
    SECTION("verified names out of PTR order") {
        facts.ptr_names = {"a.example", "b.example"};
        facts.verified_names = {"b.example", "a.example"};
        CHECK_FALSE(packable(facts));
    }
    SECTION("a name over 255 bytes") {
        facts.ptr_names.push_back(std::string(256, 'a'));
        CHECK_FALSE(packable(facts));
    }
    SECTION("more than 255 names") {
        facts.ptr_names.assign(256, "a.example");
        CHECK_FALSE(packable(facts));
    }
}

TEST_CASE("facts are kept for the lifetime they are given, and no longer", "[facts-cache]") {
    FactsCache cache(100, 86400s);
    Facts got;
    CHECK_FALSE(cache.find(ip("192.0.2.1"), "mail.example", t0, got));
    cache.insert(ip("192.0.2.1"), "mail.example", confirmed("mail.example"), t0, 300s);
    REQUIRE(cache.find(ip("192.0.2.1"), "mail.example", t0 + 299s, got));
    CHECK(got.iprev == Iprev::pass);
    CHECK(got.verified_names == std::vector<std::string>{"mail.example"});
    CHECK_FALSE(cache.find(ip("192.0.2.1"), "mail.example", t0 + 300s, got));
    CHECK(cache.stats().size == 0);
    CHECK(cache.stats().expired == 1);
    CHECK(cache.stats().hits == 1);
    CHECK(cache.stats().misses == 2);

    SECTION("capped by max_lifetime") {
        FactsCache capped(100, 60s);
        capped.insert(ip("192.0.2.1"), "mail.example", confirmed("mail.example"), t0, 3600s);
        CHECK(capped.find(ip("192.0.2.1"), "mail.example", t0 + 59s, got));
        CHECK_FALSE(capped.find(ip("192.0.2.1"), "mail.example", t0 + 60s, got));
    }
    SECTION("lifetime 0 stores nothing and drops what was kept") {
        cache.insert(ip("192.0.2.1"), "mail.example", confirmed("mail.example"), t0, 300s);
        Facts failed = confirmed("mail.example");
        failed.iprev = Iprev::temperror;
        cache.insert(ip("192.0.2.1"), "mail.example", failed, t0 + 1s, 0s);
        CHECK_FALSE(cache.find(ip("192.0.2.1"), "mail.example", t0 + 2s, got));
        CHECK(cache.stats().size == 0);
    }
    SECTION("a newer insert replaces the older facts and lifetime") {
        cache.insert(ip("192.0.2.1"), "mail.example", confirmed("mail.example"), t0, 300s);
        Facts other = confirmed("relay.example");
        other.iprev = Iprev::fail;
        other.verified_names.clear();
        cache.insert(ip("192.0.2.1"), "mail.example", other, t0 + 10s, 30s);
        REQUIRE(cache.find(ip("192.0.2.1"), "mail.example", t0 + 39s, got));
        CHECK(got.iprev == Iprev::fail);
        CHECK(got.ptr_names == std::vector<std::string>{"relay.example"});
        CHECK(got.verified_names.empty());
        CHECK_FALSE(cache.find(ip("192.0.2.1"), "mail.example", t0 + 40s, got));
    }
}

TEST_CASE("the key is the client address and the HELO name exactly as sent", "[facts-cache]") {
    FactsCache cache(100, 86400s);
    cache.insert(ip("192.0.2.1"), "mail.example", confirmed("mail.example"), t0, 300s);
    cache.insert(ip("2001:db8::1"), "mail.example", confirmed("v6.example"), t0, 300s);
    Facts got;
    CHECK_FALSE(cache.find(ip("192.0.2.2"), "mail.example", t0, got));
    CHECK_FALSE(cache.find(ip("192.0.2.1"), "MAIL.example", t0, got));
    CHECK_FALSE(cache.find(ip("192.0.2.1"), "mail.example.", t0, got));
    CHECK_FALSE(cache.find(ip("192.0.2.1"), "", t0, got));
    // The IPv4-mapped form is the same client.
    REQUIRE(cache.find(ip("::ffff:192.0.2.1"), "mail.example", t0, got));
    CHECK(got.ptr_names == std::vector<std::string>{"mail.example"});
    // An IPv6 address whose first bytes spell the IPv4 one is another client.
    CHECK_FALSE(cache.find(ip("c000:201::"), "mail.example", t0, got));
    REQUIRE(cache.find(ip("2001:db8::1"), "mail.example", t0, got));
    CHECK(got.ptr_names == std::vector<std::string>{"v6.example"});
}

TEST_CASE("the facts cache is bounded, least recently used first", "[facts-cache]") {
    FactsCache cache(2, 86400s);
    Facts got;
    cache.insert(ip("192.0.2.1"), "h", confirmed("one.example"), t0, 300s);
    cache.insert(ip("192.0.2.2"), "h", confirmed("two.example"), t0, 300s);
    CHECK(cache.find(ip("192.0.2.1"), "h", t0, got));  // 192.0.2.2 is now the oldest
    cache.insert(ip("192.0.2.3"), "h", confirmed("three.example"), t0, 300s);
    CHECK(cache.stats().size == 2);
    CHECK(cache.stats().evictions == 1);
    CHECK_FALSE(cache.find(ip("192.0.2.2"), "h", t0, got));
    CHECK(cache.find(ip("192.0.2.1"), "h", t0, got));
    CHECK(cache.find(ip("192.0.2.3"), "h", t0, got));

    SECTION("size 0 keeps nothing") {
        FactsCache off(0, 86400s);
        off.insert(ip("192.0.2.1"), "h", confirmed("one.example"), t0, 300s);
        CHECK_FALSE(off.find(ip("192.0.2.1"), "h", t0, got));
        CHECK(off.stats().size == 0);
    }
}

// Run by hand (`unit_tests "[.memory]"`): the figure in facts_cache.hpp.
TEST_CASE("facts cache memory per client", "[.memory]") {
    constexpr std::size_t n = 1000000;
    const auto before = mallinfo2().uordblks;
    {
        FactsCache cache(n, 86400s);
        for (std::size_t i = 0; i < n; ++i) {
            const auto v4 = boost::asio::ip::address_v4(static_cast<std::uint32_t>(0x0a000000 + i));
            // A typical client: HELO = its one PTR name (c-10-1-2-3.bench.test).
            const std::string name = "c-" + std::to_string(i >> 16) + "-" +
                                     std::to_string((i >> 8) & 255) + "-" +
                                     std::to_string(i & 255) + ".bench.test";
            cache.insert(IpAddress(v4), name, confirmed(name), t0, 3600s);
        }
        const auto used = mallinfo2().uordblks - before;
        std::printf("facts cache: %zu bytes/client\n", used / n);
        CHECK(used / n < 256);
    }
}
