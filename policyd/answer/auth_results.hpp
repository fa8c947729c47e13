// Authentication-Results: the RFC 8601 header that carries the iprev result
// to content filters downstream (rspamd, SpamAssassin), added with Postfix's
// PREPEND action once per message.
//
// Contract: a pure formatter. authserv_id is validated at load time
// (policyd/config/settings.cpp) to be a DNS name (policyd/base/dns_name.hpp); everything else comes
// from Facts, whose names are DNS names already normalised and bounded, and from the parsed client
// address, so the result is one safe header line.
#pragma once

#include <string>
#include <string_view>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

// "PREPEND Authentication-Results: mx.example.org; iprev=pass
// policy.iprev=192.0.2.1 (mail.example.com)" — the comment names the
// verified PTR name, else the first PTR name, and is left out without one.
std::string authentication_results_action(std::string_view authserv_id, const Facts& facts,
                                          const IpAddress& client);

}  // namespace policyd
