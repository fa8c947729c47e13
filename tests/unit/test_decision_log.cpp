// The decision record: stable keys, quoting, and no raw attacker bytes.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>

#include "policyd/answer/decision_log.hpp"
#include "policyd/daemon/logging.hpp"

using namespace policyd;

TEST_CASE("decision record carries every key, sanitised", "[log]") {
    Request request;
    request.set(Attr::client_address, "192.0.2.1");
    request.set(Attr::helo_name, "evil\r\nX-Injected: yes \"quoted\"");
    request.set(Attr::queue_id, "4ABC123");
    request.set(Attr::instance, "1a2b.3c4d.0");
    request.set(Attr::protocol_state, "RCPT");
    Facts facts;
    facts.iprev = Iprev::fail;
    facts.ptr_names = {"a.example.com", "b.example.com"};
    facts.helo_syntax = HeloSyntax::invalid;
    rules::Decision decision;
    decision.rule_id = "reject-fcrdns-fail";
    decision.action = "550 5.7.25 no";
    const std::string line =
        format_decision(DecisionRecord{request, facts, "dns", false, decision, 1.5});

    CHECK(line.rfind("decision client_address=192.0.2.1 ", 0) == 0);
    CHECK(line.find(" ptr=a.example.com,b.example.com ") != std::string::npos);
    CHECK(line.find(" verified=\"\" ") != std::string::npos);
    CHECK(line.find(" iprev=fail ") != std::string::npos);
    // The keys keep their order: iprev with the PTR names, then the HELO
    // and its facts.
    CHECK(line.find(" verified=\"\" iprev=fail helo=") != std::string::npos);
    CHECK(line.find(" helo_syntax=invalid helo_literal=n/a helo_forward=n/a") != std::string::npos);
    CHECK(line.find(" helo_syntax=invalid ") != std::string::npos);
    CHECK(line.find(" facts=dns budget=ok dns_outage=no rule=reject-fcrdns-fail ") !=
          std::string::npos);
    CHECK(line.find(" action=\"550 5.7.25 no\" ") != std::string::npos);
    CHECK(line.find(" queue_id=4ABC123 ") != std::string::npos);
    CHECK(line.find(" instance=1a2b.3c4d.0 ") != std::string::npos);
    CHECK(line.find(" elapsed_ms=1.500") != std::string::npos);
    // The hostile HELO is one quoted value: no raw CR/LF, quotes escaped.
    CHECK(line.find('\r') == std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find("helo=\"evil\\x0d\\x0aX-Injected: yes \\\"quoted\\\"\"") != std::string::npos);
}

TEST_CASE("a decision's journal entry: a sentence, a priority, RDNS_* fields", "[log][journal]") {
    Request request;
    request.set(Attr::client_address, "192.0.2.1");
    request.set(Attr::helo_name, "evil\r\nX: y");
    request.set(Attr::sender, std::string(5000, 'a') + "@example.com");
    Facts facts;
    facts.iprev = Iprev::permerror;
    rules::Decision decision;
    decision.rule_id = "reject-no-ptr";
    decision.action = "550 5.7.25 no PTR";
    decision.shadow = {{"would-warn", "WARN x"}};
    const auto fields =
        journal_fields(DecisionRecord{request, facts, "dns", false, decision, 2.25});
    const auto field = [&](std::string_view name) -> std::string {
        for (const auto& f : fields) {
            if (f.starts_with(std::string(name) + "=")) {
                return f.substr(name.size() + 1);
            }
        }
        return "(absent)";
    };
    CHECK(field("MESSAGE") ==
          "decision: 192.0.2.1 HELO evil\\x0d\\x0aX: y, PTR (none), iprev permerror: rule "
          "reject-no-ptr: 550 5.7.25 no PTR [shadow would-warn]");
    CHECK(field("PRIORITY") == "5");  // notice: the policy at work, not an error
    CHECK(field("SYSLOG_IDENTIFIER") == "rdns-policyd");
    CHECK(field("RDNS_CLIENT_ADDRESS") == "192.0.2.1");
    CHECK(field("RDNS_RULE") == "reject-no-ptr");
    CHECK(field("RDNS_IPREV") == "permerror");
    CHECK(field("RDNS_HELO") == "evil\\x0d\\x0aX: y");  // sanitised, no raw CR/LF
    CHECK(field("RDNS_SHADOW") == "would-warn");
    CHECK(field("RDNS_ELAPSED_MS") == "2.250");
    // Bounded: kMaxJournalValue bytes of input, then "...".
    CHECK(field("RDNS_SENDER").size() == kMaxJournalValue + 3);
    // One field per record key, every one of them.
    std::string scratch;
    std::size_t keys = 0;
    for_each_field(DecisionRecord{request, facts, "dns", false, decision, 2.25}, scratch,
                   [&keys](std::string_view, std::string_view) { ++keys; });
    CHECK(fields.size() == keys + 3);

    decision.action = "DUNNO";
    decision.rule_id = "outage";
    const auto outage = journal_fields(DecisionRecord{request, facts, "dns", true, decision, 1.0});
    CHECK(std::find(outage.begin(), outage.end(), "PRIORITY=4") != outage.end());
}

TEST_CASE("the journal socket never blocks: what journald cannot take is dropped and counted",
          "[log][journal]") {
    const std::string path = "/tmp/rdns-policyd-journal-test-" + std::to_string(::getpid());
    ::unlink(path.c_str());
    const int server = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(server >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    REQUIRE(::bind(server, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    const int small = 4096;
    ::setsockopt(server, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

    JournalSocket journal(path);
    const std::vector<std::string> fields = {"MESSAGE=decision: 192.0.2.1", "PRIORITY=6",
                                             "RDNS_RULE=default"};
    CHECK(journal.send(fields));
    std::array<char, 256> received{};
    const auto got = ::recv(server, received.data(), received.size(), 0);
    CHECK(std::string(received.data(), got > 0 ? static_cast<std::size_t>(got) : 0) ==
          "MESSAGE=decision: 192.0.2.1\nPRIORITY=6\nRDNS_RULE=default\n");
    // Nobody reads now: the buffer fills, and sending goes on without waiting.
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; ++i) {
        journal.send(fields);
    }
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    CHECK(journal.dropped() > 0);
    ::close(server);
    ::unlink(path.c_str());

    JournalSocket nowhere("/nonexistent/journal/socket");
    CHECK_FALSE(nowhere.send(fields));
    CHECK(nowhere.dropped() == 1);
}
