// Unit tests for resolver/dns_name.hpp: name comparison and reverse names.
#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "resolver/dns_name.hpp"

TEST_CASE("normalise_name: lower case, one trailing dot removed", "[dns_name]") {
    struct Row {
        std::string in;
        std::string out;
    };
    const std::vector<Row> rows = {
        {"Mail.Example.COM.", "mail.example.com"},
        {"mail.example.com", "mail.example.com"},
        {"MAIL.EXAMPLE.COM", "mail.example.com"},
        {"a.b..", "a.b."},  // only one dot goes
        {".", ""},
        {"", ""},
        {"xn--BCHER-KVA.Example", "xn--bcher-kva.example"},
        // Non-ASCII bytes are left alone: no locale-dependent folding.
        {"M\xC3\x9C.example", "m\xC3\x9C.example"},
        {"_DMARC.Example.", "_dmarc.example"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.in);
        CHECK(resolver::normalise_name(row.in) == row.out);
    }
}

TEST_CASE("names_equal: ASCII case and one trailing dot ignored", "[dns_name]") {
    struct Row {
        const char* a;
        const char* b;
        bool equal;
    };
    const std::vector<Row> rows = {
        {"mail.example.com", "mail.example.com", true},
        {"Mail.Example.COM", "mail.example.com", true},
        {"mail.example.com.", "mail.example.com", true},
        {"mail.example.com", "MAIL.EXAMPLE.COM.", true},
        {"mail.example.com.", "mail.example.com.", true},
        {"mail.example.com..", "mail.example.com", false},
        {"mail.example.com", "mail.example.co", false},
        {"mail.example.com", "mail.example.org", false},
        {"mail.example.com", "mail1example.com", false},
        {"a-b", "a_b", false},
        // '@' is 'A' - 1 and '[' is 'Z' + 1: no folding beyond A-Z.
        {"@", "`", false},
        {"[", "{", false},
        {"", ".", true},
        {"", "", true},
        {"", "a", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.a, row.b);
        CHECK(resolver::names_equal(row.a, row.b) == row.equal);
        CHECK(resolver::names_equal(row.b, row.a) == row.equal);
    }
}

TEST_CASE("reverse_name: in-addr.arpa and ip6.arpa names", "[dns_name]") {
    struct Row {
        const char* address;
        const char* name;
    };
    const std::vector<Row> rows = {
        {"1.2.3.4", "4.3.2.1.in-addr.arpa"},
        {"192.0.2.1", "1.2.0.192.in-addr.arpa"},
        {"0.0.0.0", "0.0.0.0.in-addr.arpa"},
        {"255.255.255.255", "255.255.255.255.in-addr.arpa"},
        {"10.100.9.200", "200.9.100.10.in-addr.arpa"},
        // IPv4-mapped: the PTR lives under in-addr.arpa.
        {"::ffff:192.0.2.1", "1.2.0.192.in-addr.arpa"},
        {"2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
        {"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"},
        // RFC 3596 §2.5's own example: 4321:0:1:2:3:4:567:89ab.
        {"4321:0:1:2:3:4:567:89ab",
         "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa"},
        {"FFFF:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
         "e.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.ip6.arpa"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.address);
        const auto address = boost::asio::ip::make_address(row.address);
        CHECK(resolver::reverse_name(address) == row.name);
    }

    SECTION("an IPv6 name has 32 nibble labels and no trailing dot") {
        const auto name = resolver::reverse_name(boost::asio::ip::make_address("2001:db8::1"));
        CHECK(name.size() == 72);
        CHECK(name.back() != '.');
    }
}
