#include "policyd/base/dns_name.hpp"

#include "policyd/base/ascii.hpp"

namespace policyd {

bool is_dns_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxName) {
        return false;
    }
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) {
                return false;
            }
            label = 0;
            continue;
        }
        if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_') || ++label > kMaxLabel) {
            return false;
        }
    }
    return label > 0;
}

std::string normalise_name(std::string_view name) {
    return to_lower(strip_root_dot(name));
}

bool names_equal(std::string_view a, std::string_view b) {
    return iequals(strip_root_dot(a), strip_root_dot(b));
}

}  // namespace policyd
