// Authentication-Results: the RFC 8601 header that carries the iprev result
// to content filters downstream (rspamd, SpamAssassin), added with Postfix's
// PREPEND action once per message.
//
// Contract: a pure formatter. authserv_id is validated at load time
// (policyd/config/settings.cpp) to be a DNS name (policyd/base/dns_name.hpp); everything else comes
// from Facts, whose names are DNS names already normalised and bounded, and from the parsed client
// address, so the result is one safe header line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

// "PREPEND Authentication-Results: mx.example.org; iprev=pass
// policy.iprev=192.0.2.1 (mail.example.com)" — the comment names the
// verified PTR name, else the first PTR name, and is left out without one.
//
// With helo_name set ([headers] helo = "yes"), two results of methods that
// are not registered with IANA follow, named as other authentication
// milters name them:
//   x-helo=RESULT [smtp.helo=NAME] policy.helo-syntax=SYNTAX
//          [policy.helo-forward=FORWARD]
//     pass: a FQDN that resolves to the client, or the client's own address
//     literal; neutral: only to its /24 or /64, a private literal from a
//     public client, or a name with only an MX; fail: no FQDN or literal,
//     another host's literal, or a name whose addresses are not the
//     client's; temperror: could not tell; none: no HELO.
//   x-ptr=RESULT [smtp.helo=NAME] [policy.ptr=PTR]
//     the HELO against the verified PTR names: pass (the same name),
//     neutral (the same organisational domain), fail (neither), none (no
//     verified PTR name or no FQDN HELO).
// smtp.helo is written only for a FQDN (a token) or an address literal
// (quoted), so nothing a client sends can break the header.
std::string authentication_results_action(std::string_view authserv_id, const Facts& facts,
                                          const IpAddress& client,
                                          std::optional<std::string_view> helo_name = {});

}  // namespace policyd
