// Unit tests for policyd/checks/helo.hpp: HELO classification and address literals.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/checks/helo.hpp"

using policyd::HeloLiteral;
using policyd::HeloSyntax;

namespace {

struct SyntaxRow {
    std::string helo;
    HeloSyntax expected;
};

std::string repeat(char c, std::size_t n) {
    return std::string(n, c);
}

// A name of exactly `total` characters made of 63-character labels and a
// shorter last label; the last label starts with a letter so the TLD rule
// does not interfere.
std::string name_of_length(std::size_t total) {
    std::string name;
    while (total - name.size() > 64) {
        name += repeat('a', 63) + ".";
    }
    name += "b" + repeat('c', total - name.size() - 1);
    return name;
}

policyd::IpAddress ip(const char* text) {
    const auto address = policyd::parse_ip(text);
    REQUIRE(address);
    return *address;
}

}  // namespace

TEST_CASE("classify_helo: table of HELO arguments", "[helo]") {
    const std::string label63 = repeat('a', 63);
    const std::string label64 = repeat('a', 64);
    REQUIRE(name_of_length(253).size() == 253);
    REQUIRE(name_of_length(254).size() == 254);

    const std::vector<SyntaxRow> rows = {
        // missing: only the empty string; nothing is trimmed.
        {"", HeloSyntax::missing},
        {" ", HeloSyntax::invalid},
        {"mail.example.com ", HeloSyntax::invalid},
        // fqdn
        {"mail.example.com", HeloSyntax::fqdn},
        {"example.com", HeloSyntax::fqdn},
        {"MAIL.EXAMPLE.COM", HeloSyntax::fqdn},
        {"Mx-1.Example.Org", HeloSyntax::fqdn},
        {"xn--bcher-kva.example", HeloSyntax::fqdn},
        {"a.b", HeloSyntax::fqdn},
        {"1.2.3.4.example", HeloSyntax::fqdn},
        {"123.example.com", HeloSyntax::fqdn},
        {"host.c0m", HeloSyntax::fqdn},
        {"a-b.c-d.e", HeloSyntax::fqdn},
        {label63 + ".example", HeloSyntax::fqdn},
        {name_of_length(253), HeloSyntax::fqdn},
        {"mail-01.eur.prod.protection.outlook.com", HeloSyntax::fqdn},
        // non-fqdn: one valid label
        {"localhost", HeloSyntax::non_fqdn},
        {"WIN-ABC123", HeloSyntax::non_fqdn},
        {"mailhost", HeloSyntax::non_fqdn},
        {"a", HeloSyntax::non_fqdn},
        {label63, HeloSyntax::non_fqdn},
        // address literals
        {"[192.0.2.1]", HeloSyntax::address_literal},
        {"[0.0.0.0]", HeloSyntax::address_literal},
        {"[255.255.255.255]", HeloSyntax::address_literal},
        {"[IPv6:2001:db8::1]", HeloSyntax::address_literal},
        {"[ipv6:2001:db8::1]", HeloSyntax::address_literal},
        {"[IPV6:::1]", HeloSyntax::address_literal},
        {"[IPv6:::ffff:192.0.2.1]", HeloSyntax::address_literal},
        {"[IPv6:2001:0db8:0000:0000:0000:0000:0000:0001]", HeloSyntax::address_literal},
        // bracketed but not a valid literal
        {"[1.2.3]", HeloSyntax::invalid},
        {"[1.2.3.4.5]", HeloSyntax::invalid},
        {"[256.1.1.1]", HeloSyntax::invalid},
        {"[+1.2.3.4]", HeloSyntax::invalid},
        {"[1.2.3.-4]", HeloSyntax::invalid},
        {"[1.2.3.0004]", HeloSyntax::invalid},
        {"[0x7f.0.0.1]", HeloSyntax::invalid},
        {"[1.2.3.4.]", HeloSyntax::invalid},
        {"[ 1.2.3.4]", HeloSyntax::invalid},
        {"[foo]", HeloSyntax::invalid},
        {"[mail.example.com]", HeloSyntax::invalid},
        {"[IPv6:zzz]", HeloSyntax::invalid},
        {"[IPv6:1.2.3.4]", HeloSyntax::invalid},
        {"[IPv6:2001:db8::1::2]", HeloSyntax::invalid},
        {"[IPv6:fe80::1%eth0]", HeloSyntax::invalid},
        {"[IPv6:]", HeloSyntax::invalid},
        // An IPv6 address in brackets without the tag: real clients send it
        // and Postfix accepts it; helo_literal_form says it is untagged.
        {"[2001:db8::1]", HeloSyntax::address_literal},
        {"[::1]", HeloSyntax::address_literal},
        {"[2001:db8::1::2]", HeloSyntax::invalid},
        {"[fe80::1%eth0]", HeloSyntax::invalid},
        {"[:]", HeloSyntax::invalid},
        {"[1.2.3.4", HeloSyntax::invalid},
        {"1.2.3.4]", HeloSyntax::invalid},
        {"[]", HeloSyntax::invalid},
        {"[", HeloSyntax::invalid},
        {"[[1.2.3.4]]", HeloSyntax::invalid},
        {"[1.2.3.4]x", HeloSyntax::invalid},
        // bare IP
        {"1.2.3.4", HeloSyntax::bare_ip},
        {"192.0.2.1", HeloSyntax::bare_ip},
        {"2001:db8::1", HeloSyntax::bare_ip},
        {"::1", HeloSyntax::bare_ip},
        {"::ffff:192.0.2.1", HeloSyntax::bare_ip},
        // invalid
        {"a..b", HeloSyntax::invalid},
        {".example.com", HeloSyntax::invalid},
        {"mail.example.com.", HeloSyntax::invalid},
        {"localhost.", HeloSyntax::invalid},
        {".", HeloSyntax::invalid},
        {"..", HeloSyntax::invalid},
        {"-mail.example.com", HeloSyntax::invalid},
        {"mail-.example.com", HeloSyntax::invalid},
        {"mail.example.com-", HeloSyntax::invalid},
        {"-", HeloSyntax::invalid},
        {"mail_host.example.com", HeloSyntax::invalid},
        {"_dmarc", HeloSyntax::invalid},
        {"mail example.com", HeloSyntax::invalid},
        {"mail\texample", HeloSyntax::invalid},
        {std::string("mail\0x.example", 14), HeloSyntax::invalid},
        {"m\xc3\xbc"
         "ller.example",
         HeloSyntax::invalid},
        {"mail@example.com", HeloSyntax::invalid},
        {"1.2.3", HeloSyntax::invalid},
        {"host.123", HeloSyntax::invalid},
        {"1.2.3.4.5", HeloSyntax::invalid},
        {"256.1.1.1", HeloSyntax::invalid},
        {"+1.2.3.4", HeloSyntax::invalid},
        {"123", HeloSyntax::invalid},
        {"2001:db8::zz", HeloSyntax::invalid},
        {"IPv6:2001:db8::1", HeloSyntax::invalid},
        {"fe80::1%eth0", HeloSyntax::invalid},
        {label64, HeloSyntax::invalid},
        {label64 + ".example", HeloSyntax::invalid},
        {"mail." + label64 + ".example", HeloSyntax::invalid},
        {name_of_length(254), HeloSyntax::invalid},
        {std::string(10000, 'a'), HeloSyntax::invalid},
    };
    REQUIRE(rows.size() >= 40);
    for (const auto& row : rows) {
        CAPTURE(row.helo);
        CHECK(policyd::classify_helo(row.helo) == row.expected);
    }
}

