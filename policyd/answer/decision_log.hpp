// Decision log: the one structured record written for every answered request.
//
// Contract: a pure formatter. The record is "decision" followed by stable
// key=value pairs (see format_decision). Every value that came from the
// network or from DNS is sanitised (policyd/base/sanitize.hpp); a value holding a
// space, quote, '=' or nothing at all is double-quoted, so the line splits
// unambiguously on spaces outside quotes.
#pragma once

#include <string>

#include "policyd/checks/facts.hpp"
#include "policyd/protocol/request.hpp"
#include "rules/rules.hpp"

namespace policyd {

struct DecisionRecord {
    const Request& request;
    const Facts& facts;
    // "dns" (assessed now), "cache" (FactsCache) or "instance" (this message's)
    std::string_view facts_source;
    bool dns_outage = false;  // the upstream was failing (resolver/upstream_health.hpp)
    const rules::Decision& decision;
    double elapsed_ms = 0;
};

// Keys, in order: client_address ptr verified iprev helo, then the other
// facts of kFactFields by their names (helo_syntax helo_literal
// helo_forward helo_ptr_alignment generic_ptr iprev_dnssec helo_dnssec), then
// helo_changed facts (dns|cache|instance) budget (ok|exhausted)
// dns_outage (no|yes) rule action, then dry_run=yes answer=... in dry-run
// mode and shadow=ID,ID when shadow rules matched, then protocol_state
// sender recipient queue_id instance elapsed_ms.
std::string format_decision(const DecisionRecord& record);

// Appends ` key=value`, quoting and sanitising value as described above.
void append_field(std::string& out, std::string_view key, std::string_view value);

}  // namespace policyd
