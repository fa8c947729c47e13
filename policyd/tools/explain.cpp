#include "policyd/tools/explain.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "policyd/answer/responder.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/config/stack.hpp"
#include "resolver/resolver.hpp"
#include "rules/rules.hpp"

namespace policyd {
namespace {

using resolver::Answer;
using resolver::RrType;

// Records every lookup and its answer on the way through.
class TracingLookup final : public resolver::Lookup {
  public:
    struct Entry {
        std::string name;
        RrType type;
        Answer answer;
    };

    explicit TracingLookup(resolver::Lookup& upstream) : upstream_(upstream) {}

    void lookup(std::string_view name, RrType type, Handler handler) override {
        upstream_.lookup(name, type,
                         [this, name = std::string(name), type, handler](Answer answer) {
                             entries.push_back(Entry{name, type, answer});
                             handler(std::move(answer));
                         });
    }

    std::vector<Entry> entries;

  private:
    resolver::Lookup& upstream_;
};

std::string answer_data(const Answer& answer) {
    std::string data;
    for (const auto& name : answer.names) {
        data += (data.empty() ? "" : " ") + name;
    }
    for (const auto& address : answer.addresses) {
        data += (data.empty() ? "" : " ") + address.to_string();
    }
    return data;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
        out += (out.empty() ? "" : ",") + name;
    }
    return out;
}

// A JSON string literal (RFC 8259 escapes; input is already sanitised).
std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

}  // namespace

