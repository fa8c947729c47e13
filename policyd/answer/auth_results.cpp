#include "policyd/answer/auth_results.hpp"

namespace policyd {

namespace {

std::string_view helo_result(const Facts& facts) {
    switch (facts.helo_syntax) {
        case HeloSyntax::missing:
            return "none";
        case HeloSyntax::non_fqdn:
        case HeloSyntax::invalid:
        case HeloSyntax::bare_ip:
            return "fail";
        case HeloSyntax::address_literal:
            return facts.helo_literal == HeloLiteral::match      ? "pass"
                   : facts.helo_literal == HeloLiteral::mismatch ? "fail"
                                                                 : "neutral";
        case HeloSyntax::fqdn:
            break;
    }
    switch (facts.helo_forward) {
        case HeloForward::pass:
            return "pass";
        case HeloForward::same_network:
            return "neutral";
        case HeloForward::temperror:
            return "temperror";
        case HeloForward::none:
            return facts.helo_mx == HeloMx::present ? "neutral" : "fail";
        case HeloForward::fail:
        case HeloForward::na:
            break;
    }
    return "fail";
}

std::string_view ptr_result(const Facts& facts) {
    switch (facts.helo_ptr_alignment) {
        case Alignment::exact:
            return "pass";
        case Alignment::org_domain:
            return "neutral";
        case Alignment::mismatch:
            return "fail";
        case Alignment::na:
            break;
    }
    return "none";
}

// " smtp.helo=NAME" for a FQDN, quoted for an address literal (whose
// brackets are not token characters), nothing for anything else.
void append_helo(std::string& out, const Facts& facts, std::string_view helo) {
    if (facts.helo_syntax == HeloSyntax::fqdn) {
        out += " smtp.helo=";
        out += helo;
    } else if (facts.helo_syntax == HeloSyntax::address_literal) {
        out += " smtp.helo=\"";
        out += helo;
        out += "\"";
    }
}

}  // namespace

std::string authentication_results_action(std::string_view authserv_id, const Facts& facts,
                                          const IpAddress& client,
                                          std::optional<std::string_view> helo_name) {
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
    if (!helo_name) {
        return action;
    }
    action += "; x-helo=";
    action += helo_result(facts);
    append_helo(action, facts, *helo_name);
    action += " policy.helo-syntax=";
    action += to_string(facts.helo_syntax);
    if (facts.helo_syntax == HeloSyntax::fqdn) {
        action += " policy.helo-forward=";
        action += to_string(facts.helo_forward);
    }
    action += "; x-ptr=";
    action += ptr_result(facts);
    append_helo(action, facts, *helo_name);
    if (facts.helo_ptr_alignment != Alignment::na && !facts.verified_names.empty()) {
        action += " policy.ptr=";
        action += facts.verified_names.front();
    }
    return action;
}

}  // namespace policyd
