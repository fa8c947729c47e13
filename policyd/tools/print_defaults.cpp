#include "policyd/tools/print_defaults.hpp"

#include <ostream>
#include <string_view>

#include "policyd/config/settings.hpp"

namespace policyd {

void print_defaults(std::ostream& out) {
    out << "# rdns-policyd settings and their defaults (rdns-policyd print-defaults).\n"
           "# Settings marked [restart] take effect only when the daemon restarts.\n";
    std::string_view section;
    for (const auto& setting : setting_docs()) {
        if (setting.section != section) {
            section = setting.section;
            out << "\n[" << section << "]\n";
        }
        out << "# " << setting.help << (setting.reloadable ? "" : " [restart]") << "\n";
        if (!setting.choices.empty()) {
            out << "# One of: " << setting.choices << "\n";
        }
        out << setting.key << " = " << setting.default_toml;
        if (!setting.bounds.empty()) {
            out << "  # " << setting.bounds;
        }
        out << "\n";
    }
}

}  // namespace policyd
