// The [[dnsbl]] tables of the configuration file: DNS blocklists on the
// client address, the verified PTR name's domain or the HELO's domain
// (policyd/checks/blocklists.hpp). None by default.
//
//   [[dnsbl]]
//   name = "zen"                  # [a-z0-9][a-z0-9_-]*, unique; rules name it
//   zone = "zen.spamhaus.org"     # the list's DNS zone
//   check = "client"              # client | ptr | helo
//   codes = { "127.0.0.2" = "sbl", "127.0.0.4" = "xbl" }   # optional meanings
//
// Contract: read_blocklists() appends every problem to `errors` as
// "file:line: message" and returns the lists it could read; a code is an
// IPv4 address in 127.0.0.0/8 (not 127.255.255.0/24, which lists use for
// errors), its meaning [a-z0-9_-]+. blocklist_signature() is a canonical
// text of the lists, for telling a reload that changed them (they take
// effect at a restart, like the resolver).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "policyd/checks/blocklists.hpp"

namespace policyd {

Blocklists read_blocklists(const toml::table& root, std::string_view file,
                           std::vector<std::string>& errors);

std::string blocklist_signature(const Blocklists& lists);

}  // namespace policyd
