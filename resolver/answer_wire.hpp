// Reading libunbound's answers (resolver/answer_wire.cpp): a ub_result, all
// of it hostile data from the network, becomes an Answer
// (resolver/resolver.hpp) with the lifetime its TTLs allow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "resolver/resolver.hpp"

struct ub_result;

namespace resolver {

// The Answer for libunbound's callback arguments: err (a ub_ctx error code,
// 0 for none) and result (may be null). NXDOMAIN and NODATA carry the SOA's
// negative TTL; a bogus answer, an rcode other than NOERROR / NXDOMAIN and
// every error are temperror; at most max_records names or addresses are
// kept; records that are malformed, or names that could never be host
// names, are dropped, and an answer left with none is NODATA.
Answer convert(int err, const ub_result* result, RrType type, std::size_t max_records);

// A temperror Answer saying why.
Answer make_error(std::string error);

// Decodes an uncompressed wire-format name (the whole rdata of a PTR) into
// dotted, lower-case text without the final dot, always a DNS name
// (policyd::is_dns_name); "" when it is malformed, compressed, the root
// name, or holds a byte no DNS name has (anything but letters, digits, '-'
// and '_').
std::string decode_wire_name(const unsigned char* data, std::size_t len);

// RFC 2308 section 5: min(SOA TTL, SOA MINIMUM) of the authority section's
// SOA in a whole answer packet; 0 when the packet is malformed or has none.
std::uint32_t negative_ttl_of(const void* data, int data_len);

}  // namespace resolver
