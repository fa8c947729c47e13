// Unit tests for policyd/base/dns_name.hpp and policyd/base/ascii.hpp (the one
// name validator, comparison, case folding) and resolver/reverse_name.hpp.
#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"
#include "resolver/reverse_name.hpp"

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
        CHECK(policyd::normalise_name(row.in) == row.out);
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
        CHECK(policyd::names_equal(row.a, row.b) == row.equal);
        CHECK(policyd::names_equal(row.b, row.a) == row.equal);
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

TEST_CASE("is_dns_name: the one validator of names in text form", "[dns_name]") {
    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    // 4 labels of 63 and 3 dots = 255 > 253; 3 x 63 + 61 + 3 dots = 253.
    const std::string name253 =
        label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    const std::string name254 = name253 + "c";
    struct Row {
        std::string name;
        bool valid;
    };
    const std::vector<Row> rows = {
        {"mail.example.com", true},
        {"MAIL.Example.COM", true},
        {"localhost", true},
        {"_dmarc.example.com", true},
        {"xn--bcher-kva.example", true},
        {"1.2.3.4", true},  // digits are bytes of a name; shapes are the caller's
        {"-a.example", true},
        {label63 + ".example", true},
        {label64 + ".example", false},
        {name253, true},
        {name254, false},
        {"", false},
        {".", false},
        {"example.com.", false},  // strip_root_dot() first
        {".example.com", false},
        {"a..b", false},
        {"a b.example", false},
        {"caf\xc3\xa9.example", false},
        {std::string("nul\0.example", 12), false},
    };
    for (const auto& row : rows) {
        INFO(row.name);
        CHECK(policyd::is_dns_name(row.name) == row.valid);
    }
    CHECK(policyd::strip_root_dot("example.com.") == "example.com");
    CHECK(policyd::strip_root_dot("example.com") == "example.com");
    CHECK(policyd::strip_root_dot("").empty());
}

TEST_CASE("ASCII case folding leaves every other byte alone", "[ascii]") {
    CHECK(policyd::to_lower("MiXeD-123.Example") == "mixed-123.example");
    // Latin-1 capital A with grave (0xC0) and UTF-8 bytes are not letters here.
    CHECK(policyd::to_lower("\xc0\xc3\x89Z") == "\xc0\xc3\x89z");
    CHECK(policyd::iequals("RCPT", "rcpt"));
    CHECK_FALSE(policyd::iequals("RCPT", "rcpt "));
    CHECK_FALSE(policyd::iequals("\xc0", "\xe0"));
    CHECK(policyd::istarts_with("IPv6:2001:db8::1", "ipv6:"));
    CHECK_FALSE(policyd::istarts_with("IPv", "ipv6:"));
    CHECK(policyd::IHash{}("Example.COM") == policyd::IHash{}("example.com"));
    CHECK(policyd::IEqual{}("Example.COM", "example.com"));
    CHECK(policyd::is_hex_digit('F'));
    CHECK_FALSE(policyd::is_hex_digit('g'));
    CHECK(policyd::is_control('\x7f'));
    CHECK_FALSE(policyd::is_control(' '));
}
