// Usage: the text of `rdns-policyd --help`, which the rdns-policyd(8) man
// page shows too (policyd/tools/man_pages.hpp): commands, options, signals
// and exit statuses, written once. explain's --ATTRIBUTE options are filled
// in from the condition table (rules/conditions.hpp).
#pragma once

#include <string>

namespace policyd {

std::string usage();

}  // namespace policyd
