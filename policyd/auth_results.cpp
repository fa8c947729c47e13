#include "policyd/auth_results.hpp"

#include <algorithm>

namespace policyd {

bool valid_authserv_id(std::string_view id) {
    return !id.empty() && id.size() <= 253 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.';
    });
}

std::string authentication_results_action(std::string_view authserv_id, const Facts& facts,
                                          const IpAddress& client) {
    std::string action = "PREPEND Authentication-Results: ";
    action += authserv_id;
    action += "; iprev=";
    action += to_string(facts.iprev);
    action += " policy.iprev=";
    action += normalise(client).to_string();
    const std::vector<std::string>& names =
        facts.verified_names.empty() ? facts.ptr_names : facts.verified_names;
    if (!names.empty()) {
        // RFC 8601 §2.7.3: the PTR name as a comment.
        action += " (";
        action += names.front();
        action += ")";
    }
    return action;
}

}  // namespace policyd
