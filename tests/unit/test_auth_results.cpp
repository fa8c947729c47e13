// The RFC 8601 iprev header the daemon prepends once per message.
#include <catch2/catch.hpp>

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