TEST_CASE("parse_address_literal: the address inside", "[helo]") {
    SECTION("IPv4 literal") {
        const auto a = policyd::parse_address_literal("[192.0.2.1]");
        REQUIRE(a);
        CHECK(*a == ip("192.0.2.1"));
    }
    SECTION("RFC 5321 Snum allows leading zeros, read as decimal") {
        const auto a = policyd::parse_address_literal("[010.002.003.004]");
        REQUIRE(a);
        CHECK(*a == ip("10.2.3.4"));
    }
    SECTION("IPv6 compressed forms give the same address") {
        const auto expected = ip("2001:db8::1");
        for (const char* text : {"[IPv6:2001:db8::1]", "[IPv6:2001:DB8:0:0:0:0:0:1]",
                                 "[ipv6:2001:0db8::0:1]", "[iPv6:2001:db8:0::1]"}) {
            CAPTURE(text);
            const auto a = policyd::parse_address_literal(text);
            REQUIRE(a);
            CHECK(*a == expected);
        }
    }
    SECTION("IPv4-mapped IPv6 literal comes back as IPv4") {
        const auto a = policyd::parse_address_literal("[IPv6:::ffff:192.0.2.1]");
        REQUIRE(a);
        CHECK(a->is_v4());
        CHECK(a->to_string() == "192.0.2.1");
    }
    SECTION("untagged IPv6 literal: the same address") {
        const auto a = policyd::parse_address_literal("[2001:DB8:0::1]");
        REQUIRE(a);
        CHECK(*a == ip("2001:db8::1"));
    }
    SECTION("not literals") {
        for (const char* text :
             {"", "[", "]", "[]", "192.0.2.1", "2001:db8::1", "[1.2.3]", "[IPv6:zzz]", "[1.2.3.4",
              "[foo]", "[IPv4:1.2.3.4]", "[IPv6:2001:db8::1 ]", "[2001:db8::1 ]", "[::zz]"}) {
            CAPTURE(text);
            CHECK_FALSE(policyd::parse_address_literal(text));
        }
    }
}

