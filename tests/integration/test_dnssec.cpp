// Integration tests of DNSSEC validation and admin-pinned local data in
// resolver::Resolver: zones signed at test time with fresh keys
// (dnssec/make-zones.sh), served by NSD on loopback, validated by libunbound
// against the zones' DS records as trust anchors. The io_context is driven in
// loops bounded in time; nothing waits by sleeping.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dns_server.hpp"
#include "nsd_server.hpp"
#include "policyd/checks/assessment.hpp"
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
using testing_support::TestNsd;
// No domain-insecure in forward_to()'s config: the test zones are validated
// like any other.

namespace {

// The signed zones and the NSD serving them, made once per test run and
// removed at exit.
class DnssecLab {
  public:
    DnssecLab() : dir_(make_dir()), nsd_(zones(dir_)) {}
    ~DnssecLab() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    DnssecLab(const DnssecLab&) = delete;
    DnssecLab& operator=(const DnssecLab&) = delete;

    std::string anchors() const { return (dir_ / "anchors.key").string(); }
    const std::filesystem::path& dir() const { return dir_; }
    const TestNsd& nsd() const { return nsd_; }

  private:
    static std::filesystem::path make_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "rdns-dnssec-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp " + pattern);
        }
        testing_support::run_bounded(
            {"sh", std::string(TEST_DATA_DIR) + "/dnssec/make-zones.sh", pattern}, 30s);
        return pattern;
    }
    static std::vector<TestNsd::Zone> zones(const std::filesystem::path& dir) {
        std::vector<TestNsd::Zone> out;
        for (const char* name :
             {"example.test", "bogus.test", "expired.test", "2.0.192.in-addr.arpa"}) {
            out.push_back({name, (dir / (std::string(name) + ".signed")).string()});
        }
        out.push_back({"plain.test", (dir / "plain.test.zone").string()});
        return out;
    }

    std::filesystem::path dir_;
    TestNsd nsd_;
};

DnssecLab& lab() {
    static DnssecLab instance;
    return instance;
}

struct Query {
    std::string name;
    RrType type;
};

// Runs the lookups concurrently; every handler must run within the limit.
std::vector<Answer> resolve_all(boost::asio::io_context& io, Resolver& resolver,
                                const std::vector<Query>& queries,
                                std::chrono::milliseconds limit = 10s) {
    auto answers = std::make_shared<std::vector<Answer>>(queries.size());
    auto done = std::make_shared<std::size_t>(0);
    for (std::size_t i = 0; i < queries.size(); ++i) {
        resolver.lookup(queries[i].name, queries[i].type, [answers, done, i](Answer answer) {
            (*answers)[i] = std::move(answer);
            ++*done;
        });
    }
    REQUIRE(run_until(
        io, [&] { return *done == queries.size(); }, limit));
    return *answers;
}

std::vector<std::string> addresses_of(const Answer& answer) {
    std::vector<std::string> out;
    for (const auto& address : answer.addresses) {
        out.push_back(address.to_string());
    }
    return out;
}

std::string write_file(const std::string& name, const std::string& text) {
    const auto path = lab().dir() / name;
    std::ofstream(path) << text;
    return path.string();
}

}  // namespace

TEST_CASE("DNSSEC: answers are secure, bogus or insecure as the zone's signatures say",
          "[dnssec]") {
    struct Case {
        const char* label;
        Query query;
        Status status;
        bool secure;
        bool bogus;
        std::vector<std::string> data;  // addresses or PTR names
    };
    const std::vector<Case> cases = {
        {"signed A", {"host.example.test", RrType::a}, Status::ok, true, false, {"192.0.2.10"}},
        {"signed AAAA",
         {"host.example.test", RrType::aaaa},
         Status::ok,
         true,
         false,
         {"2001:db8::10"}},
        {"signed CNAME then A",
         {"alias.example.test", RrType::a},
         Status::ok,
         true,
         false,
         {"192.0.2.10"}},
        {"signed PTR",
         {"10.2.0.192.in-addr.arpa", RrType::ptr},
         Status::ok,
         true,
         false,
         {"host.example.test"}},
        {"NXDOMAIN proven by NSEC",
         {"nothere.example.test", RrType::a},
         Status::nxdomain,
         true,
         false,
         {}},
        {"NODATA proven by NSEC",
         {"mail.example.test", RrType::aaaa},
         Status::nodata,
         true,
         false,
         {}},
        {"record edited after signing",
         {"host.bogus.test", RrType::a},
         Status::temperror,
         false,
         true,
         {}},
        {"intact record beside it",
         {"mail.bogus.test", RrType::a},
         Status::ok,
         true,
         false,
         {"192.0.2.25"}},
        {"expired signatures",
         {"host.expired.test", RrType::a},
         Status::temperror,
         false,
         true,
         {}},
        {"unsigned zone, no anchor",
         {"host.plain.test", RrType::a},
         Status::ok,
         false,
         false,
         {"192.0.2.10"}},
    };
    boost::asio::io_context io;
    ResolverOptions options = forward_to(lab().nsd().forwarder(), 5000ms);
    options.trust_anchor_file = lab().anchors();
    Resolver resolver(io, options);
    std::vector<Query> queries;
    queries.reserve(cases.size());
    for (const auto& c : cases) {
        queries.push_back(c.query);
    }
    const auto answers = resolve_all(io, resolver, queries);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        const Answer& answer = answers[i];
        INFO(c.label << ": " << c.query.name << " -> " << resolver::to_string(answer.status)
                     << " error=\"" << answer.error << "\"");
        CHECK(answer.status == c.status);
        CHECK(answer.secure == c.secure);
        CHECK(answer.bogus == c.bogus);
        CHECK((c.query.type == RrType::ptr ? answer.names : addresses_of(answer)) == c.data);
        if (c.bogus) {
            CHECK(answer.error.rfind("DNSSEC bogus: ", 0) == 0);
        }
    }
}

