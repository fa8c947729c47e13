// Rules from TOML: the one place that turns a parsed configuration document
// into a RuleTable, and the only rules/ header that includes toml++.
//
// Contract: reads every [[rule]] entry and the [policy] table (which holds
// only default_action, "DUNNO" when absent). Every problem is appended to
// errors as "<source_name>:<line>: <message>" (all of them, not just the
// first); the result is nullopt if there was any. May allocate and compile
// regexes: call it at start-up or reload, never per request.
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