TEST_CASE("match_helo_literal: literal vs client", "[helo]") {
    struct Row {
        const char* helo;
        const char* client;
        HeloLiteral expected;
    };
    const std::vector<Row> rows = {
        {"[192.0.2.1]", "192.0.2.1", HeloLiteral::match},
        {"[198.51.100.1]", "192.0.2.2", HeloLiteral::mismatch},
        // Another address of the client's /24 or /64: tolerated, not a match.
        {"[192.0.2.1]", "192.0.2.2", HeloLiteral::same_network},
        {"[192.0.3.1]", "192.0.2.2", HeloLiteral::mismatch},
        {"[IPv6:2001:db8::1]", "2001:db8::2", HeloLiteral::same_network},
        {"[IPv6:2001:db8:0:1::1]", "2001:db8::2", HeloLiteral::mismatch},
        // An internal literal from a public client (a host behind NAT).
        {"[10.1.2.3]", "192.0.2.2", HeloLiteral::private_address},
        {"[192.168.1.5]", "198.51.100.7", HeloLiteral::private_address},
        {"[IPv6:fd00::5]", "2001:db8::2", HeloLiteral::private_address},
        // Internal to internal is no excuse: mismatch.
        {"[10.1.2.3]", "172.16.0.1", HeloLiteral::mismatch},
        {"[IPv6:::ffff:192.0.2.1]", "192.0.2.1", HeloLiteral::match},
        {"[IPv6:2001:db8::1]", "2001:db8::1", HeloLiteral::match},
        {"[ipv6:2001:DB8:0:0::1]", "2001:db8::1", HeloLiteral::match},
        {"[IPv6:2001:db8::1]", "2001:db8:1::2", HeloLiteral::mismatch},
        {"[IPv6:2001:db8::1]", "192.0.2.1", HeloLiteral::mismatch},
        {"[2001:db8::1]", "2001:db8::1", HeloLiteral::match},
        {"[2001:db8::1]", "2001:db8:1::2", HeloLiteral::mismatch},
        {"[192.0.2.1]", "2001:db8::1", HeloLiteral::mismatch},
        {"[127.0.0.1]", "::1", HeloLiteral::mismatch},
        {"mail.example.com", "192.0.2.1", HeloLiteral::na},
        {"192.0.2.1", "192.0.2.1", HeloLiteral::na},
        {"[192.0.2]", "192.0.2.1", HeloLiteral::na},
        {"", "192.0.2.1", HeloLiteral::na},
    };
    for (const auto& row : rows) {
        CAPTURE(row.helo, row.client);
        CHECK(policyd::match_helo_literal(row.helo, ip(row.client)) == row.expected);
    }

    SECTION("client in IPv4-mapped form, as Postfix may report it") {
        // Built without parse_ip, which would already normalise it.
        const auto mapped = boost::asio::ip::make_address("::ffff:192.0.2.1");
        REQUIRE(mapped.is_v6());
        CHECK(policyd::match_helo_literal("[192.0.2.1]", mapped) == HeloLiteral::match);
        CHECK(policyd::match_helo_literal("[IPv6:::ffff:192.0.2.1]", mapped) == HeloLiteral::match);
        CHECK(policyd::match_helo_literal("[192.0.2.9]", mapped) == HeloLiteral::same_network);
        CHECK(policyd::match_helo_literal("[198.51.100.9]", mapped) == HeloLiteral::mismatch);
    }
}

TEST_CASE("helo_literal_form: IPv4, tagged IPv6, untagged IPv6", "[helo]") {
    using policyd::HeloLiteralForm;
    const std::pair<const char*, HeloLiteralForm> rows[] = {
        {"[192.0.2.1]", HeloLiteralForm::ipv4},
        {"[IPv6:2001:db8::1]", HeloLiteralForm::ipv6},
        {"[ipv6:::ffff:192.0.2.1]", HeloLiteralForm::ipv6},
        {"[2001:db8::1]", HeloLiteralForm::ipv6_untagged},
        {"[::ffff:192.0.2.1]", HeloLiteralForm::ipv6_untagged},
        {"[2001:db8::1::2]", HeloLiteralForm::na},
        {"2001:db8::1", HeloLiteralForm::na},
        {"mail.example.com", HeloLiteralForm::na},
        {"", HeloLiteralForm::na},
    };
    for (const auto& [helo, form] : rows) {
        CAPTURE(helo);
        CHECK(policyd::helo_literal_form(helo) == form);
    }
}