TEST_CASE("DNSSEC: an RFC 5011 auto trust anchor file validates too", "[dnssec]") {
    boost::asio::io_context io;
    ResolverOptions options = forward_to(lab().nsd().forwarder(), 5000ms);
    // libunbound writes its probe state back into this file: a copy of its own.
    const auto copy = lab().dir() / "auto-example.test.ds";
    std::filesystem::copy_file(lab().dir() / "example.test.ds", copy,
                               std::filesystem::copy_options::overwrite_existing);
    options.auto_trust_anchor_file = copy.string();
    Resolver resolver(io, options);
    const auto answers = resolve_all(io, resolver,
                                     {{"host.example.test", RrType::a},
                                      {"host.bogus.test", RrType::a},
                                      {"nothere.example.test", RrType::a}});
    CHECK(answers[0].status == Status::ok);
    CHECK(answers[0].secure);
    // bogus.test has no anchor in this file: insecure, its edit goes unseen.
    CHECK(answers[1].status == Status::ok);
    CHECK_FALSE(answers[1].secure);
    CHECK_FALSE(answers[1].bogus);
    CHECK(answers[2].status == Status::nxdomain);
    CHECK(answers[2].secure);
}

TEST_CASE("DNSSEC: an anchor in the admin's libunbound file keeps the validator", "[dnssec]") {
    // Without an anchor the resolver runs libunbound's iterator alone; one
    // set only in resolver.unbound_config must still be validated against.
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(lab().nsd().forwarder(), 5000ms,
                                     "    trust-anchor-file: \"" + lab().anchors() + "\"\n"));
    const auto answers = resolve_all(
        io, resolver, {{"host.example.test", RrType::a}, {"host.bogus.test", RrType::a}});
    CHECK(answers[0].status == Status::ok);
    CHECK(answers[0].secure);
    CHECK(answers[1].bogus);
    CHECK(answers[1].status == Status::temperror);
}

TEST_CASE("DNSSEC: without a trust anchor nothing is validated", "[dnssec]") {
    boost::asio::io_context io;
    Resolver resolver(io, forward_to(lab().nsd().forwarder(), 5000ms));
    const auto answers = resolve_all(
        io, resolver, {{"host.example.test", RrType::a}, {"host.bogus.test", RrType::a}});
    for (const auto& answer : answers) {
        CHECK(answer.status == Status::ok);
        CHECK_FALSE(answer.secure);
        CHECK_FALSE(answer.bogus);
    }
    // The edited record is served as it is.
    CHECK(addresses_of(answers[1]) == std::vector<std::string>{"192.0.2.66"});
}

TEST_CASE("DNSSEC: bad trust anchor files stop the constructor", "[dnssec]") {
    boost::asio::io_context io;
    ResolverOptions options = forward_to(lab().nsd().forwarder(), 5000ms);
    SECTION("missing fixed anchor file") {
        options.trust_anchor_file = (lab().dir() / "no-such.key").string();
        CHECK_THROWS_WITH(Resolver(io, options), "trust anchor file " + options.trust_anchor_file +
                                                     ": No such file or directory");
    }
    SECTION("auto anchor file with keys of two names") {
        // The DS records of every test zone in one file.
        const auto copy = lab().dir() / "auto-all.key";
        std::filesystem::copy_file(lab().anchors(), copy,
                                   std::filesystem::copy_options::overwrite_existing);
        options.auto_trust_anchor_file = copy.string();
        CHECK_THROWS_WITH(Resolver(io, options),
                          "libunbound rejected the configuration (trust anchors: " + copy.string() +
                              "); its log above says why: initialization failure");
    }
    SECTION("missing auto anchor file") {
        options.auto_trust_anchor_file = (lab().dir() / "no-such-auto.key").string();
        CHECK_THROWS_WITH(Resolver(io, options), "auto trust anchor file " +
                                                     options.auto_trust_anchor_file +
                                                     ": No such file or directory");
    }
    SECTION("anchor file that is not DNS records") {
        options.trust_anchor_file = write_file("garbage.key", "this is not a DS record\n");
        CHECK_THROWS_WITH(Resolver(io, options),
                          Catch::Contains("(trust anchors: " + options.trust_anchor_file + ")"));
    }
}

