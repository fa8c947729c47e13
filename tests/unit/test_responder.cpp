// Unit tests of answering one request (policyd/answer/responder.hpp) with a
// fake Lookup behind a real Assessor: begin/finish, where the facts come
// from, the outage override and the Authentication-Results header once per
// message. No sockets, no DNS server: the fake answers through the loop.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "policyd/answer/responder.hpp"
#include "policyd/checks/facts_cache.hpp"
#include "resolver/resolver.hpp"

using namespace policyd;

namespace {

// Answers from a table, each through the loop; counts every lookup.
class FakeLookup final : public resolver::Lookup {
  public:
    explicit FakeLookup(boost::asio::io_context& io) : io_(io) {}

    void lookup(std::string_view name, resolver::RrType type, Handler handler) override {
        ++lookups;
        asked.emplace_back(std::string(name), type);
        resolver::Answer answer;
        answer.ttl = 300;
        answer.lifetime = 300;  // as the Resolver sets it (temperror: 0, below)
        const auto found = records.find({std::string(name), type});
        if (temperror) {
            answer.status = resolver::Status::temperror;
            answer.error = "SERVFAIL";
            answer.lifetime = 0;
        } else if (found == records.end()) {
            answer.status = resolver::Status::nxdomain;
        } else {
            answer.status = resolver::Status::ok;
            if (type == resolver::RrType::ptr) {
                answer.names = {found->second};
            } else {
                answer.addresses = {boost::asio::ip::make_address(found->second)};
            }
        }
        boost::asio::post(io_, [handler = std::move(handler), answer]() { handler(answer); });
    }

    std::map<std::pair<std::string, resolver::RrType>, std::string> records;
    int lookups = 0;
    std::vector<std::pair<std::string, resolver::RrType>> asked;
    bool temperror = false;

  private:
    boost::asio::io_context& io_;
};

std::shared_ptr<const Config> config_from(const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("rdns-policyd-responder-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << text;
    std::vector<std::string> errors;
    auto config = load_config(path.string(), {}, errors);
    std::filesystem::remove(path);
    for (const auto& error : errors) {
        UNSCOPED_INFO(error);
    }
    REQUIRE(config);
    return std::make_shared<const Config>(std::move(*config));
}

constexpr const char* kPolicy = R"(
[outage]
action = "DUNNO"
[headers]
authserv_id = "mx.example.org"
[[rule]]
id = "defer-dns-temperror"
iprev = "temperror"
action = "450 4.7.25 try later"
[[rule]]
id = "reject-no-ptr"
iprev = "permerror"
action = "550 5.7.25 no PTR for {client_address}"
)";

// Keeps the text of every record it is handed.
class RecordingLog final : public DecisionLog {
  public:
    [[nodiscard]] bool wanted() const override { return true; }
    void write(const DecisionRecord& record) override {
        records.push_back(format_decision(record));
    }
    std::vector<std::string> records;
};

struct Fixture {
    boost::asio::io_context io;
    RecordingLog log;
    FakeLookup dns{io};
    AssessmentOptions options;
    Assessor assessor{io, dns, options, std::make_shared<FactsCache>(100, std::chrono::hours(1))};
    InstanceCache instances{100, std::chrono::seconds(900)};
    bool outage = false;
    Responder responder{assessor, instances, [this] { return outage; }, true, &log};
    std::shared_ptr<const Config> config = config_from(kPolicy);

    Fixture() {
        dns.records[{"1.2.0.192.in-addr.arpa", resolver::RrType::ptr}] = "mail.example.com";
        dns.records[{"mail.example.com", resolver::RrType::a}] = "192.0.2.1";
    }

    struct Answer {
        std::string reply;
        std::string record;
        std::string_view source;
    };

    // Both halves, the assessment between them run on the loop.
    Answer ask(SmtpSession& session, const std::string& client, const std::string& instance) {
        Request request;
        request.set(Attr::request, "smtpd_access_policy");
        request.set(Attr::protocol_state, "RCPT");
        request.set(Attr::client_address, client);
        request.set(Attr::helo_name, "mail.example.com");
        request.set(Attr::instance, instance);
        auto pending = responder.begin(request, config, session);
        REQUIRE(pending);
        if (pending->needs_dns) {
            bool done = false;
            assessor.assess(pending->client, "mail.example.com", [&](Facts facts) {
                session.facts = std::move(facts);
                done = true;
            });
            io.restart();
            io.run();
            REQUIRE(done);
        }
        Answer answer;
        answer.source = kFactsSourceWords[static_cast<std::size_t>(pending->source)];
        const std::size_t logged = log.records.size();
        responder.finish(request, session, *pending, answer.reply);
        if (log.records.size() > logged) {
            answer.record = log.records.back();
        }
        return answer;
    }
};

}  // namespace

