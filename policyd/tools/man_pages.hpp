// Man pages: rdns-policyd(8) and rdns-policyd.toml(5), generated at build
// time (the rdns-policyd-man tool, policyd/gen_man.cpp) from the
// declarations the code runs on, so they cannot drift from it:
// - rdns-policyd(8): the --help text (policyd/tools/usage.hpp), the journal
//   fields (for_each_field's keys, policyd/answer/decision_log.hpp), files;
// - rdns-policyd.toml(5): every setting (setting_docs()), every [[rule]] key
//   (condition_specs()), every fact and its values (kFactFields), every
//   action macro (rules::macro_names()).
// Contract: pure writers of roff (man(7) macros); text from the tables is
// escaped, so a backslash, a leading dot or quote cannot become a request.
#pragma once

#include <iosfwd>

namespace policyd {

void write_man_page_8(std::ostream& out);
void write_man_page_5(std::ostream& out);

}  // namespace policyd