TEST_CASE("local_data: pinned records answer without any upstream", "[dnssec][local_data]") {
    boost::asio::io_context io;
    const SilentUdpServer silent;  // any upstream query would time out
    ResolverOptions options = forward_to(silent.forwarder(), 1500ms);
    options.local_data = {"pinned.example.test. 300 IN A 192.0.2.77",
                          "77.2.0.192.in-addr.arpa. 300 IN PTR pinned.example.test."};
    Resolver resolver(io, options);
    const auto answers = resolve_all(io, resolver,
                                     {{"pinned.example.test", RrType::a},
                                      {"77.2.0.192.in-addr.arpa", RrType::ptr},
                                      {"pinned.example.test", RrType::aaaa},
                                      {"other.example.test", RrType::a}},
                                     5s);
    CHECK(answers[0].status == Status::ok);
    CHECK(addresses_of(answers[0]) == std::vector<std::string>{"192.0.2.77"});
    CHECK(answers[0].ttl == 300);
    CHECK_FALSE(answers[0].secure);  // local answers are not validated
    CHECK(answers[1].status == Status::ok);
    CHECK(answers[1].names == std::vector<std::string>{"pinned.example.test"});
    // A pinned name answers every other type locally, with NODATA...
    CHECK(answers[2].status == Status::nodata);
    // ...while names not pinned still go upstream (here: time out).
    CHECK(answers[3].status == Status::temperror);
    CHECK(answers[3].error == "timeout");
}

TEST_CASE("local_data: a malformed entry stops the constructor", "[dnssec][local_data]") {
    boost::asio::io_context io;
    const SilentUdpServer silent;
    ResolverOptions options = forward_to(silent.forwarder(), 1500ms);
    const std::string bad = GENERATE(as<std::string>{}, "pinned.example.test. 300 IN A not-an-ip",
                                     "pinned.example.test. 300 IN BOGUSTYPE 1", "");
    options.local_data = {"good.example.test. 300 IN A 192.0.2.1", bad};
    INFO("entry \"" << bad << "\"");
    CHECK_THROWS_WITH(Resolver(io, options),
                      Catch::StartsWith("local_data \"" + bad + "\": not a valid record"));
}

TEST_CASE("DNSSEC: facts carry the status of the answers they rest on", "[dnssec]") {
    using policyd::Dnssec;
    using policyd::HeloForward;
    using policyd::Iprev;
    boost::asio::io_context io;
    ResolverOptions options = forward_to(lab().nsd().forwarder(), 5000ms);
    options.trust_anchor_file = lab().anchors();
    Resolver resolver(io, options);
    policyd::Assessor assessor(io, resolver, policyd::AssessmentOptions{});
    const auto assess = [&](const char* client, const char* helo) {
        std::optional<policyd::Facts> facts;
        assessor.assess(*policyd::parse_ip(client), helo,
                        [&](policyd::Facts result) { facts = std::move(result); });
        REQUIRE(run_until(
            io, [&] { return facts.has_value(); }, 10s));
        return *facts;
    };
    SECTION("signed PTR and signed A: secure") {
        const auto facts = assess("192.0.2.10", "host.example.test");
        CHECK(facts.iprev == Iprev::pass);
        CHECK(facts.iprev_dnssec == Dnssec::secure);
        CHECK(facts.helo_forward == HeloForward::pass);
        CHECK(facts.helo_dnssec == Dnssec::secure);
    }
    SECTION("HELO in an unsigned zone: insecure, iprev still secure") {
        const auto facts = assess("192.0.2.10", "host.plain.test");
        CHECK(facts.iprev_dnssec == Dnssec::secure);
        CHECK(facts.helo_forward == HeloForward::pass);
        CHECK(facts.helo_dnssec == Dnssec::insecure);
    }
    SECTION("HELO whose address was tampered with: bogus, and temperror, not fail") {
        const auto facts = assess("192.0.2.10", "host.bogus.test");
        CHECK(facts.helo_forward == HeloForward::temperror);
        CHECK(facts.helo_dnssec == Dnssec::bogus);
        CHECK(facts.iprev_dnssec == Dnssec::secure);
    }
}