TEST_CASE("a request is answered from DNS once, then from what is known", "[responder]") {
    Fixture f;
    SmtpSession session;
    auto first = f.ask(session, "192.0.2.1", "msg1");
    CHECK(first.source == "dns");
    // The PTR, and the A of the PTR name and of the HELO name (no answer
    // cache here to merge the two): an IPv4 client is confirmed by an A
    // record only, so no AAAA is asked.
    CHECK(f.dns.lookups == 3);
    for (const auto& [name, type] : f.dns.asked) {
        INFO(name);
        CHECK(type != resolver::RrType::aaaa);
    }
    CHECK(first.record.find(" iprev=pass ") != std::string::npos);
    CHECK(first.record.find(" facts=dns ") != std::string::npos);

    // The same message again: its facts, no lookup.
    auto again = f.ask(session, "192.0.2.1", "msg1");
    CHECK(again.source == "instance");
    CHECK(f.dns.lookups == 3);

    // A new message of the same client on another connection: the facts cache.
    SmtpSession other;
    auto cached = f.ask(other, "192.0.2.1", "msg2");
    CHECK(cached.source == "cache");
    CHECK(f.dns.lookups == 3);

    // A client without PTR is rejected by the rule table, macros expanded.
    SmtpSession third;
    auto rejected = f.ask(third, "192.0.2.9", "msg3");
    CHECK(rejected.reply == "action=550 5.7.25 no PTR for 192.0.2.9\n\n");
    CHECK(rejected.record.find(" rule=reject-no-ptr ") != std::string::npos);
}

TEST_CASE("Authentication-Results goes out once per message", "[responder][headers]") {
    Fixture f;
    SmtpSession session;
    CHECK(f.ask(session, "192.0.2.1", "msg1").reply ==
          "action=PREPEND Authentication-Results: mx.example.org; iprev=pass "
          "policy.iprev=192.0.2.1 (mail.example.com)\n\n");
    CHECK(f.ask(session, "192.0.2.1", "msg1").reply == "action=DUNNO\n\n");
    // A second connection asking about the same message finds it claimed.
    SmtpSession second;
    CHECK(f.ask(second, "192.0.2.1", "msg1").reply == "action=DUNNO\n\n");
    // The next message gets its own header.
    CHECK(f.ask(session, "192.0.2.1", "msg2").reply.rfind("action=PREPEND ", 0) == 0);
}

TEST_CASE("during an outage [outage] action answers for iprev temperror", "[responder][outage]") {
    Fixture f;
    f.dns.temperror = true;
    SmtpSession session;
    auto normal = f.ask(session, "192.0.2.1", "msg1");
    CHECK(normal.reply == "action=450 4.7.25 try later\n\n");
    CHECK(normal.record.find(" dns_outage=no ") != std::string::npos);

    f.outage = true;
    SmtpSession during;
    auto overridden = f.ask(during, "192.0.2.1", "msg2");
    // The outage DUNNO is then what the header rides on.
    CHECK(overridden.reply.rfind("action=PREPEND Authentication-Results: mx.example.org; "
                                 "iprev=temperror",
                                 0) == 0);
    CHECK(overridden.record.find(" rule=outage ") != std::string::npos);
    CHECK(overridden.record.find(" dns_outage=yes ") != std::string::npos);
}

TEST_CASE("decide() is the daemon's decision on given facts", "[responder]") {
    const auto config = config_from(kPolicy);
    Request request;
    request.set(Attr::client_address, "192.0.2.1");
    Facts facts;
    facts.iprev = Iprev::temperror;
    const std::optional<IpAddress> client = parse_ip("192.0.2.1");
    const rules::Evidence evidence{request, facts, client};
    bool header = true;
    CHECK(decide(*config, evidence, false, false, header).rule_id == "defer-dns-temperror");
    CHECK_FALSE(header);
    CHECK(decide(*config, evidence, true, false, header).action == "DUNNO");
    // Not DUNNO: no header, even when one is due.
    CHECK(decide(*config, evidence, false, true, header).action == "450 4.7.25 try later");
    CHECK_FALSE(header);
    facts.iprev = Iprev::pass;
    CHECK(decide(*config, evidence, false, true, header).action.rfind("PREPEND ", 0) == 0);
    CHECK(header);
}

TEST_CASE("[log] decisions = not-dunno logs only what was not let through", "[responder][log]") {
    Fixture f;
    f.config = config_from(std::string(kPolicy) + "\n[log]\ndecisions = \"not-dunno\"\n");
    SmtpSession first;
    // Let through (the header rides on DUNNO): not logged.
    CHECK(f.ask(first, "192.0.2.1", "msg1").record.empty());
    SmtpSession second;
    const auto rejected = f.ask(second, "192.0.2.9", "msg2");
    CHECK(rejected.record.find(" rule=reject-no-ptr ") != std::string::npos);
    CHECK(f.log.records.size() == 1);

    f.config = config_from(std::string(kPolicy) + "\n[log]\ndecisions = \"none\"\n");
    SmtpSession third;
    CHECK(f.ask(third, "192.0.2.9", "msg3").record.empty());
    CHECK(f.log.records.size() == 1);
}

