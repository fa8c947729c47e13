// Address: parsing and comparing IP addresses as Postfix and DNS present them.
//
// Contract: pure functions, any thread. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is normalised to its IPv4 form everywhere, so a client
// that Postfix reports in mapped form compares equal to its A record and to a
// [192.0.2.1] HELO literal.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace policyd {

using IpAddress = boost::asio::ip::address;

// Parses a textual IPv4 or IPv6 address (no brackets, no zone id, no
// surrounding space). IPv4-mapped IPv6 addresses come back as IPv4.
std::optional<IpAddress> parse_ip(std::string_view text);

// The address with an IPv4-mapped IPv6 form replaced by the IPv4 address.
IpAddress normalise(const IpAddress& address);

// Equal as addresses after normalisation (so textual forms do not matter).
bool same_address(const IpAddress& a, const IpAddress& b);

// Not a public internet address: loopback, RFC 1918, CGNAT (100.64/10),
// link-local, IPv6 ULA (fc00::/7) and link-local, the unspecified address;
// an IPv4-mapped address as its IPv4. The networks the shipped rule table
// exempts as internal.
bool is_internal(const IpAddress& address);

// Both in one /24 (IPv4) or one /64 (IPv6), after normalising: the
// client's network, for the tolerant HELO fact values. Different families
// never are.
bool same_network(const IpAddress& a, const IpAddress& b);

// A TCP/UDP port written as plain decimal digits (no sign, no space, at most
// five digits), 0..65535; nullopt otherwise. Callers that need a real port
// refuse 0 themselves.
std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace policyd
