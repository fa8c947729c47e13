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
    if (const std::string_view ptr = representative_ptr(facts); !ptr.empty()) {
        // RFC 8601 §2.7.3: the PTR name as a comment.
        action += " (";
        action += ptr;
        action += ")";
    }
    return action;
}

}  // namespace policyd
