// HELO: classifying the HELO/EHLO argument and comparing an address literal
// with the client address.
//
// Contract: pure functions, any thread, no exceptions. classify_helo() does
// not allocate (it runs for every request). The input is the helo_name
// attribute exactly as Postfix sent it (Postfix has already trimmed it), and
// is attacker-controlled: nothing here trusts its length or its bytes.
//
// Classification, first rule that applies wins:
//  - missing:         the empty string. Nothing is trimmed here.
//  - address_literal: "[" IPv4 "]" or "[IPv6:" IPv6 "]" (RFC 5321 §4.1.3; the
//                     tag is case-insensitive, RFC 5321 §2.4), or "[" IPv6 "]"
//                     without the tag, which real clients send and Postfix's
//                     reject_invalid_helo_hostname accepts (helo_literal_form()
//                     tells it apart for the rules). IPv4 is a
//                     dotted quad of exactly four decimal Snum (1-3 digits,
//                     0-255; no sign, no hex, no shorter forms such as
//                     "1.2.3"); IPv6 is any form inet_pton accepts, with an
//                     embedded IPv4 tail allowed and no zone id. Anything else
//                     in brackets, or a bracket left open, is invalid:
//                     General-address-literal tags are not supported.
//  - bare_ip:         an IPv4 dotted quad or an IPv6 address without brackets
//                     ("1.2.3.4", "2001:db8::1"); RFC 5321 §4.1.1.1 requires
//                     the brackets.
//  - fqdn:            an RFC 5321 §2.3.5 Domain of two or more labels: each
//                     label 1-63 letters, digits or hyphens, not starting or
//                     ending with a hyphen; at most 253 characters; the last
//                     label is not all digits (so "1.2.3" and "host.123" are
//                     not names). Punycode labels ("xn--...") are ordinary LDH
//                     labels. A trailing dot is invalid.
//  - non_fqdn:        exactly one such label ("localhost", "WIN-ABC123"),
//                     unless it is all digits ("123" is invalid).
//  - invalid:         everything else (empty labels, leading dot, underscore,
//                     spaces, control or non-ASCII bytes, over-long labels or
//                     names, "1.2.3.4.5").
#pragma once

#include <optional>
#include <string_view>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

HeloSyntax classify_helo(std::string_view helo);

// The address inside a valid address-literal HELO, normalised (an IPv4-mapped
// IPv6 address comes back as IPv4); nullopt if helo is not a valid literal.
std::optional<IpAddress> parse_address_literal(std::string_view helo);

// A valid address literal compared as addresses with the client (after
// normalising both): match, else same_network (the client's /24 or /64),
// else private_address (an internal literal from a public client), else
// mismatch; na when the HELO is not a valid address literal (bracketed
// garbage included: its syntax is already "invalid").
HeloLiteral match_helo_literal(std::string_view helo, const IpAddress& client);

// ipv4, ipv6 (tagged), ipv6_untagged for a valid address literal; na otherwise.
HeloLiteralForm helo_literal_form(std::string_view helo);

}  // namespace policyd
