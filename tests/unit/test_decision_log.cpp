// The decision record: stable keys, quoting, and no raw attacker bytes.
#include <catch2/catch.hpp>

#include "policyd/answer/decision_log.hpp"

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
