#include "policyd/tools/print_defaults.hpp"

#include <ostream>
#include <string_view>

#include "policyd/config/settings.hpp"
#include "rules/profiles.hpp"

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
    out << "\n[policy]\n"
           "# The answer when no rule decides.\n"
           "default_action = \"DUNNO\"\n"
           "# A shipped rule table to use (rdns-policyd print-defaults --profile NAME\n"
           "# prints its rules); the [[rule]]s of this file run before it, those with\n"
           "# after_profile = true after it, and disable_rules = [\"ID\", ...] leaves\n"
           "# some of its rules out. None by default: only this file's rules.\n";
    for (const auto& profile : rules::profiles()) {
        out << "#   " << profile.name << ": " << profile.summary << "\n";
    }
    out << "# profile = \"rfc\"\n";
    out << "\n# DNS blocklists (none by default): each [[dnsbl]] makes client_dnsbl,\n"
           "# ptr_rhsbl or helo_rhsbl a fact, and rules name its listings with\n"
           "# dnsbl_listed = \"NAME\" or \"NAME:MEANING\". Read at start-up.\n"
           "# [[dnsbl]]\n"
           "# name = \"zen\"\n"
           "# zone = \"zen.spamhaus.org\"\n"
           "# check = \"client\"            # client | ptr | helo\n"
           "# codes = { \"127.0.0.4\" = \"xbl\" }\n";
}

}  // namespace policyd
