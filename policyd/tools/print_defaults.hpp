// print-defaults: `rdns-policyd print-defaults` writes the documented sample
// configuration: every setting with its help, whether a reload applies it,
// its choices or bounds, and its default, read from the one declaration of
// the settings (policyd/config/settings.hpp setting_docs()). The sample is
// itself a valid configuration.
#pragma once

#include <iosfwd>

namespace policyd {

void print_defaults(std::ostream& out);

}  // namespace policyd
