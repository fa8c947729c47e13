// Facts: what the assessment learned about one SMTP client, in the DESIGN.md
// vocabulary. Every DNS-derived fact has an explicit "could not tell" value
// (temperror); none of them is a boolean.
//
// Contract: Facts is a plain value built by the assessment and read by the
// rule table and the decision log. The enum names below are the words the
// rule file and the log use; to_string()/parse_*() convert both ways and are
// the only place those words are spelled.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/checks/alignment.hpp"

namespace policyd {

// RFC 8601 iprev: PTR lookup plus forward confirmation of the PTR names.
enum class Iprev { pass, fail, permerror, temperror };

// HELO/EHLO argument shape (RFC 5321 §2.3.5, §4.1.3).
enum class HeloSyntax { fqdn, non_fqdn, invalid, address_literal, bare_ip, missing };

// An address-literal HELO compared with the client address.
enum class HeloLiteral { match, mismatch, na };

// The HELO name's A/AAAA records contain the client address.
enum class HeloForward { pass, fail, none, temperror, na };

// The PTR name looks like a generic / dynamic pool name for this client
// (policyd/checks/generic_ptr.hpp); n/a without a PTR name.
enum class Generic { generic, not_generic, na };

// DNSSEC status of the answers a fact rests on: secure only when every one
// validated, bogus when any failed validation (libunbound then answers
// SERVFAIL, so the fact itself is temperror), insecure otherwise
// (unsigned, not validated, or no answer).
enum class Dnssec { secure, insecure, bogus };

std::string_view to_string(Iprev value);
std::string_view to_string(HeloSyntax value);
std::string_view to_string(HeloLiteral value);
std::string_view to_string(HeloForward value);
std::string_view to_string(Generic value);
std::string_view to_string(Dnssec value);

std::optional<Iprev> parse_iprev(std::string_view word);
std::optional<HeloSyntax> parse_helo_syntax(std::string_view word);
std::optional<HeloLiteral> parse_helo_literal(std::string_view word);
std::optional<HeloForward> parse_helo_forward(std::string_view word);
std::optional<Generic> parse_generic(std::string_view word);
std::optional<Dnssec> parse_dnssec(std::string_view word);

struct Facts {
    Iprev iprev = Iprev::temperror;
    // PTR names as published (lower-cased, no trailing dot), at most the
    // configured number; verified_names are those that forward-confirmed.
    std::vector<std::string> ptr_names;
    std::vector<std::string> verified_names;
    HeloSyntax helo_syntax = HeloSyntax::missing;
    HeloLiteral helo_literal = HeloLiteral::na;
    HeloForward helo_forward = HeloForward::na;
    // HELO name vs the verified PTR names (policyd/checks/alignment.hpp); n/a
    // without a FQDN HELO or a verified PTR name.
    Alignment helo_ptr_alignment = Alignment::na;
    // The first verified PTR name (else the first PTR name) classified.
    Generic generic_ptr = Generic::na;
    // iprev: the PTR answer and the forward answers of the confirming name
    // (of every name when none confirms). helo: the HELO's A/AAAA answers.
    Dnssec iprev_dnssec = Dnssec::insecure;
    Dnssec helo_dnssec = Dnssec::insecure;
    // Within one SMTP session (same client address and port on one policy
    // connection) the HELO name differs from the one before. Set by the
    // session, not by DNS.
    bool helo_changed = false;
    // The assessment's time budget cut some lookups off (they count as
    // temperror above).
    bool budget_exhausted = false;
};

}  // namespace policyd
