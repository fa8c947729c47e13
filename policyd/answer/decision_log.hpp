// Decision log: the one structured record written for every answered request.
//
// Contract: for_each_field() is the one list of the record's fields, in
// order; the text line (format_decision) and the journal entry
// (policyd/daemon/journal.hpp) are both made from it. Values are passed as
// they are; each writer sanitises (policyd/base/sanitize.hpp). In the text
// line a value holding a space, quote, '=' or nothing at all is
// double-quoted, so the line splits unambiguously on spaces outside quotes.
// DecisionLog is where the Responder hands each record it is to write.
#pragma once

#include <charconv>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/checks/facts.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/protocol/request.hpp"
#include "rules/action.hpp"
#include "rules/rules.hpp"

namespace policyd {

struct DecisionRecord {
    const Request& request;
    const Facts& facts;
    // "dns" (assessed now), "cache" (FactsCache), "instance" (this
    // message's) or "rules" (decided without DNS: the facts DNS would tell
    // are logged as "skipped")
    std::string_view facts_source;
    bool dns_outage = false;  // the upstream was failing (resolver/upstream_health.hpp)
    const rules::Decision& decision;
    double elapsed_ms = 0;
    bool dns_skipped = false;  // facts_source "rules"
};

// Calls visit(key, value) for every field, in order: client_address ptr
// verified (names joined by ','), iprev helo, then the other facts of
// kFactFields by their names (helo_syntax helo_literal helo_forward
// helo_ptr_alignment generic_ptr iprev_dnssec helo_dnssec helo_literal_form
// helo_mx helo_provider ptr_tld client_dnsbl ptr_rhsbl helo_rhsbl), then
// dnsbl_listed (the listings, NAME:MEANING joined by ','), then
// helo_changed facts (dns|cache|instance) budget (ok|exhausted) dns_outage
// (no|yes) rule action, then dry_run=yes answer=... in dry-run mode and
// shadow=ID,ID shadow_class=CLASS,CLASS when shadow rules matched, then protocol_state sender
// recipient queue_id instance elapsed_ms. `scratch` holds joined values.
template <typename Visit>
void for_each_field(const DecisionRecord& record, std::string& scratch, Visit&& visit) {
    const Request& request = record.request;
    const Facts& facts = record.facts;
    const auto joined = [&scratch](const std::vector<std::string>& names) -> std::string_view {
        scratch.clear();
        for (const auto& name : names) {
            if (!scratch.empty()) {
                scratch += ',';
            }
            scratch += name;
        }
        return scratch;
    };
    visit("client_address", request.get(Attr::client_address));
    visit("ptr", joined(facts.ptr_names));
    visit("verified", joined(facts.verified_names));
    // iprev goes with the PTR names before it and the HELO's facts with the
    // HELO: the record's keys keep the order admins' parsers know.
    const auto word = [&record, &facts](const FactField& field) {
        return record.dns_skipped && field.from_dns ? std::string_view("skipped")
                                                    : field.word(facts);
    };
    visit(kFactFields.front().name, word(kFactFields.front()));
    visit("helo", request.get(Attr::helo_name));
    for (const auto& field : std::span(kFactFields).subspan(1)) {
        visit(field.name, word(field));
    }
    visit("dnsbl_listed", joined(facts.listings));
    visit("helo_changed", facts.helo_changed ? "yes" : "no");
    visit("facts", record.facts_source);
    visit("budget", facts.budget_exhausted ? "exhausted" : "ok");
    visit("dns_outage", record.dns_outage ? "yes" : "no");
    visit("rule", record.decision.rule_id);
    visit("action", record.decision.action);
    if (record.decision.dry_run) {
        visit("dry_run", "yes");
        visit("answer", record.decision.answer());
    }
    if (!record.decision.shadow.empty()) {
        scratch.clear();
        for (const auto& hit : record.decision.shadow) {
            scratch += (scratch.empty() ? "" : ",") + hit.rule_id;
        }
        visit("shadow", std::string_view(scratch));
        // What each of them would have done, in the same order (the class of
        // its action: rules/action.hpp), for `report`.
        scratch.clear();
        for (const auto& hit : record.decision.shadow) {
            if (!scratch.empty()) {
                scratch += ',';
            }
            scratch +=
                rules::kActionClassWords[static_cast<std::size_t>(rules::action_class(hit.action))];
        }
        visit("shadow_class", std::string_view(scratch));
    }
    visit("protocol_state", request.get(Attr::protocol_state));
    visit("sender", request.get(Attr::sender));
    visit("recipient", request.get(Attr::recipient));
    visit("queue_id", request.get(Attr::queue_id));
    visit("instance", request.get(Attr::instance));
    char elapsed[32];  // NOLINT(*-avoid-c-arrays): to_chars needs a buffer
    const auto written = std::to_chars(elapsed, elapsed + sizeof elapsed, record.elapsed_ms,
                                       std::chars_format::fixed, 3);
    visit("elapsed_ms", std::string_view(elapsed, static_cast<std::size_t>(written.ptr - elapsed)));
}

// A decision in the journal (policyd/daemon/logging.hpp): each field of the
// record under its journal name ("rule" -> "RDNS_RULE"), its value
// sanitised and at most kMaxJournalValue bytes.
inline constexpr std::string_view kJournalFieldPrefix = "RDNS_";
inline constexpr std::size_t kMaxJournalValue = 1024;
std::string journal_field_name(std::string_view key);

// Every key for_each_field() can write, in order (dry_run, answer and
// shadow included, which only some records have).
std::vector<std::string_view> decision_keys();

// "decision" and every field as ` key=value`.
std::string format_decision(const DecisionRecord& record);

// Where the Responder writes the records it is to log. Single-threaded.
class DecisionLog {
  public:
    virtual ~DecisionLog() = default;
    // False when nothing would be written (its level is off): the record is
    // then not even built.
    [[nodiscard]] virtual bool wanted() const = 0;
    virtual void write(const DecisionRecord& record) = 0;
};

// [log] decisions: is this decision to be logged at all? not-dunno logs a
// decision whose action is not DUNNO, that a shadow rule matched, or that
// the [outage] action made; an Authentication-Results header
// (header_added) goes on every accepted message and counts as DUNNO.
bool decision_logged(DecisionLogging logging, const rules::Decision& decision, bool header_added);

// Appends ` key=value`, quoting and sanitising value as described above.
void append_field(std::string& out, std::string_view key, std::string_view value);

}  // namespace policyd
