// Rule cases: `rdns-policyd test --config FILE CASES` — the admin's unit tests
// of a rule table. Each case is a request plus facts and the decision the
// admin expects; the runner evaluates the table and reports ok / FAIL.
//
// Case file (TOML), one [[case]] table per case:
//
//   [[case]]
//   name = "no PTR is rejected"       # required, unique
//   client_address = "192.0.2.1"      # required, an IPv4 or IPv6 address
//   helo_name = "mail.example.com"    # optional request attributes (strings):
//   sender = "a@example.com"          #   helo_name sender recipient sasl_username
//   recipient = "b@example.net"       #   protocol_state (default "RCPT")
//                                     #   policy_context server_port instance
//   iprev = "permerror"               # facts, in the rule file's words
//   expect_rule = "reject-no-ptr"     # at least one of expect_rule / expect_action
//   expect_action = "550 5.7.25 *"    # exact, or a prefix when it ends with '*'
//
// Facts: given facts are used as-is and no DNS lookup is made.
//  - iprev is required (there is no safe default for it).
//  - helo_syntax, helo_literal and helo_literal_form, when not given, are derived from helo_name
//    and client_address by the daemon's own pure functions (policyd/checks/helo.hpp).
//  - helo_mx, when not given, is "n/a" (as for a HELO with addresses).
//  - helo_forward is required when the HELO (given or derived) is a FQDN,
//    since the daemon would have looked it up; otherwise it is "n/a".
//  - helo_ptr_alignment and generic_ptr default to "n/a", iprev_dnssec and
//    helo_dnssec to "insecure".
//  - ptr_names and verified_names are lists of names; verified_names defaults
//    to ptr_names when iprev = "pass", else to none.
//  - dnsbl_listed is a list of blocklist listings as the decision record
//    logs them ("zen:xbl"), for rules with a dnsbl_listed condition.
// `lookup = true` instead takes every fact from live DNS, exactly as `explain`
// does (same resolver settings, no cache); such a case gives no facts.
//
// Contract: parsing collects every problem as "<source>:<line>: <message>"
// and yields no cases if there was any. expect_rule must name a rule of the
// table (or "default"). Case names are admin-written: output sanitises them.
// Start-up-style code: may throw only from the live lookups (resolver or
// Public Suffix List set-up), which the caller reports.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/protocol/request.hpp"
#include "rules/rules.hpp"

namespace policyd {

struct Config;

struct RuleCase {
    std::string name;
    unsigned line = 0;  // where the [[case]] starts
    Request request;
    IpAddress client;
    bool lookup = false;  // facts from live DNS; `facts` is then unused
    Facts facts;
    std::optional<std::string> expect_rule;
    std::optional<std::string> expect_action;  // a trailing '*' makes it a prefix
};

// Parses and validates case-file text against the table it will be run on.
std::vector<RuleCase> parse_rule_cases(std::string_view text, std::string_view source_name,
                                       const rules::RuleTable& table,
                                       std::vector<std::string>& errors);

// True when the decision is what the case expects.
bool case_passes(const RuleCase& rule_case, const rules::Decision& decision);

// Live facts for a `lookup = true` case; nullopt when the lookup could not
// complete.
using LiveFacts = std::function<std::optional<Facts>(const IpAddress&, std::string_view helo)>;

struct CaseTally {
    std::size_t passed = 0;
    std::size_t failed = 0;
};

// Runs every case on config's table, decided as the daemon decides
// (decide(), policyd/answer/responder.hpp; no outage, no header due),
// writing one "ok   NAME" / "FAIL NAME: ..." line each and then
// "N passed, M failed".
CaseTally run_rule_cases(const Config& config, const std::vector<RuleCase>& cases,
                         const LiveFacts& live, std::ostream& out);

// The `test` subcommand: reads the case file, runs it on config's table with
// live lookups from config's settings. Returns the exit status: 0 all
// passed, 1 some failed, 2 the case file does not read, parse or validate
// (errors on err).
int test_rule_cases(const Config& config, const std::string& cases_path, std::ostream& out,
                    std::ostream& err);

}  // namespace policyd
