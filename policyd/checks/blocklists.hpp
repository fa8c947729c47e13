// Blocklists: DNS blocklist lookups on the client's identity, as facts.
// Configured in [[dnsbl]] (none by default); asked through the same
// resolver, answer cache, coalescing and time budget as every other lookup
// (policyd/checks/assessment.hpp).
//
//  - check = "client": the client address, reversed, under the zone
//    (DNSBL: "4.3.2.1.zen.example" for 1.2.3.4, 32 nibbles for IPv6);
//  - check = "ptr": the organisational domain of the first verified PTR
//    name under the zone (RHSBL / DBL style: "example.com.dbl.example");
//  - check = "helo": the organisational domain of a FQDN HELO, likewise.
//
// An A record in 127.0.0.0/8 is a listing, labelled by the configured
// meaning of that return code (or the address itself); 127.255.255.0/24 is
// what blocklists answer when they refuse a query (Spamhaus: a public
// resolver, a typo in the zone): temperror, never a listing. NXDOMAIN,
// NODATA and any other address are not a listing; a failed lookup is
// temperror.
//
// Contract: plain values, validated by the configuration reader
// (policyd/config/settings.cpp); the functions are pure.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policyd/base/address.hpp"
#include "resolver/resolver.hpp"

namespace policyd {

enum class BlocklistTarget : std::uint8_t { client, ptr, helo };
inline constexpr std::array<std::string_view, 3> kBlocklistTargetWords{"client", "ptr", "helo"};

struct Blocklist {
    std::string name;  // [a-z0-9][a-z0-9_-]*, unique: rules name it
    std::string zone;  // lower case, no trailing dot
    BlocklistTarget target = BlocklistTarget::client;
    // Return code -> its meaning ("127.0.0.4" -> "xbl"); others are labelled
    // by their address.
    std::vector<std::pair<IpAddress, std::string>> codes;
};

using Blocklists = std::vector<Blocklist>;

enum class ListingStatus : std::uint8_t { listed, not_listed, temperror };

struct Listing {
    ListingStatus status = ListingStatus::temperror;
    std::string label;  // when listed: the code's meaning or address
};

// What one answer to blocklist_query() says.
Listing read_listing(const Blocklist& list, const resolver::Answer& answer);

// The name to ask A for: the client address reversed (check = "client") or
// `domain` (the others), then the zone; "" when it would not be a DNS name
// (too long) or `domain` is empty.
std::string blocklist_query(const Blocklist& list, const IpAddress& client,
                            std::string_view domain);

}  // namespace policyd
