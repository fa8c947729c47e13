#include "rules/profiles.hpp"

namespace rules {

// Generated from packaging/profiles/*.toml (cmake/embed_text.cmake).
extern const std::string_view kProfileObserveText;
extern const std::string_view kProfileRfcText;
extern const std::string_view kProfileStrictText;

const std::array<Profile, 3>& profiles() {
    static const std::array<Profile, 3> all = {
        Profile{"observe", kProfileObserveText,
                "decides nothing; every finding becomes an X-RDNS-Policy header"},
        Profile{"rfc", kProfileRfcText,
                "rejects what the RFCs call wrong, defers DNS failures, warns where the RFCs "
                "forbid refusing"},
        Profile{"strict", kProfileStrictText,
                "rfc, and refuses forged provider HELOs, generic PTR names and HELO names that "
                "do not belong with the client"},
    };
    return all;
}

const Profile* find_profile(std::string_view name) {
    for (const Profile& profile : profiles()) {
        if (profile.name == name) {
            return &profile;
        }
    }
    return nullptr;
}

}  // namespace rules