TEST_CASE("the tally counts every answer once, by rule, class, source and fact",
          "[responder][metrics]") {
    Fixture f;
    const auto rule = [&](std::string_view id) {
        Tally::RuleCounts found;
        f.responder.tally().for_each_rule([&](std::string_view seen, const auto& counts) {
            if (seen == id) {
                found = counts;
            }
        });
        return found;
    };
    const auto cls = [](rules::ActionClass c) { return static_cast<std::size_t>(c); };
    SmtpSession session;
    f.ask(session, "192.0.2.1", "msg1");  // the header rides on DUNNO: accept
    f.ask(session, "192.0.2.1", "msg1");  // the same message: instance
    SmtpSession other;
    f.ask(other, "192.0.2.9", "msg2");  // no PTR: rejected, from DNS
    const Tally& tally = f.responder.tally();
    CHECK(tally.requests(FactsSource::dns) == 2);
    CHECK(tally.requests(FactsSource::instance) == 1);
    CHECK(tally.requests(FactsSource::cache) == 0);
    CHECK(rule("default").decided[cls(rules::ActionClass::accept)] == 2);
    CHECK(rule("reject-no-ptr").decided[cls(rules::ActionClass::reject)] == 1);
    CHECK(rule("reject-no-ptr").decided[cls(rules::ActionClass::accept)] == 0);
    const auto iprev = static_cast<std::size_t>(find_fact("iprev") - kFactFields.data());
    CHECK(tally.fact(iprev, static_cast<std::size_t>(Iprev::pass)) == 2);
    CHECK(tally.fact(iprev, static_cast<std::size_t>(Iprev::permerror)) == 1);
    CHECK(tally.latency().count() == 3);
    CHECK(tally.budget_exhausted() == 0);
}

TEST_CASE("a table that decides on the request alone asks no DNS", "[responder][rules-only]") {
    Fixture f;
    f.config = config_from(R"(
[[rule]]
id = "exempt-authenticated"
sasl_username = true
action = "DUNNO"
[[rule]]
id = "reject-bad-helo"
helo_syntax = ["non-fqdn", "invalid"]
action = "550 5.5.2 HELO {helo_name} is not a FQDN"
[[rule]]
id = "reject-no-ptr"
iprev = "permerror"
action = "550 5.7.25 no PTR for {client_address}"
)");
    auto ask = [&](SmtpSession& session, const std::string& helo, const std::string& sasl,
                   const std::string& instance) {
        Request request;
        request.set(Attr::request, "smtpd_access_policy");
        request.set(Attr::protocol_state, "RCPT");
        request.set(Attr::client_address, "192.0.2.1");
        request.set(Attr::helo_name, helo);
        request.set(Attr::sasl_username, sasl);
        request.set(Attr::instance, instance);
        auto pending = f.responder.begin(request, f.config, session);
        REQUIRE(pending);
        if (pending->needs_dns) {
            bool done = false;
            f.assessor.assess(pending->client, helo, [&](Facts facts) {
                session.facts = std::move(facts);
                done = true;
            });
            f.io.restart();
            f.io.run();
            REQUIRE(done);
        }
        std::string reply;
        f.responder.finish(request, session, *pending, reply);
        return std::pair{std::string(kFactsSourceWords[static_cast<std::size_t>(pending->source)]),
                         reply};
    };
    SmtpSession session;
    SECTION("an authenticated client") {
        const auto [source, reply] = ask(session, "mail.example.com", "alice", "m1");
        CHECK(source == "rules");
        CHECK(reply == "action=DUNNO\n\n");
        CHECK(f.dns.lookups == 0);
        const std::string& record = f.log.records.back();
        CHECK(record.find(" facts=rules ") != std::string::npos);
        // What DNS would tell is not made up; the HELO text's facts are there.
        CHECK(record.find(" iprev=skipped ") != std::string::npos);
        CHECK(record.find(" helo_syntax=fqdn ") != std::string::npos);
        CHECK(f.responder.tally().requests(FactsSource::rules) == 1);
        // The next request about the message, unauthenticated in this
        // made-up case, is not judged on facts nobody looked up.
        const auto [again, answer] = ask(session, "mail.example.com", "", "m1");
        CHECK(again == "dns");
        CHECK(f.dns.lookups > 0);
        CHECK(answer == "action=DUNNO\n\n");
    }
    SECTION("a HELO that is certainly wrong") {
        const auto [source, reply] = ask(session, "localhost", "", "m2");
        CHECK(source == "rules");
        CHECK(reply == "action=550 5.5.2 HELO localhost is not a FQDN\n\n");
        CHECK(f.dns.lookups == 0);
    }
    SECTION("anything else needs the lookups") {
        const auto [source, reply] = ask(session, "mail.example.com", "", "m3");
        CHECK(source == "dns");
        CHECK(f.dns.lookups > 0);
    }
    SECTION("not when an Authentication-Results header may be due") {
        f.config = config_from(std::string("[headers]\nauthserv_id = \"mx.example.org\"\n") +
                               "[[rule]]\nid = \"exempt-authenticated\"\nsasl_username = true\n"
                               "action = \"DUNNO\"\n");
        const auto [source, reply] = ask(session, "mail.example.com", "alice", "m4");
        CHECK(source == "dns");
        CHECK(reply.rfind("action=PREPEND Authentication-Results: mx.example.org; iprev=pass", 0) ==
              0);
    }
}
