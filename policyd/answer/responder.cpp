#include "policyd/answer/responder.hpp"

#include <utility>

#include "policyd/answer/auth_results.hpp"
#include "policyd/answer/decision_log.hpp"
#include "policyd/base/ascii.hpp"
#include "policyd/protocol/codec.hpp"
#include "rules/action.hpp"

namespace policyd {

rules::Decision decide(const Config& config, const rules::Evidence& evidence, bool dns_outage,
                       bool header_due, bool& header_added) {
    header_added = false;
    rules::Decision decision = config.rules->evaluate(evidence);
    // While the upstream is down, the admin may prefer mail to flow over
    // deferring every client whose DNS cannot be checked.
    if (dns_outage && evidence.facts.iprev == Iprev::temperror && config.outage_action) {
        decision.rule_id = "outage";
        decision.action = config.outage_action->expand(evidence, decision.rule_id);
    }
    // Once per message, tell content filters what iprev found, when the
    // rules have no objection.
    const std::string& authserv_id = config.settings.authserv_id;
    if (header_due && !authserv_id.empty() && !decision.dry_run &&
        iequals(decision.answer(), "DUNNO") && evidence.client) {
        const std::optional<std::string_view> helo =
            config.settings.headers_helo == "yes"
                ? std::optional<std::string_view>(evidence.request.get(Attr::helo_name))
                : std::nullopt;
        decision.action =
            authentication_results_action(authserv_id, evidence.facts, *evidence.client, helo);
        header_added = true;
    }
    return decision;
}

Responder::Responder(Assessor& assessor, InstanceCache& instances, std::function<bool()> outage,
                     bool remember_messages, DecisionLog* log)
    : assessor_(assessor),
      instances_(instances),
      outage_(std::move(outage)),
      remember_messages_(remember_messages),
      log_(log) {}

std::optional<Responder::Pending> Responder::begin(const Request& request,
                                                   std::shared_ptr<const Config> snapshot,
                                                   SmtpSession& session) {
    Pending pending;
    pending.started = Clock::now();
    pending.snapshot = std::move(snapshot);
    const auto client = parse_ip(request.get(Attr::client_address));
    if (!client) {
        return std::nullopt;
    }
    pending.client = *client;
    // Every request about one message is judged on the facts its first
    // request found; a client seen recently on the facts found then.
    const std::string_view instance = request.get(Attr::instance);
    const std::string_view helo = request.get(Attr::helo_name);
    const std::string_view client_text = request.get(Attr::client_address);
    pending.source = FactsSource::instance;
    if (session.message_known && instance == session.instance && client_text == session.client &&
        helo == session.helo) {
        return pending;
    }
    pending.new_message = true;
    session.message_known = false;  // until finish(): session.facts are being replaced
    if (remember_messages_ && !instance.empty() &&
        instances_.find(instance, client_text, helo, pending.started, session.facts,
                        pending.header_sent)) {
        return pending;
    }
    if (assessor_.find_cached(*client, helo, pending.started, session.facts)) {
        pending.source = FactsSource::cache;
        return pending;
    }
    // A table that decides on the request and the HELO text alone (SASL,
    // internal networks, role recipients, a bad HELO, stress) answers
    // without a lookup. Not when an Authentication-Results header may be
    // due: it reports what DNS found.
    if (pending.snapshot->settings.authserv_id.empty()) {
        session.facts = Facts{};
        derive_text_facts(helo, *client, session.facts);
        const std::optional<IpAddress> known_client = *client;
        if (pending.snapshot->rules->decided_without_dns(
                rules::Evidence{request, session.facts, known_client})) {
            pending.source = FactsSource::rules;
            return pending;
        }
    }
    pending.source = FactsSource::dns;
    pending.needs_dns = true;
    return pending;
}

void Responder::finish(const Request& request, SmtpSession& session, const Pending& pending,
                       std::string& reply) {
    Facts& facts = session.facts;
    const std::string_view instance = request.get(Attr::instance);
    const std::string_view helo = request.get(Attr::helo_name);
    const std::string_view client_text = request.get(Attr::client_address);
    const bool dns_skipped = pending.source == FactsSource::rules;
    if (pending.new_message) {
        session.instance = instance;
        // Facts without DNS are no message's facts: a later request about
        // it may need the lookup.
        session.message_known = remember_messages_ && !instance.empty() && !dns_skipped;
        session.header_claimed = pending.header_sent;
    }
    const std::string_view client_port = request.get(Attr::client_port);
    facts.helo_changed = session.client == client_text && session.port == client_port &&
                         !client_port.empty() && session.helo != helo;
    session.client = client_text;
    session.port = client_port;
    session.helo = helo;
    const std::optional<IpAddress> client = pending.client;
    const rules::Evidence evidence{request, facts, client};
    const bool outage = outage_();
    bool header_added = false;
    rules::Decision decision =
        decide(*pending.snapshot, evidence, outage && !dns_skipped,
               session.message_known && !session.header_claimed, header_added);
    if (header_added) {
        session.header_claimed = true;
        // Two check_policy_service entries naming this daemon with different
        // options give smtpd two connections asking about one message: the
        // header must not go out on both.
        instances_.insert(instance, client_text, helo, facts, pending.started, true);
    }
    // In dry-run the table's choice is logged and DUNNO is sent.
    format_reply(decision.answer(), reply);
    const auto elapsed = Clock::now() - pending.started;
    tally_.count(decision, header_added, pending.source, facts, elapsed);
    if (log_ == nullptr || !log_->wanted() ||
        !decision_logged(pending.snapshot->decision_logging, decision, header_added)) {
        return;
    }
    const double elapsed_ms = std::chrono::duration<double, std::milli>(elapsed).count();
    log_->write(DecisionRecord{request, facts,
                               kFactsSourceWords[static_cast<std::size_t>(pending.source)], outage,
                               decision, elapsed_ms, dns_skipped});
}

void Responder::end_session(const SmtpSession& session) {
    if (session.message_known) {
        instances_.insert(session.instance, session.client, session.helo, session.facts,
                          Clock::now(), session.header_claimed);
    }
}

}  // namespace policyd
