// Authentication-Results: the RFC 8601 header that carries the iprev result
// to content filters downstream (rspamd, SpamAssassin), added with Postfix's
// PREPEND action once per message.
//
// Contract: a pure formatter. authserv_id is validated at load time
// (settings.cpp) to be a host name; everything else comes from Facts, whose
// names are DNS names already normalised and bounded, and from the parsed
// client address, so the result is one safe header line.
#pragma once

#include <string>
#include <string_view>

#include "policyd/address.hpp"
#include "policyd/facts.hpp"

namespace policyd {

// "PREPEND Authentication-Results: mx.example.org; iprev=pass
// policy.iprev=192.0.2.1 (mail.example.com)" — the comment names the
// verified PTR name, else the first PTR name, and is left out without one.
std::string authentication_results_action(std::string_view authserv_id, const Facts& facts,
                                          const IpAddress& client);

// True when the name can stand as an RFC 8601 authserv-id here (a host
// name: letters, digits, '-', '.'; 1..253 bytes).
bool valid_authserv_id(std::string_view id);

}  // namespace policyd
