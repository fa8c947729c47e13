// The HELO classifier and the address-literal parser
// (policyd/checks/helo.hpp), with the DNS-name helpers every HELO passes
// through (policyd/base/dns_name.hpp), on hostile HELO text.
//
// Invariants: an address literal parses exactly when it is classified as
// one, and then matches the client it names; a FQDN or single-label name is
// a DNS name; a DNS name's normal form is one, idempotent and equal to it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "policyd/base/address.hpp"
#include "policyd/base/dns_name.hpp"
#include "policyd/checks/helo.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view helo(reinterpret_cast<const char*>(data), size);
    const policyd::HeloSyntax syntax = policyd::classify_helo(helo);
    const auto literal = policyd::parse_address_literal(helo);
    fuzz::require(literal.has_value() == (syntax == policyd::HeloSyntax::address_literal),
                  "a literal parses exactly when it is classified as one");
    if (literal) {
        fuzz::require(policyd::match_helo_literal(helo, *literal) == policyd::HeloLiteral::match,
                      "a literal matches the address it names");
    } else {
        const auto client = *policyd::parse_ip("192.0.2.1");
        fuzz::require(policyd::match_helo_literal(helo, client) == policyd::HeloLiteral::na,
                      "a HELO that is no literal is n/a");
    }
    if (syntax == policyd::HeloSyntax::fqdn || syntax == policyd::HeloSyntax::non_fqdn) {
        fuzz::require(policyd::is_dns_name(helo), "a HELO host name is a DNS name");
    }
    // Normal forms: defined for DNS names, with or without one root dot
    // ("a.example.." loses one dot, as the contract says, and stays no name).
    if (policyd::is_dns_name(policyd::strip_root_dot(helo))) {
        const std::string once = policyd::normalise_name(helo);
        fuzz::require(policyd::is_dns_name(once), "the normal form is a DNS name");
        fuzz::require(policyd::normalise_name(once) == once, "normalising is idempotent");
        fuzz::require(policyd::names_equal(helo, once), "a name equals its normal form");
    }
    return 0;
}
