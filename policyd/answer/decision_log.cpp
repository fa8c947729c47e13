#include "policyd/answer/decision_log.hpp"

#include <charconv>
#include <span>

#include "policyd/base/ascii.hpp"
#include "policyd/base/sanitize.hpp"

namespace policyd {
namespace {

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
    std::string out;
    out.reserve(512);
    out += "decision";
    std::string scratch;
    for_each_field(record, scratch, [&out](std::string_view key, std::string_view value) {
        append_field(out, key, value);
    });
    return out;
}

std::string journal_field_name(std::string_view key) {
    std::string name(kJournalFieldPrefix);
    for (const char c : key) {
        name += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    }
    return name;
}

std::vector<std::string_view> decision_keys() {
    // A record that has every optional field: in dry-run, with a shadow hit.
    const Request request;
    const Facts facts;
    rules::Decision decision;
    decision.dry_run = true;
    decision.shadow.push_back({"r", "DUNNO"});
    std::vector<std::string_view> keys;
    std::string scratch;
    for_each_field(DecisionRecord{request, facts, "dns", false, decision, 0}, scratch,
                   [&keys](std::string_view key, std::string_view) { keys.push_back(key); });
    return keys;
}

bool decision_logged(DecisionLogging logging, const rules::Decision& decision, bool header_added) {
    switch (logging) {
        case DecisionLogging::all:
            return true;
        case DecisionLogging::none:
            return false;
        case DecisionLogging::not_dunno:
            // The table's choice, also in dry-run (what would have been sent).
            return (!header_added && !iequals(decision.action, "DUNNO")) ||
                   !decision.shadow.empty() || decision.rule_id == "outage";
    }
    return true;
}

}  // namespace policyd
