// Explain: `rdns-policyd explain CLIENT_IP [HELO]` — one assessment done
// live, with every DNS answer, every fact, every rule considered and why it
// matched or not, and the final action. For admins, not for Postfix.
//
// Contract: runs its own io_context to completion on the calling thread;
// uses the configuration's resolver settings and rule table, so what it
// shows is what the daemon would decide (minus its caches: every lookup is
// made fresh). Returns the process exit status.
#pragma once

#include <iosfwd>
#include <string>

#include "policyd/config/settings.hpp"

namespace policyd {

struct ExplainRequest {
    std::string client_address;
    std::string helo_name;
    std::string sender;
    std::string recipient;
    std::string sasl_username;
    bool json = false;
};

int explain(const Config& config, const ExplainRequest& what, std::ostream& out);

}  // namespace policyd
