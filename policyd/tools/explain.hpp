// Explain: `rdns-policyd explain CLIENT_IP [HELO]` — one assessment done
// live, with every DNS answer, every fact, every rule considered and why it
// matched or not, and the final action. For admins, not for Postfix.
//
// Contract: runs its own io_context to completion on the calling thread;
// uses the configuration's resolver stack (policyd/config/stack.hpp, caches
// off: every lookup is made fresh) and decides with the daemon's own
// decide() (policyd/answer/responder.hpp), so what it shows is what the
// daemon would answer: the rule table's action, what [outage] action would
// answer during a DNS outage, and the Authentication-Results header the
// first request of a message would get. Returns the process exit status.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "policyd/config/settings.hpp"
#include "policyd/protocol/request.hpp"

namespace policyd {

struct ExplainRequest {
    std::string client_address;
    std::string helo_name;
    // Further request attributes (sender, recipient, server_port, ...: any a
    // rule condition looks at, rules/conditions.hpp); protocol_state is
    // RCPT unless given.
    std::vector<std::pair<Attr, std::string>> attributes;
    bool json = false;
};

int explain(const Config& config, const ExplainRequest& what, std::ostream& out);

}  // namespace policyd
