// Integration tests of the checks (policyd::Assessor) through the real
// Resolver against a real DNS server on loopback: ldns-testns serving the
// scenario below, plus a UDP socket that never answers for timeouts.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns_server.hpp"
#include "policyd/checks/assessment.hpp"
#include "policyd/checks/facts_cache.hpp"
#include "policyd/config/providers_file.hpp"
#include "resolver/resolver.hpp"

using namespace std::chrono_literals;
using namespace policyd;

namespace {

// One scripted answer: every query for (qname, qtype) gets rcode and records.
struct Scripted {
    std::string qname;
    std::string qtype;
    std::string rcode;
    std::vector<std::string> answer;
    // The SOA of an empty answer; kSoa when empty.
    std::string soa = {};
};

const char* const kSoa =
    "example.test. 300 IN SOA ns.example.test. host.example.test. 1 3600 600 86400 300";

// The scenario: clients in 192.0.2.0/24 and 2001:db8::/32, names in example.test.
const std::vector<Scripted> kScenario = {
    // 192.0.2.1: forward-confirmed.
    {"1.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"1.2.0.192.in-addr.arpa. 300 IN PTR Pass.Example.TEST."}},
    {"pass.example.test.", "A", "NOERROR", {"pass.example.test. 300 IN A 192.0.2.1"}},
    {"pass.example.test.", "AAAA", "NOERROR", {}},
    // 192.0.2.2: no PTR.
    {"2.2.0.192.in-addr.arpa.", "PTR", "NXDOMAIN", {}},
    // 192.0.2.22: no PTR either, asked by one test only, with an SOA of its
    // own: libunbound answers with the SOA it has cached, so one shared with
    // other answers would have aged by the time that test runs.
    {"22.2.0.192.in-addr.arpa.",
     "PTR",
     "NXDOMAIN",
     {},
     "22.2.0.192.in-addr.arpa. 300 IN SOA ns.example.test. host.example.test. 1 3600 600 86400 "
     "300"},
    // 192.0.2.3: PTR to a name without addresses.
    {"3.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"3.2.0.192.in-addr.arpa. 300 IN PTR noaddr.example.test."}},
    {"noaddr.example.test.", "A", "NXDOMAIN", {}},
    {"noaddr.example.test.", "AAAA", "NXDOMAIN", {}},
    // 192.0.2.4: PTR to a name that resolves to another address.
    {"4.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"4.2.0.192.in-addr.arpa. 300 IN PTR other.example.test."}},
    {"other.example.test.", "A", "NOERROR", {"other.example.test. 300 IN A 192.0.2.99"}},
    {"other.example.test.", "AAAA", "NOERROR", {}},
    // A HELO name whose address is in no client's network here.
    {"far.example.test.", "A", "NOERROR", {"far.example.test. 300 IN A 198.51.100.99"}},
    {"far.example.test.", "AAAA", "NOERROR", {}},
    // 192.0.2.5: two PTR names; only the second confirms.
    {"5.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"5.2.0.192.in-addr.arpa. 300 IN PTR a.example.test.",
      "5.2.0.192.in-addr.arpa. 300 IN PTR b.example.test."}},
    {"a.example.test.", "A", "NOERROR", {"a.example.test. 300 IN A 192.0.2.77"}},
    {"a.example.test.", "AAAA", "NOERROR", {}},
    {"b.example.test.", "A", "NOERROR", {"b.example.test. 300 IN A 192.0.2.5"}},
    {"b.example.test.", "AAAA", "NOERROR", {}},
    // 192.0.2.6: RFC 2317 classless delegation, the reverse name is a CNAME.
    {"6.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"6.2.0.192.in-addr.arpa. 300 IN CNAME 6.0-25.2.0.192.in-addr.arpa."}},
    {"6.0-25.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"6.0-25.2.0.192.in-addr.arpa. 300 IN PTR classless.example.test."}},
    {"classless.example.test.", "A", "NOERROR", {"classless.example.test. 300 IN A 192.0.2.6"}},
    {"classless.example.test.", "AAAA", "NOERROR", {}},
    // 192.0.2.7: the reverse zone's server fails.
    {"7.2.0.192.in-addr.arpa.", "PTR", "SERVFAIL", {}},
    // 192.0.2.9: PTR fine, but its forward zone never answers (see the
    // unbound config: slow.example.test goes to the silent server).
    {"9.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"9.2.0.192.in-addr.arpa. 300 IN PTR host.slow.example.test."}},
    // 192.0.2.60: forward-confirmed under a large mail provider's domain
    // (served here, like everything, by the test server).
    {"60.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"60.2.0.192.in-addr.arpa. 300 IN PTR mail-a1.google.com."}},
    {"mail-a1.google.com.", "A", "NOERROR", {"mail-a1.google.com. 300 IN A 192.0.2.60"}},
    // Blocklists: 192.0.2.60 is on zen.example.test (return code 127.0.0.4),
    // its PTR name's domain google.com on dbl.example.test; every other
    // name there does not exist. hbl.example.test refuses queries the way
    // Spamhaus refuses a public resolver.
    {"60.2.0.192.zen.example.test.",
     "A",
     "NOERROR",
     {"60.2.0.192.zen.example.test. 300 IN A 127.0.0.4"}},
    {"google.com.dbl.example.test.",
     "A",
     "NOERROR",
     {"google.com.dbl.example.test. 300 IN A 127.0.1.2"}},
    {"example.test.hbl.example.test.",
     "A",
     "NOERROR",
     {"example.test.hbl.example.test. 300 IN A 127.255.255.254"}},
    {"1.2.0.192.zen.example.test.", "A", "NXDOMAIN", {}},
    {"2.2.0.192.zen.example.test.", "A", "NXDOMAIN", {}},
    {"example.test.dbl.example.test.", "A", "NXDOMAIN", {}},
    {"google.com.hbl.example.test.", "A", "NXDOMAIN", {}},
    // 192.0.2.10: forward-confirmed, but named like a dynamic pool.
    {"10.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"10.2.0.192.in-addr.arpa. 300 IN PTR 192-0-2-10.dyn.example.test."}},
    {"192-0-2-10.dyn.example.test.",
     "A",
     "NOERROR",
     {"192-0-2-10.dyn.example.test. 300 IN A 192.0.2.10"}},
    {"192-0-2-10.dyn.example.test.", "AAAA", "NOERROR", {}},
    // 192.0.2.11: forward-confirmed through answers of different TTLs: the
    // facts may be reused only as long as the shortest (the A record's 120 s;
    // AAAA is NODATA for the SOA's 300 s).
    {"11.2.0.192.in-addr.arpa.",
     "PTR",
     "NOERROR",
     {"11.2.0.192.in-addr.arpa. 3600 IN PTR ttl.example.test."}},
    {"ttl.example.test.", "A", "NOERROR", {"ttl.example.test. 120 IN A 192.0.2.11"}},
    {"ttl.example.test.", "AAAA", "NOERROR", {}},
    // HELO names that exist without any address: one with an MX, one
    // without (helo_mx).
    {"mxonly.example.test.", "A", "NOERROR", {}},
    {"mxonly.example.test.", "AAAA", "NOERROR", {}},
    {"mxonly.example.test.",
     "MX",
     "NOERROR",
     {"mxonly.example.test. 300 IN MX 10 mail.example.test."}},
    {"nomx.example.test.", "A", "NOERROR", {}},
    {"nomx.example.test.", "AAAA", "NOERROR", {}},
    {"nomx.example.test.", "MX", "NOERROR", {}},
    // 2001:db8::6: IPv6 client with an ip6.arpa nibble name.
    {"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
     "PTR",
     "NOERROR",
     {"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR "
      "v6.example.test."}},
    {"v6.example.test.", "A", "NOERROR", {}},
    {"v6.example.test.", "AAAA", "NOERROR", {"v6.example.test. 300 IN AAAA 2001:db8::6"}},
};

// Writes the scenario as an ldns-testns data file (see ldns-testns(1)).
std::string write_scenario() {
    const auto path = std::filesystem::temp_directory_path() /
                      ("rdns-policyd-assessment-" + std::to_string(::getpid()) + ".testns");
    std::ofstream out(path);
    for (const auto& entry : kScenario) {
        // copy_id: libunbound drops a reply whose ID is not its query's; the
        // question must also be the one asked.
        out << "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\n"
            << "REPLY QR AA RD RA " << entry.rcode << "\n"
            << "SECTION QUESTION\n"
            << entry.qname << " IN " << entry.qtype << "\n"
            << "SECTION ANSWER\n";
        for (const auto& record : entry.answer) {
            out << record << "\n";
        }
        if (entry.answer.empty() && entry.rcode != "SERVFAIL") {
            out << "SECTION AUTHORITY\n" << (entry.soa.empty() ? kSoa : entry.soa.c_str()) << "\n";
        }
        out << "ENTRY_END\n\n";
    }
    return path.string();
}

// One server and one resolver for every test case in this file.
struct Fixture {
    std::string datafile = write_scenario();
    testing_support::TestNameServer server{datafile};
    testing_support::SilentUdpServer silent;
    boost::asio::io_context io;
    std::unique_ptr<resolver::Resolver> resolver;
    std::shared_ptr<const PublicSuffixList> psl = PublicSuffixList::load_default();
    std::shared_ptr<const GenericPtrClassifier> generic = [this] {
        GenericPtrVocabulary vocabulary = GenericPtrVocabulary::defaults();
        vocabulary.hosting = shipped_providers()->hosting;
        vocabulary.access = shipped_providers()->access;
        return std::make_shared<const GenericPtrClassifier>(std::move(vocabulary), psl);
    }();
    std::shared_ptr<const MailProviders> mail_providers =
        std::make_shared<const MailProviders>(shipped_providers()->mail);

    Fixture() {
        resolver::ResolverOptions options;
        options.upstream = resolver::ResolverOptions::Upstream::forward;
        options.forwarders = {server.forwarder()};
        options.unbound_config = testing_support::write_unbound_config(
            "forward-zone:\n    name: \"slow.example.test.\"\n    forward-addr: " +
            silent.forwarder() + "\n");
        options.timeout = 700ms;
        resolver = std::make_unique<resolver::Resolver>(io, options);
    }
    ~Fixture() {
        resolver->shutdown();
        std::filesystem::remove(datafile);
    }

    Facts assess(std::string_view client, std::string_view helo,
                 AssessmentOptions options = AssessmentOptions{},
                 std::shared_ptr<FactsCache> cache = nullptr) {
        options.psl = psl;
        options.generic = generic;
        options.mail_providers = mail_providers;
        Assessor assessor(io, *resolver, options, std::move(cache));
        std::optional<Facts> facts;
        bool inline_completion = true;
        assessor.assess(*parse_ip(client), helo, [&](Facts result) { facts = std::move(result); });
        inline_completion = facts.has_value();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        io.restart();
        while (!facts && std::chrono::steady_clock::now() < deadline) {
            io.run_one_until(deadline);
        }
        CHECK_FALSE(inline_completion);  // never completes synchronously
        REQUIRE(facts);
        return *facts;
    }
};

Fixture& fixture() {
    static Fixture instance;
    return instance;
}

}  // namespace

TEST_CASE("iprev against a real DNS server", "[assessment]") {
    auto& f = fixture();
    SECTION("PTR forward-confirms: pass, names normalised") {
        const Facts facts = f.assess("192.0.2.1", "pass.example.test");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.ptr_names == std::vector<std::string>{"pass.example.test"});
        CHECK(facts.verified_names == std::vector<std::string>{"pass.example.test"});
        // No trust anchor configured: nothing is validated.
        CHECK(facts.iprev_dnssec == Dnssec::insecure);
        CHECK(facts.helo_dnssec == Dnssec::insecure);
    }
    SECTION("no PTR: permerror") {
        const Facts facts = f.assess("192.0.2.2", "mail.example.test");
        CHECK(facts.iprev == Iprev::permerror);
        CHECK(facts.ptr_names.empty());
    }
    SECTION("PTR name without addresses: fail") {
        const Facts facts = f.assess("192.0.2.3", "x.example.test");
        CHECK(facts.iprev == Iprev::fail);
        CHECK(facts.ptr_names == std::vector<std::string>{"noaddr.example.test"});
        CHECK(facts.verified_names.empty());
    }
    SECTION("PTR name resolving to another address: fail") {
        CHECK(f.assess("192.0.2.4", "x.example.test").iprev == Iprev::fail);
    }
    SECTION("several PTR names, only one confirms: pass with that name") {
        const Facts facts = f.assess("192.0.2.5", "x.example.test");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.ptr_names.size() == 2);
        CHECK(facts.verified_names == std::vector<std::string>{"b.example.test"});
    }
    SECTION("CNAME'd reverse name (RFC 2317): followed to the PTR") {
        const Facts facts = f.assess("192.0.2.6", "x.example.test");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.verified_names == std::vector<std::string>{"classless.example.test"});
    }
    SECTION("SERVFAIL: temperror, never fail") {
        CHECK(f.assess("192.0.2.7", "x.example.test").iprev == Iprev::temperror);
    }
    SECTION("forward lookup times out: temperror, never fail") {
        const Facts facts = f.assess("192.0.2.9", "x.example.test");
        CHECK(facts.iprev == Iprev::temperror);
        CHECK(facts.ptr_names == std::vector<std::string>{"host.slow.example.test"});
    }
    SECTION("reverse lookup times out: temperror") {
        // 192.0.2.200 is not in the scenario and ldns-testns answers nothing
        // it has no entry for.
        CHECK(f.assess("192.0.2.200", "x.example.test").iprev == Iprev::temperror);
    }
    SECTION("IPv6 client: ip6.arpa nibble name and AAAA confirmation") {
        const Facts facts = f.assess("2001:db8::6", "v6.example.test");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.verified_names == std::vector<std::string>{"v6.example.test"});
        CHECK(facts.helo_forward == HeloForward::pass);
    }
    SECTION("IPv4-mapped client is checked as IPv4") {
        CHECK(f.assess("::ffff:192.0.2.1", "pass.example.test").iprev == Iprev::pass);
    }
}

TEST_CASE("HELO checks against a real DNS server", "[assessment]") {
    auto& f = fixture();
    struct Row {
        const char* client;
        const char* helo;
        HeloSyntax syntax;
        HeloLiteral literal;
        HeloForward forward;
    };
    const std::vector<Row> rows = {
        {"192.0.2.1", "pass.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::pass},
        {"192.0.2.1", "PASS.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::pass},
        // 192.0.2.99: the client's /24, tolerated as its own value.
        {"192.0.2.1", "other.example.test", HeloSyntax::fqdn, HeloLiteral::na,
         HeloForward::same_network},
        {"192.0.2.1", "far.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::fail},
        {"192.0.2.1", "noaddr.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::none},
        // Addresses only of the other family: the other family is asked
        // (the own family's NODATA leaves fail and none open), and it is fail.
        {"192.0.2.1", "v6.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::fail},
        {"2001:db8::6", "pass.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::fail},
        {"2001:db8::6", "v6.example.test", HeloSyntax::fqdn, HeloLiteral::na, HeloForward::pass},
        {"192.0.2.1", "host.slow.example.test", HeloSyntax::fqdn, HeloLiteral::na,
         HeloForward::temperror},
        {"192.0.2.1", "[192.0.2.1]", HeloSyntax::address_literal, HeloLiteral::match,
         HeloForward::na},
        {"192.0.2.1", "[192.0.2.99]", HeloSyntax::address_literal, HeloLiteral::same_network,
         HeloForward::na},
        {"192.0.2.1", "[198.51.100.99]", HeloSyntax::address_literal, HeloLiteral::mismatch,
         HeloForward::na},
        {"192.0.2.1", "[10.0.0.7]", HeloSyntax::address_literal, HeloLiteral::private_address,
         HeloForward::na},
        {"2001:db8::6", "[IPv6:2001:DB8:0::6]", HeloSyntax::address_literal, HeloLiteral::match,
         HeloForward::na},
        {"2001:db8::6", "[2001:db8::6]", HeloSyntax::address_literal, HeloLiteral::match,
         HeloForward::na},
        {"192.0.2.1", "192.0.2.1", HeloSyntax::bare_ip, HeloLiteral::na, HeloForward::na},
        {"192.0.2.1", "localhost", HeloSyntax::non_fqdn, HeloLiteral::na, HeloForward::na},
        {"192.0.2.1", "bad_name.example.test", HeloSyntax::invalid, HeloLiteral::na,
         HeloForward::na},
        {"192.0.2.1", "", HeloSyntax::missing, HeloLiteral::na, HeloForward::na},
    };
    for (const auto& row : rows) {
        SECTION(std::string(row.client) + " HELO " + row.helo) {
            const Facts facts = f.assess(row.client, row.helo);
            CHECK(facts.helo_syntax == row.syntax);
            CHECK(facts.helo_literal == row.literal);
            CHECK(facts.helo_forward == row.forward);
        }
    }
}

TEST_CASE("helo_mx: asked only for a HELO name that exists without addresses", "[assessment]") {
    auto& f = fixture();
    struct Row {
        const char* client;
        const char* helo;
        HeloForward forward;
        HeloMx mx;
    };
    const std::vector<Row> rows = {
        // No A or AAAA, an MX: known to Postfix's reject_unknown_helo_hostname.
        {"192.0.2.1", "mxonly.example.test", HeloForward::none, HeloMx::present},
        {"2001:db8::6", "mxonly.example.test", HeloForward::none, HeloMx::present},
        {"192.0.2.1", "nomx.example.test", HeloForward::none, HeloMx::none},
        // NXDOMAIN settles it without an MX query (none is scripted).
        {"192.0.2.1", "noaddr.example.test", HeloForward::none, HeloMx::none},
        // Addresses: the MX is not asked (no MX is scripted for these).
        {"192.0.2.1", "pass.example.test", HeloForward::pass, HeloMx::na},
        {"192.0.2.1", "other.example.test", HeloForward::same_network, HeloMx::na},
        {"192.0.2.1", "far.example.test", HeloForward::fail, HeloMx::na},
        {"192.0.2.1", "v6.example.test", HeloForward::fail, HeloMx::na},
        {"192.0.2.1", "[192.0.2.1]", HeloForward::na, HeloMx::na},
        {"192.0.2.1", "host.slow.example.test", HeloForward::temperror, HeloMx::na},
    };
    for (const auto& row : rows) {
        SECTION(std::string(row.client) + " HELO " + row.helo) {
            const Facts facts = f.assess(row.client, row.helo);
            CHECK(facts.helo_forward == row.forward);
            CHECK(facts.helo_mx == row.mx);
            CHECK_FALSE(facts.budget_exhausted);
        }
    }
}

TEST_CASE("the time budget turns what is still unanswered into temperror", "[assessment]") {
    auto& f = fixture();
    AssessmentOptions options;
    options.budget = 250ms;  // below the resolver's 700 ms lookup deadline
    const auto started = std::chrono::steady_clock::now();
    SECTION("reverse zone silent") {
        // A name no earlier case asked: libunbound remembers failures.
        const Facts facts = f.assess("192.0.2.201", "other.example.test", options);
        CHECK(facts.iprev == Iprev::temperror);
        CHECK(facts.budget_exhausted);
        // The HELO lookups that did answer still count (192.0.2.99: the
        // client's /24).
        CHECK(facts.helo_forward == HeloForward::same_network);
    }
    SECTION("forward zone silent") {
        const Facts facts = f.assess("192.0.2.9", "host.slow.example.test", options);
        CHECK(facts.iprev == Iprev::temperror);
        CHECK(facts.helo_forward == HeloForward::temperror);
        CHECK(facts.budget_exhausted);
    }
    SECTION("answers within the budget are not marked") {
        const Facts facts = f.assess("192.0.2.1", "pass.example.test", options);
        CHECK(facts.iprev == Iprev::pass);
        CHECK_FALSE(facts.budget_exhausted);
    }
    // Well before the resolver's own deadline would have answered.
    CHECK(std::chrono::steady_clock::now() - started < 650ms);
}

TEST_CASE("HELO vs verified PTR alignment", "[assessment]") {
    auto& f = fixture();
    struct Row {
        const char* client;
        const char* helo;
        Alignment expected;
    };
    const std::vector<Row> rows = {
        {"192.0.2.1", "pass.example.test", Alignment::exact},
        {"192.0.2.1", "PASS.EXAMPLE.TEST", Alignment::exact},
        {"192.0.2.1", "other.example.test", Alignment::org_domain},
        {"192.0.2.5", "b.example.test", Alignment::exact},       // the verified one of two
        {"192.0.2.5", "mail.example.org", Alignment::mismatch},  // another organisation
        {"192.0.2.4", "other.example.test", Alignment::na},      // nothing verified
        {"192.0.2.1", "[192.0.2.1]", Alignment::na},             // not a name
    };
    for (const auto& row : rows) {
        SECTION(std::string(row.client) + " HELO " + row.helo) {
            CHECK(f.assess(row.client, row.helo).helo_ptr_alignment == row.expected);
        }
    }
}

TEST_CASE("blocklists on the client, its PTR domain and its HELO domain", "[assessment][dnsbl]") {
    auto& f = fixture();
    const auto lists = [] {
        Blocklists all;
        Blocklist zen{"zen", "zen.example.test", BlocklistTarget::client, {}};
        zen.codes.emplace_back(*parse_ip("127.0.0.4"), "xbl");
        all.push_back(zen);
        all.push_back({"dbl", "dbl.example.test", BlocklistTarget::ptr, {}});
        all.push_back({"hbl", "hbl.example.test", BlocklistTarget::helo, {}});
        // Its server never answers (the unbound config sends slow.example.test there).
        all.push_back({"slow", "dnsbl.slow.example.test", BlocklistTarget::client, {}});
        return std::make_shared<const Blocklists>(std::move(all));
    }();
    AssessmentOptions options;
    options.blocklists = lists;
    SECTION("listed on two lists, one HELO list refusing, one list silent") {
        const Facts facts = f.assess("192.0.2.60", "mail-a1.google.com", options);
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.client_dnsbl == DnsblResult::listed);  // listed beats a silent list
        CHECK(facts.ptr_rhsbl == DnsblResult::listed);
        CHECK(facts.helo_rhsbl == DnsblResult::not_listed);  // google.com is not on hbl
        CHECK(facts.listings == std::vector<std::string>{"zen:xbl", "dbl:127.0.1.2"});
        CHECK(facts.budget_exhausted == false);
    }
    SECTION("not listed; a refusing list is temperror, a silent one too") {
        const Facts facts = f.assess("192.0.2.1", "x.example.test", options);
        CHECK(facts.client_dnsbl == DnsblResult::temperror);  // zen: no, slow: no answer
        CHECK(facts.ptr_rhsbl == DnsblResult::not_listed);    // example.test on dbl
        CHECK(facts.helo_rhsbl == DnsblResult::temperror);    // hbl refused
        CHECK(facts.listings.empty());
    }
    SECTION("no verified PTR name, no FQDN HELO: those lists are n/a") {
        const Facts facts = f.assess("192.0.2.2", "[192.0.2.2]", options);
        CHECK(facts.ptr_rhsbl == DnsblResult::na);
        CHECK(facts.helo_rhsbl == DnsblResult::na);
        CHECK(facts.client_dnsbl == DnsblResult::temperror);
    }
    SECTION("no lists configured: all n/a") {
        const Facts facts = f.assess("192.0.2.60", "mail-a1.google.com");
        CHECK(facts.client_dnsbl == DnsblResult::na);
        CHECK(facts.ptr_rhsbl == DnsblResult::na);
        CHECK(facts.helo_rhsbl == DnsblResult::na);
    }
}

TEST_CASE("a HELO that claims a large mail provider", "[assessment]") {
    auto& f = fixture();
    SECTION("backed by the provider's verified PTR name") {
        const Facts facts = f.assess("192.0.2.60", "mail-a1.google.com");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.helo_provider == HeloProvider::verified);
        CHECK(facts.ptr_tld == PtrTld::known);
    }
    SECTION("from a client whose verified PTR name is someone else's: forged") {
        const Facts facts = f.assess("192.0.2.1", "mail-a1.google.com");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.helo_provider == HeloProvider::forged);
    }
    SECTION("from a client without a PTR: forged") {
        CHECK(f.assess("192.0.2.2", "gmail.com").helo_provider == HeloProvider::forged);
    }
    SECTION("PTR lookup failed: temperror, never forged") {
        const Facts facts = f.assess("192.0.2.7", "mail-a1.google.com");
        CHECK(facts.iprev == Iprev::temperror);
        CHECK(facts.helo_provider == HeloProvider::temperror);
    }
    SECTION("a HELO that claims no listed provider") {
        const Facts facts = f.assess("192.0.2.1", "x.example.test");
        CHECK(facts.helo_provider == HeloProvider::na);
        // .test is reserved, not a top-level domain of the Public Suffix List.
        CHECK(facts.ptr_tld == PtrTld::unknown);
    }
    SECTION("no FQDN HELO, no PTR: n/a") {
        const Facts facts = f.assess("192.0.2.2", "[192.0.2.2]");
        CHECK(facts.helo_provider == HeloProvider::na);
        CHECK(facts.ptr_tld == PtrTld::na);
    }
}

TEST_CASE("generic PTR names, tied to the client address", "[assessment]") {
    auto& f = fixture();
    SECTION("pool name carrying the client's address") {
        const Facts facts = f.assess("192.0.2.10", "x.example.test");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.generic_ptr == GenericPtr::dynamic);
    }
    SECTION("server name") {
        CHECK(f.assess("192.0.2.1", "x.example.test").generic_ptr == GenericPtr::not_generic);
    }
    SECTION("unverified PTR name is still classified") {
        CHECK(f.assess("192.0.2.4", "x.example.test").generic_ptr == GenericPtr::not_generic);
    }
    SECTION("no PTR") {
        CHECK(f.assess("192.0.2.2", "x.example.test").generic_ptr == GenericPtr::na);
    }
}

TEST_CASE("assessments are kept as long as the shortest answer they rest on", "[assessment]") {
    auto& f = fixture();
    auto cache = std::make_shared<FactsCache>(100, 86400s);
    const auto now = std::chrono::steady_clock::now();
    Assessor reader(f.io, *f.resolver, AssessmentOptions{}, cache);
    Facts got;

    SECTION("confirmed client: kept for the A record's 120 s") {
        const Facts facts = f.assess("192.0.2.11", "ttl.example.test", {}, cache);
        REQUIRE(facts.iprev == Iprev::pass);
        REQUIRE(reader.find_cached(*parse_ip("192.0.2.11"), "ttl.example.test", now + 110s, got));
        CHECK(got.iprev == Iprev::pass);
        CHECK(got.ptr_names == facts.ptr_names);
        CHECK(got.verified_names == facts.verified_names);
        CHECK(got.helo_forward == facts.helo_forward);
        CHECK(got.helo_ptr_alignment == facts.helo_ptr_alignment);
        CHECK(got.generic_ptr == facts.generic_ptr);
        // Another HELO name is another key.
        CHECK_FALSE(reader.find_cached(*parse_ip("192.0.2.11"), "x.example.test", now, got));
        CHECK_FALSE(
            reader.find_cached(*parse_ip("192.0.2.11"), "ttl.example.test", now + 125s, got));
    }
    SECTION("no PTR: kept for the NXDOMAIN's SOA-derived 300 s") {
        REQUIRE(f.assess("192.0.2.22", "[192.0.2.22]", {}, cache).iprev == Iprev::permerror);
        REQUIRE(reader.find_cached(*parse_ip("192.0.2.22"), "[192.0.2.22]", now + 290s, got));
        CHECK(got.iprev == Iprev::permerror);
        CHECK(got.helo_literal == HeloLiteral::match);
        CHECK_FALSE(reader.find_cached(*parse_ip("192.0.2.22"), "[192.0.2.22]", now + 305s, got));
    }
    SECTION("a temporary failure is never kept") {
        REQUIRE(f.assess("192.0.2.7", "x.example.test", {}, cache).iprev == Iprev::temperror);
        CHECK_FALSE(reader.find_cached(*parse_ip("192.0.2.7"), "x.example.test", now, got));
        CHECK(cache->stats().size == 0);
    }
    SECTION("what the budget cut off is never kept") {
        AssessmentOptions options;
        options.budget = 250ms;
        const Facts facts = f.assess("192.0.2.9", "pass.example.test", options, cache);
        REQUIRE(facts.budget_exhausted);
        CHECK_FALSE(reader.find_cached(*parse_ip("192.0.2.9"), "pass.example.test", now, got));
        CHECK(cache->stats().size == 0);
    }
}
