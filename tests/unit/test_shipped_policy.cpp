// The shipped rule table (packaging/rdns-policyd.toml) decides what the
// README's "default policy" table promises, for each kind of client.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "policyd/config/settings.hpp"
#include "rules/rules.hpp"

using namespace policyd;

namespace {

const Config& shipped() {
    static const Config config = [] {
        std::vector<std::string> errors;
        auto loaded = load_config(SOURCE_DIR "/packaging/rdns-policyd.toml", {}, errors);
        if (!loaded) {
            throw std::runtime_error("shipped configuration does not load");
        }
        return std::move(*loaded);
    }();
    return config;
}

struct Case {
    const char* what;
    const char* client;
    const char* helo;
    Iprev iprev;
    HeloSyntax syntax;
    HeloLiteral literal;
    HeloForward forward;
    const char* sasl_username;
    const char* recipient;
    const char* rule;
    const char* action_prefix;
};

}  // namespace

TEST_CASE("shipped policy decides as documented", "[policy]") {
    using I = Iprev;
    using S = HeloSyntax;
    using L = HeloLiteral;
    using F = HeloForward;
    const std::vector<Case> cases = {
        {"well-configured sender", "192.0.2.1", "mail.example.com", I::pass, S::fqdn, L::na,
         F::pass, "", "user@example.net", "default", "DUNNO"},
        {"generic HELO that does not resolve to the client is only warned about", "192.0.2.1",
         "outbound.example.com", I::pass, S::fqdn, L::na, F::fail, "", "user@example.net",
         "warn-helo-not-forward-confirmed", "WARN "},
        {"HELO forward lookup failed temporarily: no action", "192.0.2.1", "mail.example.com",
         I::pass, S::fqdn, L::na, F::temperror, "", "user@example.net", "default", "DUNNO"},
        {"no PTR", "192.0.2.1", "mail.example.com", I::permerror, S::fqdn, L::na, F::pass, "",
         "user@example.net", "reject-no-ptr", "550 5.7.25 "},
        {"PTR does not confirm", "192.0.2.1", "mail.example.com", I::fail, S::fqdn, L::na, F::pass,
         "", "user@example.net", "reject-fcrdns-fail", "550 5.7.25 "},
        {"DNS trouble defers, never rejects", "192.0.2.1", "mail.example.com", I::temperror,
         S::fqdn, L::na, F::temperror, "", "user@example.net", "defer-dns-temperror",
         "450 4.7.25 "},
        {"a HELO that is certainly wrong is refused even while DNS fails", "192.0.2.1", "localhost",
         I::temperror, S::non_fqdn, L::na, F::na, "", "user@example.net", "reject-bad-helo",
         "550 5.5.2 "},
        {"non-FQDN HELO", "192.0.2.1", "localhost", I::pass, S::non_fqdn, L::na, F::na, "",
         "user@example.net", "reject-bad-helo", "550 5.5.2 "},
        {"bare IP HELO", "192.0.2.1", "192.0.2.1", I::pass, S::bare_ip, L::na, F::na, "",
         "user@example.net", "reject-bad-helo", "550 5.5.2 "},
        {"invalid HELO", "192.0.2.1", "bad_name", I::pass, S::invalid, L::na, F::na, "",
         "user@example.net", "reject-bad-helo", "550 5.5.2 "},
        {"own address literal", "192.0.2.1", "[192.0.2.1]", I::pass, S::address_literal, L::match,
         F::na, "", "user@example.net", "default", "DUNNO"},
        {"foreign address literal", "192.0.2.1", "[192.0.2.9]", I::pass, S::address_literal,
         L::mismatch, F::na, "", "user@example.net", "reject-foreign-address-literal",
         "550 5.7.1 "},
        {"authenticated client without PTR", "192.0.2.1", "laptop", I::permerror, S::non_fqdn,
         L::na, F::na, "alice", "user@example.net", "exempt-authenticated", "DUNNO"},
        {"RFC 1918 client", "10.1.2.3", "laptop", I::permerror, S::non_fqdn, L::na, F::na, "",
         "user@example.net", "exempt-internal-networks", "DUNNO"},
        {"CGNAT client", "100.64.1.1", "laptop", I::permerror, S::non_fqdn, L::na, F::na, "",
         "user@example.net", "exempt-internal-networks", "DUNNO"},
        {"ULA IPv6 client", "fd00::1", "laptop", I::permerror, S::non_fqdn, L::na, F::na, "",
         "user@example.net", "exempt-internal-networks", "DUNNO"},
        {"loopback", "127.0.0.1", "localhost", I::permerror, S::non_fqdn, L::na, F::na, "",
         "user@example.net", "exempt-internal-networks", "DUNNO"},
        {"postmaster reachable from a broken sender", "192.0.2.1", "localhost", I::permerror,
         S::non_fqdn, L::na, F::na, "", "Postmaster@example.net", "exempt-role-recipients",
         "DUNNO"},
        {"abuse reachable from a broken sender", "192.0.2.1", "localhost", I::fail, S::non_fqdn,
         L::na, F::na, "", "abuse@example.net", "exempt-role-recipients", "DUNNO"},
    };
    const auto& config = shipped();
    for (const auto& c : cases) {
        SECTION(c.what) {
            Request request;
            request.set(Attr::request, "smtpd_access_policy");
            request.set(Attr::protocol_state, "RCPT");
            request.set(Attr::client_address, c.client);
            request.set(Attr::helo_name, c.helo);
            request.set(Attr::sasl_username, c.sasl_username);
            request.set(Attr::recipient, c.recipient);
            Facts facts;
            facts.iprev = c.iprev;
            facts.helo_syntax = c.syntax;
            facts.helo_literal = c.literal;
            facts.helo_forward = c.forward;
            if (c.iprev == Iprev::pass || c.iprev == Iprev::fail) {
                facts.ptr_names = {"mail.example.com"};
            }
            if (c.iprev == Iprev::pass) {
                facts.verified_names = facts.ptr_names;
            }
            const auto client = parse_ip(c.client);
            const auto decision = config.rules->evaluate(rules::Evidence{request, facts, client});
            CHECK(decision.rule_id == c.rule);
            CHECK(decision.action.rfind(c.action_prefix, 0) == 0);
        }
    }
}

