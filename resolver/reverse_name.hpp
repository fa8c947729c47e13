// Reverse names: the name a PTR lookup asks for.
//
// Contract: a pure function, any thread, no exceptions.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>

namespace resolver {

// The name to ask PTR for, without a trailing dot: "4.3.2.1.in-addr.arpa" for
// 1.2.3.4, the 32-nibble "...ip6.arpa" name for IPv6 (RFC 3596 §2.5). An
// IPv4-mapped IPv6 address (::ffff:1.2.3.4) gets the in-addr.arpa name, since
// that is where its PTR record lives.
std::string reverse_name(const boost::asio::ip::address& address);

}  // namespace resolver
