// Profiles: shipped rule tables a configuration selects with [policy]
// profile = "NAME" (packaging/profiles/NAME.toml, built into the binary).
//
//  observe  decides nothing: every finding becomes an X-RDNS-Policy header;
//  rfc      the default: rejects what the RFCs call wrong, defers DNS
//           failures, warns where the RFCs forbid refusing;
//  strict   rfc, and refuses forged large-provider HELOs, generic PTR names
//           and HELO names that do not belong with the client.
//
// A profile's text holds only [[rule]] entries in the rule-file syntax. The
// loader (rules/loader.hpp) puts the configuration's own rules before the
// profile's, those with after_profile = true after them, and leaves out the
// profile rules [policy] disable_rules names.
#pragma once

#include <array>
#include <string_view>

namespace rules {

struct Profile {
    std::string_view name;
    std::string_view text;     // TOML, from packaging/profiles/NAME.toml
    std::string_view summary;  // one line, for --help-style listings
};

// Every profile, in the order the documentation lists them.
const std::array<Profile, 3>& profiles();

// The profile of that name, or null.
const Profile* find_profile(std::string_view name);

}  // namespace rules