int explain(const Config& config, const ExplainRequest& what, std::ostream& out) {
    const auto client = parse_ip(what.client_address);
    if (!client) {
        out << "rdns-policyd explain: \"" << sanitized(what.client_address)
            << "\" is not an IP address\n";
        return 64;
    }
    boost::asio::io_context io(1);
    TracingLookup* trace = nullptr;
    Stack stack(io, config, Stack::Caches::off, {}, [&trace](resolver::Lookup& upstream) {
        auto tap = std::make_unique<TracingLookup>(upstream);
        trace = tap.get();
        return tap;
    });
    std::optional<Facts> facts;
    stack.assessor().assess(*client, what.helo_name, [&](Facts result) {
        facts = std::move(result);
        stack.shutdown();
    });
    io.run();
    if (!facts) {
        out << "rdns-policyd explain: the assessment did not complete\n";
        return 1;
    }

    Request request;
    request.set(Attr::request, "smtpd_access_policy");
    request.set(Attr::protocol_state, "RCPT");
    request.set(Attr::client_address, what.client_address);
    request.set(Attr::helo_name, what.helo_name);
    for (const auto& [attr, value] : what.attributes) {
        request.set(attr, value);
    }
    const rules::Evidence evidence{request, *facts, client};
    const auto traces = config.rules->trace(evidence);
    // The daemon's own decision, and what its two overrides would make of it.
    bool header_added = false;
    const auto decision = decide(config, evidence, false, false, header_added);
    std::optional<rules::Decision> during_outage =
        decide(config, evidence, true, false, header_added);
    if (during_outage->rule_id != "outage") {
        during_outage.reset();
    }
    // A message's first request, when per-message facts are kept (the
    // header needs them: it goes out once per message).
    std::optional<rules::Decision> first_request =
        decide(config, evidence, false, config.settings.instance_cache_size > 0, header_added);
    if (!header_added) {
        first_request.reset();
    }
    const auto optional_action = [](const std::optional<rules::Decision>& d) {
        return d ? quoted(d->action) : std::string("null");
    };

    std::vector<std::pair<std::string_view, std::string>> fact_rows = {
        {"ptr_names", joined(facts->ptr_names)},
        {"verified_names", joined(facts->verified_names)},
    };
    for (const auto& field : kFactFields) {
        fact_rows.emplace_back(field.name, field.word(*facts));
    }
    fact_rows.emplace_back("dnsbl_listed", joined(facts->listings));
    fact_rows.emplace_back("budget", facts->budget_exhausted ? "exhausted" : "ok");
    // Why generic_ptr is what it is (the classifier's own account).
    if (const std::string_view ptr = representative_ptr(*facts);
        !ptr.empty() && stack.options().generic) {
        fact_rows.emplace_back("generic_ptr_reason",
                               stack.options().generic->explain(ptr, *client));
    }

    if (what.json) {
        out << "{\"client_address\":" << quoted(sanitized(what.client_address))
            << ",\"helo_name\":" << quoted(sanitized(what.helo_name)) << ",\"lookups\":[";
        for (std::size_t i = 0; i < trace->entries.size(); ++i) {
            const auto& entry = trace->entries[i];
            out << (i == 0 ? "" : ",") << "{\"name\":" << quoted(sanitized(entry.name))
                << ",\"type\":\"" << resolver::to_string(entry.type) << "\",\"status\":\""
                << resolver::to_string(entry.answer.status) << "\",\"rcode\":" << entry.answer.rcode
                << ",\"ttl\":" << entry.answer.ttl
                << ",\"data\":" << quoted(sanitized(answer_data(entry.answer), 4096))
                << ",\"error\":" << quoted(sanitized(entry.answer.error)) << "}";
        }
        out << "],\"facts\":{";
        for (std::size_t i = 0; i < fact_rows.size(); ++i) {
            out << (i == 0 ? "" : ",") << quoted(fact_rows[i].first) << ":"
                << quoted(sanitized(fact_rows[i].second, 4096));
        }
        out << "},\"rules\":[";
        for (std::size_t i = 0; i < traces.size(); ++i) {
            const auto& rule = traces[i];
            out << (i == 0 ? "" : ",") << "{\"id\":" << quoted(rule.id)
                << ",\"origin\":" << quoted(sanitized(rule.origin)) << ",\"line\":" << rule.line
                << ",\"matched\":" << (rule.failed_key.empty() ? "true" : "false") << ",\"mode\":\""
                << (rule.mode == rules::Mode::shadow ? "shadow" : "enforce") << "\"";
            if (!rule.failed_key.empty()) {
                out << ",\"failed\":" << quoted(rule.failed_key)
                    << ",\"observed\":" << quoted(sanitized(rule.observed));
            }
            out << "}";
        }
        out << "],\"rule\":" << quoted(decision.rule_id)
            << ",\"action\":" << quoted(decision.action)
            << ",\"answer\":" << quoted(decision.answer())
            << ",\"outage_action\":" << optional_action(during_outage)
            << ",\"first_request_action\":" << optional_action(first_request) << "}\n";
        return 0;
    }

    out << "client " << sanitized(what.client_address) << ", HELO \"" << sanitized(what.helo_name)
        << "\"\n\nDNS answers:\n";
    for (const auto& entry : trace->entries) {
        out << "  " << sanitized(entry.name) << " " << resolver::to_string(entry.type) << ": "
            << resolver::to_string(entry.answer.status) << " (rcode " << entry.answer.rcode
            << ", ttl " << entry.answer.ttl << ")";
        if (const auto data = answer_data(entry.answer); !data.empty()) {
            out << " " << sanitized(data, 4096);
        }
        if (!entry.answer.error.empty()) {
            out << " [" << sanitized(entry.answer.error) << "]";
        }
        out << "\n";
    }
    out << "\nFacts:\n";
    for (const auto& [name, value] : fact_rows) {
        out << "  " << name << " = " << (value.empty() ? "-" : sanitized(value, 4096)) << "\n";
    }
    out << "\nRules (" << config.path << "), first match wins:\n";
    bool decided = false;
    for (const auto& rule : traces) {
        // A profile's rule says so ("profile rfc:23"), the file's its path.
        out << "  " << sanitized(rule.origin) << ":" << rule.line << " " << rule.id << ": ";
        if (rule.failed_key.empty() && rule.mode == rules::Mode::shadow) {
            out << "matches in shadow mode (logged and counted, does not decide)\n";
        } else if (rule.failed_key.empty()) {
            out << (decided ? "would match, but an earlier rule decided" : "MATCHES") << "\n";
            decided = true;
        } else {
            out << "no, " << rule.failed_key << " is " << sanitized(rule.observed) << "\n";
        }
    }
    if (!decided) {
        out << "  no rule matched: [policy] default_action\n";
    }
    out << "\nAction (rule " << decision.rule_id << "): " << decision.action << "\n";
    if (decision.dry_run) {
        out << "Dry run ([policy] dry_run = true): Postfix is answered " << decision.answer()
            << "\n";
    }
    if (during_outage) {
        out << "During a DNS outage ([outage] action, rule outage): " << during_outage->action
            << "\n";
    }
    if (first_request) {
        out << "First request of a message ([headers] authserv_id): " << first_request->action
            << "\n";
    }
    return 0;
}

}  // namespace policyd
