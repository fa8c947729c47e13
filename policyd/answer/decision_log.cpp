#include "policyd/answer/decision_log.hpp"

#include <charconv>
#include <span>

#include "policyd/base/sanitize.hpp"

namespace policyd {
namespace {

void append_names(std::string& out, std::string_view key, const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& name : names) {
        if (!joined.empty()) {
            joined += ',';
        }
        joined += name;
    }
    append_field(out, key, joined);
}

// One pass over the value: find_first_of() calls memchr() on its 4-byte
// set once per character, which made it the dearest part of a decision line.
bool needs_quotes(std::string_view value) {
    if (value.empty()) {
        return true;
    }
    for (const char c : value) {
        if (c == ' ' || c == '"' || c == '=' || c == '\\') {
            return true;
        }
    }
    return false;
}

}  // namespace

void append_field(std::string& out, std::string_view key, std::string_view value) {
    out += ' ';
    out += key;
    out += '=';
    const bool quote = needs_quotes(value);
    if (quote) {
        out += '"';
    }
    append_sanitized(out, value);
    if (quote) {
        out += '"';
    }
}

std::string format_decision(const DecisionRecord& record) {
    const Request& request = record.request;
    const Facts& facts = record.facts;
    std::string out;
    out.reserve(512);
    out += "decision";
    append_field(out, "client_address", request.get(Attr::client_address));
    append_names(out, "ptr", facts.ptr_names);
    append_names(out, "verified", facts.verified_names);
    // iprev goes with the PTR names before it and the HELO's facts with the
    // HELO: the record's keys keep the order admins' parsers know.
    append_field(out, kFactFields.front().name, kFactFields.front().word(facts));
    append_field(out, "helo", request.get(Attr::helo_name));
    for (const auto& field : std::span(kFactFields).subspan(1)) {
        append_field(out, field.name, field.word(facts));
    }
    append_field(out, "helo_changed", facts.helo_changed ? "yes" : "no");
    append_field(out, "facts", record.facts_source);
    append_field(out, "budget", facts.budget_exhausted ? "exhausted" : "ok");
    append_field(out, "dns_outage", record.dns_outage ? "yes" : "no");
    append_field(out, "rule", record.decision.rule_id);
    append_field(out, "action", record.decision.action);
    if (record.decision.dry_run) {
        append_field(out, "dry_run", "yes");
        append_field(out, "answer", record.decision.answer());
    }
    if (!record.decision.shadow.empty()) {
        std::string ids;
        for (const auto& hit : record.decision.shadow) {
            ids += (ids.empty() ? "" : ",") + hit.rule_id;
        }
        append_field(out, "shadow", ids);
    }
    append_field(out, "protocol_state", request.get(Attr::protocol_state));
    append_field(out, "sender", request.get(Attr::sender));
    append_field(out, "recipient", request.get(Attr::recipient));
    append_field(out, "queue_id", request.get(Attr::queue_id));
    append_field(out, "instance", request.get(Attr::instance));
    char elapsed[32];
    const auto written = std::to_chars(elapsed, elapsed + sizeof elapsed, record.elapsed_ms,
                                       std::chars_format::fixed, 3);
    append_field(out, "elapsed_ms", std::string_view(elapsed, written.ptr - elapsed));
    return out;
}

}  // namespace policyd
