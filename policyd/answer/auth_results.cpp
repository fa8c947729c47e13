#include "policyd/answer/auth_results.hpp"

namespace policyd {

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
