// Rules from TOML: the one place that turns a parsed configuration document
// into a RuleTable, and the only rules/ header that includes toml++.
//
// Contract: reads every [[rule]] entry and the [policy] table (which holds
// only default_action, "DUNNO" when absent, and dry_run, false when absent).
// Every problem is appended to errors as "<file>:<line>: <message>" (all of
// them, not just the first); the result is nullopt if there was any. May
// allocate, read list files and compile regexes: call it at start-up or
// reload, never per request.
//
// A [[rule]] holds id ([a-z0-9][a-z0-9_-]*, unique, not "default"), action
// (rules/action.hpp), mode ("enforce", the default, or "shadow") and any of
// these conditions, each a string or a non-empty list (any-of): iprev,
// helo_syntax, helo_literal, helo_forward (the words of policyd/checks/facts.hpp),
// client_address (addresses and CIDRs, v4 and v6), helo_name and ptr_name
// ("name" or ".suffix"; ptr_name checks verified names only), sender and
// recipient ("user@domain", "@domain" for exactly that domain, "@.domain"
// for any domain below it, "user@", "<>"), helo_name_regex, ptr_name_regex,
// sender_regex, recipient_regex (RE2), sasl_username (true, false or user
// names), protocol_state, policy_context (exact, case-sensitive) and
// server_port (an integer 1-65535 or a list of them). Any other key is an
// error.
//
// List files: in client_address, helo_name, ptr_name, sender and recipient
// an entry "file:<path>" stands for the patterns in that file, one a line
// (surrounding blanks trimmed; blank lines and lines starting with # are
// skipped; no nesting). A relative path is taken from the directory of
// source_name, so source_name must be the rule file's path. A bad entry is
// reported as "<list file>:<line>: ..."; an unreadable file (or one over
// 16 MiB) at the rule file's line. Files are read only here: a changed list
// file takes effect at the next reload.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rules.hpp"

namespace rules {

std::optional<RuleTable> parse_rule_table(const toml::table& root, std::string_view source_name,
                                          std::vector<std::string>& errors);

}  // namespace rules
