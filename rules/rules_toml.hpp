// Rules from TOML: the one place that turns a parsed configuration document
// into a RuleTable, and the only rules/ header that includes toml++.
//
// Contract: reads every [[rule]] entry and the [policy] table (which holds
// only default_action, "DUNNO" when absent). Every problem is appended to
// errors as "<source_name>:<line>: <message>" (all of them, not just the
// first); the result is nullopt if there was any. May allocate and compile
// regexes: call it at start-up or reload, never per request.
//
// A [[rule]] holds id ([a-z0-9][a-z0-9_-]*, unique, not "default"), action
// (rules/action.hpp) and any of these conditions, each a string or a
// non-empty list (any-of): iprev, helo_syntax, helo_literal, helo_forward
// (the words of policyd/facts.hpp), client_address (addresses and CIDRs, v4
// and v6), helo_name and ptr_name ("name" or ".suffix"; ptr_name checks
// verified names only), sender and recipient ("user@domain", "@domain",
// "user@", "<>"), helo_name_regex, ptr_name_regex, sender_regex,
// recipient_regex (RE2), sasl_username (true, false or user names) and
// protocol_state. Any other key is an error.
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
