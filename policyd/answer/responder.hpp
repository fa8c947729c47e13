// Responder: answering one policy request, with no sockets. The daemon,
// `explain` and `test` all decide through decide() below, so what explain
// shows (outage override and Authentication-Results header included) is
// what the daemon sends.
//
// A request is answered in two halves, so that a warm request costs no
// coroutine frame: begin() finds the facts where they are known already
// (this connection's current message, the InstanceCache, the FactsCache)
// or says they must be assessed; the caller then runs the assessment
// (Assessor::assess) into session.facts when needs_dns; finish() decides
// and writes the reply and the decision record.
//
// Contract:
// - Single-threaded (the event loop). The Responder holds references to the
//   assessor and the InstanceCache (policyd/config/stack.hpp owns them) and
//   asks `outage` for the upstream's state at decision time.
// - Every request is decided on the Config snapshot current when begin()
//   ran, whatever reloads happen while its lookups are in flight.
// - begin() returns nullopt when the request must get no reply (its
//   client_address is not an IP address): the caller logs and closes.
// - The Authentication-Results header goes out at most once per message,
//   also across two policy connections asking about one message.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "policyd/answer/decision_log.hpp"
#include "policyd/answer/tally.hpp"
#include "policyd/base/address.hpp"
#include "policyd/checks/assessment.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/checks/instance_cache.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/protocol/request.hpp"
#include "rules/rules.hpp"

namespace policyd {

// The decision on known facts, exactly as the daemon sends it:
//  1. the rule table decides;
//  2. during a DNS outage, [outage] action replaces it for a client whose
//     iprev is temperror (rule "outage");
//  3. when header_due and the answer is DUNNO (not in dry-run), the
//     Authentication-Results header ([headers] authserv_id) replaces it and
//     header_added is set.
rules::Decision decide(const Config& config, const rules::Evidence& evidence, bool dns_outage,
                       bool header_due, bool& header_added);

// What one policy connection last saw of the SMTP session it is asked
// about. smtpd keeps its policy connection across SMTP sessions, so an SMTP
// session is (client address, client port). One smtpd process handles one
// message at a time and asks about all of it on its one policy connection,
// so the message's facts are kept here: a later request about it costs no
// table lookup at all. The storage is reused from request to request.
struct SmtpSession {
    std::string client;
    std::string port;
    std::string helo;
    // The facts of the last request: those of message `instance`, made for
    // `client` and `helo`, when message_known.
    Facts facts;
    std::string instance;
    bool message_known = false;
    bool header_claimed = false;  // Authentication-Results sent for it
};

class Responder {
  public:
    using Clock = std::chrono::steady_clock;

    // `log` (may be null: nothing is logged) gets the decision record of
    // every request that [log] decisions says to log.
    Responder(Assessor& assessor, InstanceCache& instances, std::function<bool()> outage,
              bool remember_messages, DecisionLog* log = nullptr);

    // One request between its two halves.
    struct Pending {
        Clock::time_point started;
        std::shared_ptr<const Config> snapshot;
        IpAddress client;
        FactsSource source = FactsSource::instance;
        bool new_message = false;
        bool header_sent = false;  // for a message found in the InstanceCache
        bool needs_dns = false;    // assess into session.facts before finish()
    };

    std::optional<Pending> begin(const Request& request, std::shared_ptr<const Config> snapshot,
                                 SmtpSession& session);

    // Decides on session.facts, appends "action=...\n\n" to reply and hands
    // the decision record to the DecisionLog when it is to be logged (the
    // record is the dearest part of a warm answer: it is not built when the
    // log does not want it).
    void finish(const Request& request, SmtpSession& session, const Pending& pending,
                std::string& reply);

    // The connection closes: smtpd may reconnect in the middle of a message
    // (its policy connection reached smtpd_policy_service_max_ttl, or ours
    // timed out), so the message's facts go into the InstanceCache.
    void end_session(const SmtpSession& session);

    [[nodiscard]] Assessor& assessor() { return assessor_; }
    // Every request finish() answered, counted (policyd/answer/tally.hpp).
    [[nodiscard]] const Tally& tally() const { return tally_; }

  private:
    Assessor& assessor_;
    InstanceCache& instances_;
    std::function<bool()> outage_;
    bool remember_messages_;
    DecisionLog* log_;
    Tally tally_;
};

}  // namespace policyd