TEST_CASE("shipped policy: provider claims and generic names", "[policy]") {
    const auto& config = shipped();
    Request request;
    request.set(Attr::request, "smtpd_access_policy");
    request.set(Attr::protocol_state, "RCPT");
    request.set(Attr::client_address, "192.0.2.1");
    request.set(Attr::helo_name, "mail-wm1-f54.google.com");
    request.set(Attr::recipient, "user@example.net");
    Facts facts;
    facts.iprev = Iprev::pass;
    facts.helo_syntax = HeloSyntax::fqdn;
    facts.helo_forward = HeloForward::fail;
    facts.ptr_names = {"vmi123456.contaboserver.net"};
    facts.verified_names = facts.ptr_names;
    const auto client = parse_ip("192.0.2.1");
    auto decide = [&] { return config.rules->evaluate(rules::Evidence{request, facts, client}); };

    SECTION("a forged provider HELO is warned about, and only warned about") {
        facts.helo_provider = HeloProvider::forged;
        const auto decision = decide();
        CHECK(decision.rule_id == "warn-forged-provider-helo");
        CHECK(decision.action ==
              "WARN HELO name mail-wm1-f54.google.com claims a large mail provider, but PTR "
              "vmi123456.contaboserver.net is not one of its servers");
    }
    SECTION("a provider claim that cannot be judged is not warned about as forged") {
        facts.helo_provider = HeloProvider::temperror;
        CHECK(decide().rule_id == "warn-helo-not-forward-confirmed");
    }
    SECTION("generic PTR names and unknown TLDs decide nothing by themselves") {
        facts.helo_forward = HeloForward::pass;
        for (const GenericPtr kind : {GenericPtr::dynamic, GenericPtr::provider_default}) {
            facts.generic_ptr = kind;
            facts.ptr_tld = PtrTld::unknown;
            CHECK(decide().rule_id == "default");
        }
    }
}
