// DNS names: the comparison form of a domain name and reverse-lookup names.
//
// Contract: pure functions, any thread, no exceptions. Case folding is ASCII
// only (RFC 4343): bytes outside A-Z are compared as they are, so hostile
// non-ASCII data is never altered by a locale. The inputs are not validated
// here; that is the caller's business (policyd/helo.hpp for HELO names).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

namespace resolver {

// Lower-cased, one trailing dot removed: the form names are compared and
// logged in ("Mail.Example.COM." -> "mail.example.com").
std::string normalise_name(std::string_view name);

// Equal ignoring ASCII case and one trailing dot on either side. Does not
// allocate.
bool names_equal(std::string_view a, std::string_view b);

// The name to ask PTR for, without a trailing dot: "4.3.2.1.in-addr.arpa" for
// 1.2.3.4, the 32-nibble "...ip6.arpa" name for IPv6 (RFC 3596 §2.5). An
// IPv4-mapped IPv6 address (::ffff:1.2.3.4) gets the in-addr.arpa name, since
// that is where its PTR record lives.
std::string reverse_name(const boost::asio::ip::address& address);

}  // namespace resolver
