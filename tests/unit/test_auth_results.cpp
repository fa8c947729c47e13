// The RFC 8601 iprev header the daemon prepends once per message.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "policyd/answer/auth_results.hpp"
#include "policyd/base/dns_name.hpp"

using namespace policyd;

TEST_CASE("Authentication-Results carries iprev and the PTR name", "[headers]") {
    Facts facts;
    facts.iprev = Iprev::pass;
    facts.ptr_names = {"a.example.com", "mail.example.com"};
    facts.verified_names = {"mail.example.com"};
    CHECK(authentication_results_action("mx.example.org", facts, *parse_ip("192.0.2.1")) ==
          "PREPEND Authentication-Results: mx.example.org; iprev=pass policy.iprev=192.0.2.1 "
          "(mail.example.com)");

    facts.iprev = Iprev::fail;
    facts.verified_names.clear();
    CHECK(authentication_results_action("mx", facts, *parse_ip("::ffff:192.0.2.1")) ==
          "PREPEND Authentication-Results: mx; iprev=fail policy.iprev=192.0.2.1 "
          "(a.example.com)");

    facts.iprev = Iprev::permerror;
    facts.ptr_names.clear();
    CHECK(authentication_results_action("mx", facts, *parse_ip("2001:db8::1")) ==
          "PREPEND Authentication-Results: mx; iprev=permerror policy.iprev=2001:db8::1");
}

TEST_CASE("authserv-id must be a host name", "[headers]") {
    // The settings validate headers.authserv_id with the one DNS-name check.
    CHECK(is_dns_name("mx.example.org"));
    CHECK(is_dns_name("MX-1.example"));
    CHECK_FALSE(is_dns_name(""));
    CHECK_FALSE(is_dns_name("mx example"));
    CHECK_FALSE(is_dns_name("mx;iprev=pass"));
    CHECK_FALSE(is_dns_name(std::string(254, 'a')));
}

TEST_CASE("Authentication-Results with the HELO results", "[headers]") {
    Facts facts;
    facts.iprev = Iprev::pass;
    facts.ptr_names = {"mail.example.com"};
    facts.verified_names = {"mail.example.com"};
    facts.helo_syntax = HeloSyntax::fqdn;
    facts.helo_forward = HeloForward::pass;
    facts.helo_ptr_alignment = Alignment::org_domain;
    const auto client = *parse_ip("192.0.2.1");
    CHECK(authentication_results_action("mx", facts, client, "out.example.com") ==
          "PREPEND Authentication-Results: mx; iprev=pass policy.iprev=192.0.2.1 "
          "(mail.example.com); x-helo=pass smtp.helo=out.example.com policy.helo-syntax=fqdn "
          "policy.helo-forward=pass; x-ptr=neutral smtp.helo=out.example.com "
          "policy.ptr=mail.example.com");

    struct Row {
        HeloSyntax syntax;
        HeloLiteral literal;
        HeloForward forward;
        HeloMx mx;
        std::string_view helo;
    };
    const std::vector<Row> rows = {
        {HeloSyntax::missing, HeloLiteral::na, HeloForward::na, HeloMx::na, "none"},
        {HeloSyntax::non_fqdn, HeloLiteral::na, HeloForward::na, HeloMx::na, "fail"},
        {HeloSyntax::invalid, HeloLiteral::na, HeloForward::na, HeloMx::na, "fail"},
        {HeloSyntax::bare_ip, HeloLiteral::na, HeloForward::na, HeloMx::na, "fail"},
        {HeloSyntax::address_literal, HeloLiteral::match, HeloForward::na, HeloMx::na, "pass"},
        {HeloSyntax::address_literal, HeloLiteral::mismatch, HeloForward::na, HeloMx::na, "fail"},
        {HeloSyntax::address_literal, HeloLiteral::private_address, HeloForward::na, HeloMx::na,
         "neutral"},
        {HeloSyntax::fqdn, HeloLiteral::na, HeloForward::same_network, HeloMx::na, "neutral"},
        {HeloSyntax::fqdn, HeloLiteral::na, HeloForward::fail, HeloMx::na, "fail"},
        {HeloSyntax::fqdn, HeloLiteral::na, HeloForward::none, HeloMx::none, "fail"},
        {HeloSyntax::fqdn, HeloLiteral::na, HeloForward::none, HeloMx::present, "neutral"},
        {HeloSyntax::fqdn, HeloLiteral::na, HeloForward::temperror, HeloMx::na, "temperror"},
    };
    for (const Row& row : rows) {
        facts.helo_syntax = row.syntax;
        facts.helo_literal = row.literal;
        facts.helo_forward = row.forward;
        facts.helo_mx = row.mx;
        const std::string action = authentication_results_action("mx", facts, client, "x");
        INFO(action);
        CHECK(action.find("; x-helo=" + std::string(row.helo) + " ") != std::string::npos);
    }
    // What a client sent is in the header only as a name or a literal.
    facts.helo_syntax = HeloSyntax::invalid;
    CHECK(authentication_results_action("mx", facts, client, "evil; iprev=pass").find("evil") ==
          std::string::npos);
    facts.helo_syntax = HeloSyntax::address_literal;
    facts.helo_literal = HeloLiteral::match;
    CHECK(authentication_results_action("mx", facts, client, "[192.0.2.1]")
              .find("x-helo=pass smtp.helo=\"[192.0.2.1]\" policy.helo-syntax=address-literal") !=
          std::string::npos);
    facts.helo_ptr_alignment = Alignment::na;
    CHECK(authentication_results_action("mx", facts, client, "[192.0.2.1]")
              .ends_with("; x-ptr=none smtp.helo=\"[192.0.2.1]\""));
    facts.helo_ptr_alignment = Alignment::mismatch;
    CHECK(authentication_results_action("mx", facts, client, "[192.0.2.1]").find("; x-ptr=fail ") !=
          std::string::npos);
}
