// Unit tests of rules/: loading rule tables from TOML text and evaluating
// them against hand-built requests and facts (pure logic, no DNS).
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policyd/base/address.hpp"
#include "rules/action.hpp"
#include "rules/loader.hpp"
#include "rules/profiles.hpp"
#include "rules/rules.hpp"

namespace {

using policyd::Attr;

std::string joined(const std::vector<std::string>& errors) {
    std::string out;
    for (const auto& error : errors) {
        out += error + "\n";
    }
    return out;
}

std::optional<rules::RuleTable> try_load(std::string_view text, std::vector<std::string>& errors,
                                         const std::string& source_name = "rules.toml") {
    const toml::table root = toml::parse(text, std::string_view(source_name));
    return rules::parse_rule_table(root, source_name, errors);
}

rules::RuleTable load(std::string_view text) {
    std::vector<std::string> errors;
    auto table = try_load(text, errors);
    INFO(joined(errors));
    REQUIRE(errors.empty());
    REQUIRE(table);
    return std::move(*table);
}

// A well-behaved client; each test spoils what it needs.
struct Env {
    policyd::Request request;
    policyd::Facts facts;
    std::optional<policyd::IpAddress> client;

    Env() {
        set_client("192.0.2.10");
        request.set(Attr::protocol_state, "RCPT");
        request.set(Attr::helo_name, "mail.example.com");
        request.set(Attr::sender, "alice@example.com");
        request.set(Attr::recipient, "bob@example.net");
        facts.iprev = policyd::Iprev::pass;
        facts.ptr_names = {"mail.example.com"};
        facts.verified_names = {"mail.example.com"};
        facts.helo_syntax = policyd::HeloSyntax::fqdn;
        facts.helo_literal = policyd::HeloLiteral::na;
        facts.helo_forward = policyd::HeloForward::pass;
    }
    void set_client(std::string_view address) {
        request.set(Attr::client_address, address);
        client = policyd::parse_ip(address);
    }
    [[nodiscard]] rules::Evidence evidence() const { return {request, facts, client}; }
};

// The id of the deciding rule for a one-rule table with the given conditions.
std::string decide(const rules::RuleTable& table, const Env& env) {
    return table.evaluate(env.evidence()).rule_id;
}

rules::RuleTable one_rule(const std::string& conditions) {
    return load("[[rule]]\nid = \"r\"\naction = \"REJECT\"\n" + conditions + "\n");
}

}  // namespace

TEST_CASE("the first matching rule decides, in file order", "[rules]") {
    const auto table = load(R"(
[[rule]]
id = "exempt-postmaster"
action = "OK"
recipient = "postmaster@"

[[rule]]
id = "reject-no-ptr"
action = "550 5.7.25 Client address {client_address} has no PTR record"
iprev = ["permerror"]

[[rule]]
id = "catch-all"
action = "WARN reached {rule}"
)");
    CHECK(table.size() == 3);
    CHECK(table.rule_ids() ==
          std::vector<std::string>{"exempt-postmaster", "reject-no-ptr", "catch-all"});

    Env env;
    env.facts.iprev = policyd::Iprev::permerror;
    env.request.set(Attr::recipient, "postmaster@example.net");
    auto decision = table.evaluate(env.evidence());
    CHECK(decision.rule_id == "exempt-postmaster");
    CHECK(decision.action == "OK");

    env.request.set(Attr::recipient, "bob@example.net");
    decision = table.evaluate(env.evidence());
    CHECK(decision.rule_id == "reject-no-ptr");
    CHECK(decision.action == "550 5.7.25 Client address 192.0.2.10 has no PTR record");

    env.facts.iprev = policyd::Iprev::pass;
    decision = table.evaluate(env.evidence());
    CHECK(decision.rule_id == "catch-all");
    CHECK(decision.action == "WARN reached catch-all");
}

TEST_CASE("the default action decides when no rule matches", "[rules]") {
    Env env;
    SECTION("DUNNO when none is configured") {
        const auto table = load("[[rule]]\nid = \"x\"\naction = \"REJECT\"\niprev = \"fail\"\n");
        const auto decision = table.evaluate(env.evidence());
        CHECK(decision.rule_id == "default");
        CHECK(decision.action == "DUNNO");
        CHECK(table.default_action() == "DUNNO");
    }
    SECTION("the configured one, with macros") {
        const auto table = load("[policy]\ndefault_action = \"INFO {rule} for {helo_name}\"\n");
        CHECK(table.size() == 0);
        const auto decision = table.evaluate(env.evidence());
        CHECK(decision.rule_id == "default");
        CHECK(decision.action == "INFO default for mail.example.com");
    }
    SECTION("a rule without conditions matches everything") {
        const auto table = load("[[rule]]\nid = \"all\"\naction = \"DUNNO\"\n");
        CHECK(decide(table, env) == "all");
    }
}

TEST_CASE("each condition kind matches and does not match", "[rules]") {
    Env env;

    SECTION("enumerated facts, any-of") {
        auto table = one_rule("iprev = [\"permerror\", \"fail\"]");
        CHECK(decide(table, env) == "default");
        env.facts.iprev = policyd::Iprev::fail;
        CHECK(decide(table, env) == "r");

        table = one_rule("helo_syntax = [\"invalid\", \"non-fqdn\", \"bare-ip\"]");
        CHECK(decide(table, env) == "default");
        env.facts.helo_syntax = policyd::HeloSyntax::bare_ip;
        CHECK(decide(table, env) == "r");

        table = one_rule("helo_literal = \"mismatch\"");
        CHECK(decide(table, env) == "default");
        env.facts.helo_literal = policyd::HeloLiteral::mismatch;
        CHECK(decide(table, env) == "r");

        table = one_rule("helo_forward = [\"fail\", \"n/a\"]");
        CHECK(decide(table, env) == "default");
        env.facts.helo_forward = policyd::HeloForward::na;
        CHECK(decide(table, env) == "r");

        table = one_rule("iprev = \"TempError\"");  // fact words are case-insensitive
        env.facts.iprev = policyd::Iprev::temperror;
        CHECK(decide(table, env) == "r");
    }

    SECTION("client_address: IPv4 CIDR, single address, v4-mapped client, IPv6 CIDR") {
        const auto table = one_rule(
            "client_address = [\"127.0.0.0/8\", \"198.51.100.7\", \"2001:db8:a::/48\", "
            "\"::1\", \"::ffff:203.0.113.0/120\"]");
        struct Case {
            const char* client;
            bool matches;
        };
        const Case cases[] = {
            {"127.1.2.3", true},
            {"128.0.0.1", false},
            {"198.51.100.7", true},
            {"198.51.100.8", false},
            {"::ffff:127.0.0.1", true},  // v4-mapped form meets the v4 CIDR
            {"::ffff:198.51.100.7", true},
            {"2001:db8:a:ffff::25", true},
            {"2001:db8:b::25", false},
            {"::1", true},
            {"::2", false},
            {"203.0.113.99", true},  // written as a v4-mapped network
            {"203.0.114.1", false},
            {"not-an-address", false},
            {"", false},
        };
        for (const auto& c : cases) {
            INFO(c.client);
            env.set_client(c.client);
            CHECK((decide(table, env) == "r") == c.matches);
        }
        // The client may arrive un-normalised from a caller; still v4.
        env.client = boost::asio::ip::make_address("::ffff:127.0.0.1");
        CHECK(decide(table, env) == "r");
        CHECK(decide(one_rule("client_address = \"0.0.0.0/0\""), env) == "r");
        env.set_client("2001:db8::1");
        CHECK(decide(one_rule("client_address = \"0.0.0.0/0\""), env) == "default");
        CHECK(decide(one_rule("client_address = \"::/0\""), env) == "r");
        CHECK(decide(one_rule("client_address = \"2001:db8::/127\""), env) == "r");
        CHECK(decide(one_rule("client_address = \"2001:db8::2/127\""), env) == "default");
    }

    SECTION("helo_name: exact or .suffix, case-insensitive, trailing dot ignored") {
        const auto table = one_rule("helo_name = [\"mx.example.com\", \".example.net.\"]");
        struct Case {
            const char* helo;
            bool matches;
        };
        const Case cases[] = {
            {"mx.example.com", true},    {"MX.Example.COM.", true},
            {"a.mx.example.com", false}, {"example.com", false},
            {"a.example.net", true},     {"a.b.EXAMPLE.net.", true},
            {"example.net", false},  // ".suffix" is subdomains only
            {"badexample.net", false},   {"", false},
        };
        for (const auto& c : cases) {
            INFO(c.helo);
            env.request.set(Attr::helo_name, c.helo);
            CHECK((decide(table, env) == "r") == c.matches);
        }
    }

    SECTION("ptr_name looks only at verified names, any of them") {
        const auto table = one_rule("ptr_name = [\".example.org\"]");
        env.facts.ptr_names = {"forged.example.org", "host.example.com"};
        env.facts.verified_names = {"host.example.com"};
        CHECK(decide(table, env) == "default");
        env.facts.verified_names = {"host.example.com", "host.example.org"};
        CHECK(decide(table, env) == "r");
        env.facts.verified_names.clear();
        CHECK(decide(table, env) == "default");
    }

    SECTION("sender: exact, @domain, user@, null sender") {
        const auto table =
            one_rule("sender = [\"Alice@Example.com\", \"@example.org\", \"bounces@\", \"<>\"]");
        struct Case {
            const char* sender;
            bool matches;
        };
        const Case cases[] = {
            {"alice@example.com", true},
            {"ALICE@EXAMPLE.COM", true},
            {"bob@example.com", false},
            {"anyone@example.org", true},
            {"x@sub.example.org", false},
            {"bounces@x.test", true},
            {"bounces", true},
            {"", true},  // Postfix sends the null sender as empty
            {"carol@example.net", false},
        };
        for (const auto& c : cases) {
            INFO(c.sender);
            env.request.set(Attr::sender, c.sender);
            CHECK((decide(table, env) == "r") == c.matches);
        }
    }

    SECTION("recipient: RFC 2142 role addresses") {
        const auto table = one_rule("recipient = [\"postmaster@\", \"abuse@\"]");
        env.request.set(Attr::recipient, "Postmaster@example.net");
        CHECK(decide(table, env) == "r");
        env.request.set(Attr::recipient, "postmaster");  // RCPT TO:<postmaster>
        CHECK(decide(table, env) == "r");
        env.request.set(Attr::recipient, "abuser@example.net");
        CHECK(decide(table, env) == "default");
        env.request.set(Attr::recipient, "");
        CHECK(decide(table, env) == "default");
    }

    SECTION("regexes: RE2, unanchored, case-insensitive") {
        auto table = one_rule(R"(helo_name_regex = '^(localhost|[0-9.]+)$')");
        env.request.set(Attr::helo_name, "LocalHost");
        CHECK(decide(table, env) == "r");
        env.request.set(Attr::helo_name, "mail.example.com");
        CHECK(decide(table, env) == "default");

        table = one_rule(R"(ptr_name_regex = ['\d+-\d+-\d+-\d+\.dynamic\.'])");
        env.facts.verified_names = {"mail.example.com", "1-2-3-4.DYNAMIC.isp.example"};
        CHECK(decide(table, env) == "r");
        env.facts.verified_names = {"mail.example.com"};
        env.facts.ptr_names = {"1-2-3-4.dynamic.isp.example"};  // not verified
        CHECK(decide(table, env) == "default");

        table = one_rule(R"(sender_regex = '@example\.com$')");
        CHECK(decide(table, env) == "r");
        env.request.set(Attr::sender, "alice@example.com.evil");
        CHECK(decide(table, env) == "default");

        table = one_rule(R"(recipient_regex = ['^abuse@', '(?-i)^Bob@'])");
        env.request.set(Attr::recipient, "bob@example.net");
        CHECK(decide(table, env) == "default");
        env.request.set(Attr::recipient, "Bob@example.net");
        CHECK(decide(table, env) == "r");
    }

    SECTION("sasl_username: true, false or user names") {
        const auto authenticated = one_rule("sasl_username = true");
        const auto anonymous = one_rule("sasl_username = false");
        const auto users = one_rule("sasl_username = [\"alice\", \"bob\"]");
        CHECK(decide(authenticated, env) == "default");
        CHECK(decide(anonymous, env) == "r");
        CHECK(decide(users, env) == "default");
        env.request.set(Attr::sasl_username, "alice");
        CHECK(decide(authenticated, env) == "r");
        CHECK(decide(anonymous, env) == "default");
        CHECK(decide(users, env) == "r");
        env.request.set(Attr::sasl_username, "mallory");
        CHECK(decide(users, env) == "default");
    }

    SECTION("protocol_state, case-insensitive") {
        const auto table = one_rule("protocol_state = [\"rcpt\", \"DATA\"]");
        CHECK(decide(table, env) == "r");
        env.request.set(Attr::protocol_state, "data");
        CHECK(decide(table, env) == "r");
        env.request.set(Attr::protocol_state, "MAIL");
        CHECK(decide(table, env) == "default");
        env.request.set(Attr::protocol_state, "");
        CHECK(decide(table, env) == "default");
    }

    SECTION("every condition must hold") {
        const auto table = one_rule("iprev = \"fail\"\nhelo_forward = \"fail\"");
        env.facts.iprev = policyd::Iprev::fail;
        CHECK(decide(table, env) == "default");
        env.facts.helo_forward = policyd::HeloForward::fail;
        CHECK(decide(table, env) == "r");
        env.facts.iprev = policyd::Iprev::pass;
        CHECK(decide(table, env) == "default");
    }
}

TEST_CASE("every validation error is reported with file:line", "[rules]") {
    struct Case {
        const char* name;
        const char* toml;
        const char* expected;  // "rules.toml:<line>: ..." prefix plus a telling part
        const char* detail;
    };
    const Case cases[] = {
        {"missing id", "\n[[rule]]\naction = \"OK\"\n", "rules.toml:2: ", "[[rule]] has no id"},
        {"missing action", "[[rule]]\nid = \"a\"\n",
         "rules.toml:1: ", "rule \"a\": [[rule]] has no action"},
        {"duplicate id",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\n\n[[rule]]\nid = \"a\"\naction = \"OK\"\n",
         "rules.toml:6: ", "duplicate rule id \"a\" (first defined at line 1)"},
        {"bad id", "[[rule]]\nid = \"Bad Id\"\naction = \"OK\"\n",
         "rules.toml:2: ", "bad rule id \"Bad Id\""},
        {"reserved id", "[[rule]]\nid = \"default\"\naction = \"OK\"\n",
         "rules.toml:2: ", "reserved"},
        {"id type", "[[rule]]\nid = 7\naction = \"OK\"\n",
         "rules.toml:2: ", "id must be a string, not an integer"},
        {"unknown key", "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo = \"x\"\n",
         "rules.toml:4: ", "unknown key \"helo\" in [[rule]] (known: id, action"},
        {"wrong type", "[[rule]]\nid = \"a\"\naction = \"OK\"\niprev = 3\n",
         "rules.toml:4: ", "iprev must be a string or a list of strings, not an integer"},
        {"wrong element type",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nsender = [\n  \"a@\",\n  true,\n]\n",
         "rules.toml:6: ", "sender must list strings, not a boolean"},
        {"action type", "[[rule]]\nid = \"a\"\naction = [\"OK\"]\n",
         "rules.toml:3: ", "action must be a string"},
        {"unknown fact word",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo_syntax = [\"fqdn\", \"bogus\"]\n",
         "rules.toml:4: ",
         "helo_syntax: unknown value \"bogus\" (allowed: fqdn, non-fqdn, invalid, address-literal, "
         "bare-ip, missing)"},
        {"unknown iprev word", "[[rule]]\nid = \"a\"\naction = \"OK\"\niprev = \"ok\"\n",
         "rules.toml:4: ", "(allowed: pass, fail, permerror, temperror)"},
        {"unknown helo_forward word",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo_forward = \"x\"\n",
         "rules.toml:4: ", "(allowed: pass, fail, none, temperror, same-network, n/a)"},
        {"unknown helo_literal word",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo_literal = \"x\"\n",
         "rules.toml:4: ", "(allowed: match, mismatch, same-network, private, n/a)"},
        {"unknown protocol state",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nprotocol_state = \"RCTP\"\n",
         "rules.toml:4: ", "protocol_state: unknown value \"RCTP\""},
        {"bad CIDR", "[[rule]]\nid = \"a\"\naction = \"OK\"\nclient_address = \"192.0.2.300/24\"\n",
         "rules.toml:4: ", "not an IP address or CIDR"},
        {"v4 prefix out of range",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nclient_address = \"192.0.2.0/33\"\n",
         "rules.toml:4: ", "prefix length 33 is out of range (0-32)"},
        {"v6 prefix out of range",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nclient_address = \"::/129\"\n",
         "rules.toml:4: ", "prefix length 129 is out of range (0-128)"},
        {"bad prefix", "[[rule]]\nid = \"a\"\naction = \"OK\"\nclient_address = \"10.0.0.0/x\"\n",
         "rules.toml:4: ", "bad prefix length"},
        {"host bits", "[[rule]]\nid = \"a\"\naction = \"OK\"\nclient_address = \"192.0.2.1/24\"\n",
         "rules.toml:4: ", "host bits set (did you mean 192.0.2.0/24?)"},
        {"v6 host bits",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nclient_address = \"2001:db8::1/64\"\n",
         "rules.toml:4: ", "host bits set"},
        {"bad regex", "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo_name_regex = \"(unclosed\"\n",
         "rules.toml:4: ", "helo_name_regex: bad regex \"(unclosed\": missing )"},
        {"backreference is not RE2",
         "[[rule]]\nid = \"a\"\naction = \"OK\"\nsender_regex = '(a)\\1'\n",
         "rules.toml:4: ", "sender_regex: bad regex"},
        {"bad action", "[[rule]]\nid = \"a\"\naction = \"REJECT 4.7.1 no\"\n",
         "rules.toml:3: ", "action: enhanced status code 4.7.1 disagrees"},
        {"bad default action", "[policy]\ndefault_action = \"PERMIT\"\n",
         "rules.toml:2: ", "default_action: unknown action \"PERMIT\""},
        {"unknown policy key", "[policy]\ndefault_actoin = \"OK\"\n",
         "rules.toml:2: ", "unknown key \"default_actoin\" in [policy]"},
        {"empty list", "[[rule]]\nid = \"a\"\naction = \"OK\"\nrecipient = []\n",
         "rules.toml:4: ", "recipient is an empty list"},
        {"bad name pattern", "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo_name = \"bad..name\"\n",
         "rules.toml:4: ", "not a host name or .domain suffix"},
        {"bad address pattern", "[[rule]]\nid = \"a\"\naction = \"OK\"\nsender = \"nobody\"\n",
         "rules.toml:4: ", "not an address pattern"},
        {"sasl type", "[[rule]]\nid = \"a\"\naction = \"OK\"\nsasl_username = 1\n",
         "rules.toml:4: ", "sasl_username must be true, false or a list of user names"},
        {"rule not an array", "[rule]\nid = \"a\"\n",
         "rules.toml:1: ", "write each rule as [[rule]]"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        std::vector<std::string> errors;
        const auto table = try_load(c.toml, errors);
        CHECK_FALSE(table);
        INFO(joined(errors));
        REQUIRE(errors.size() == 1);
        CHECK_THAT(errors.front(), Catch::StartsWith(c.expected));
        CHECK_THAT(errors.front(), Catch::Contains(c.detail));
    }
}

TEST_CASE("all errors of a file are reported in one pass", "[rules]") {
    std::vector<std::string> errors;
    errors.emplace_back("earlier: kept");  // the caller's own errors are left alone
    const auto table = try_load(R"([[rule]]
id = "one"
action = "OK"
iprev = "maybe"

[[rule]]
id = "two"
action = "REJECT {nope}"
client_address = ["10.0.0.0/8", "10.0.0.0/99"]

[[rule]]
id = "one"
action = "OK"
)",
                                errors);
    CHECK_FALSE(table);
    REQUIRE(errors.size() == 5);
    CHECK(errors[0] == "earlier: kept");
    CHECK_THAT(errors[1], Catch::StartsWith("rules.toml:4: rule \"one\": iprev: unknown value"));
    CHECK_THAT(errors[2],
               Catch::StartsWith("rules.toml:8: rule \"two\": action: unknown macro {nope}"));
    CHECK_THAT(errors[3], Catch::StartsWith("rules.toml:9: rule \"two\": client_address:"));
    CHECK_THAT(errors[4], Catch::StartsWith("rules.toml:12: duplicate rule id \"one\""));
}

TEST_CASE("a table without rules or policy is DUNNO for everyone", "[rules]") {
    const auto table = load("[daemon]\nlisten = \"x\"\n");  // other sections are not ours
    Env env;
    CHECK(table.size() == 0);
    CHECK(table.evaluate(env.evidence()).action == "DUNNO");
}

TEST_CASE("trace shows every rule and the condition that stopped it", "[rules][trace]") {
    const auto table = load(R"(
[[rule]]
id = "authenticated"
sasl_username = true
action = "DUNNO"

[[rule]]
id = "no-ptr"
iprev = "permerror"
helo_syntax = "fqdn"
action = "550 5.7.25 no PTR"

[[rule]]
id = "bad-helo-from-net"
client_address = "192.0.2.0/24"
helo_syntax = ["non-fqdn", "invalid"]
action = "550 5.5.2 bad HELO"
)");
    Env env;
    env.facts.iprev = policyd::Iprev::permerror;
    env.facts.helo_syntax = policyd::HeloSyntax::non_fqdn;
    const auto traces = table.trace(env.evidence());
    REQUIRE(traces.size() == 3);
    CHECK(traces[0].id == "authenticated");
    CHECK(traces[0].failed_key == "sasl_username");
    CHECK(traces[0].line == 2);
    CHECK(traces[1].failed_key == "helo_syntax");  // iprev held, helo_syntax did not
    CHECK(traces[2].failed_key.empty());           // matched
    // evaluate() picks the first rule the trace shows as matched.
    CHECK(table.evaluate(env.evidence()).rule_id == "bad-helo-from-net");
}

TEST_CASE("helo_ptr_alignment condition", "[rules]") {
    const auto table = load(R"(
[[rule]]
id = "aligned"
helo_ptr_alignment = ["exact", "org-domain"]
action = "DUNNO"
[[rule]]
id = "misaligned"
helo_ptr_alignment = "mismatch"
action = "WARN HELO {helo_name} is not PTR {ptr}"
)");
    Env env;
    env.facts.helo_ptr_alignment = policyd::Alignment::org_domain;
    CHECK(table.evaluate(env.evidence()).rule_id == "aligned");
    env.facts.helo_ptr_alignment = policyd::Alignment::mismatch;
    CHECK(table.evaluate(env.evidence()).rule_id == "misaligned");
    env.facts.helo_ptr_alignment = policyd::Alignment::na;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");

    std::vector<std::string> errors;
    CHECK_FALSE(try_load(
        "[[rule]]\nid = \"x\"\nhelo_ptr_alignment = \"close\"\naction = \"DUNNO\"\n", errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("rules.toml:3:") == 0);
    CHECK(errors[0].find("allowed: exact, org-domain, mismatch, n/a") != std::string::npos);
}

TEST_CASE("generic_ptr condition", "[rules]") {
    const auto table = load(R"(
[[rule]]
id = "pool"
generic_ptr = "generic"
iprev = "pass"
action = "PREPEND X-Generic-PTR: {ptr}"
)");
    Env env;
    env.facts.generic_ptr = policyd::GenericPtr::dynamic;
    const auto decision = table.evaluate(env.evidence());
    CHECK(decision.rule_id == "pool");
    CHECK(decision.action == "PREPEND X-Generic-PTR: mail.example.com");
    // "generic" stands for both generic kinds, and only for them.
    env.facts.generic_ptr = policyd::GenericPtr::provider_default;
    CHECK(table.evaluate(env.evidence()).rule_id == "pool");
    env.facts.generic_ptr = policyd::GenericPtr::not_generic;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
    env.facts.generic_ptr = policyd::GenericPtr::na;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
}

TEST_CASE("generic_ptr condition: one kind, and the alias in the error", "[rules]") {
    const auto table = load(R"(
[[rule]]
id = "pool"
generic_ptr = ["dynamic", "n/a"]
action = "REJECT"
)");
    Env env;
    env.facts.generic_ptr = policyd::GenericPtr::dynamic;
    CHECK(table.evaluate(env.evidence()).rule_id == "pool");
    env.facts.generic_ptr = policyd::GenericPtr::provider_default;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");

    std::vector<std::string> errors;
    CHECK_FALSE(
        try_load("[[rule]]\nid = \"x\"\ngeneric_ptr = \"pooled\"\naction = \"DUNNO\"\n", errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("allowed: dynamic, provider-default, not-generic, n/a; generic means "
                         "dynamic or provider-default") != std::string::npos);
}

TEST_CASE("DNSSEC conditions", "[rules]") {
    const auto table = load(R"(
[[rule]]
id = "bogus-reverse"
iprev_dnssec = "bogus"
action = "450 4.7.5 Client address {client_address}: reverse DNS fails DNSSEC validation"
[[rule]]
id = "signed-helo"
helo_dnssec = ["secure"]
action = "DUNNO"
)");
    Env env;
    env.facts.iprev = policyd::Iprev::temperror;
    env.facts.iprev_dnssec = policyd::Dnssec::bogus;
    CHECK(table.evaluate(env.evidence()).rule_id == "bogus-reverse");
    env.facts.iprev_dnssec = policyd::Dnssec::insecure;
    env.facts.helo_dnssec = policyd::Dnssec::secure;
    CHECK(table.evaluate(env.evidence()).rule_id == "signed-helo");
    env.facts.helo_dnssec = policyd::Dnssec::insecure;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
}

TEST_CASE("a shadow rule is recorded and does not decide", "[rules][shadow]") {
    const auto table = load(R"(
[[rule]]
id = "try-strict-helo"
mode = "shadow"
helo_syntax = "fqdn"
action = "550 5.7.1 would reject {helo_name}"

[[rule]]
id = "try-other"
mode = "shadow"
iprev = "fail"
action = "REJECT"

[[rule]]
id = "no-ptr"
mode = "enforce"
iprev = ["pass", "permerror"]
action = "DEFER {rule}"

[[rule]]
id = "after"
mode = "shadow"
action = "WARN never reached"
)");
    Env env;
    SECTION("a shadow match, then an enforce rule decides") {
        const auto decision = table.evaluate(env.evidence());
        CHECK(decision.rule_id == "no-ptr");
        CHECK(decision.action == "DEFER no-ptr");
        CHECK(decision.answer() == "DEFER no-ptr");
        CHECK_FALSE(decision.dry_run);
        REQUIRE(decision.shadow.size() == 1);  // try-other did not match, "after" not reached
        CHECK(decision.shadow[0].rule_id == "try-strict-helo");
        CHECK(decision.shadow[0].action == "550 5.7.1 would reject mail.example.com");
    }
    SECTION("shadow matches only: the default decides, shadows kept in order") {
        env.facts.iprev = policyd::Iprev::fail;
        const auto decision = table.evaluate(env.evidence());
        CHECK(decision.rule_id == "default");
        CHECK(decision.answer() == "DUNNO");
        REQUIRE(decision.shadow.size() == 3);
        CHECK(decision.shadow[0].rule_id == "try-strict-helo");
        CHECK(decision.shadow[1].rule_id == "try-other");
        CHECK(decision.shadow[2].rule_id == "after");
    }
    SECTION("no shadow match: nothing recorded") {
        env.facts.helo_syntax = policyd::HeloSyntax::invalid;
        const auto decision = table.evaluate(env.evidence());
        CHECK(decision.rule_id == "no-ptr");
        CHECK(decision.shadow.empty());
    }
    SECTION("trace shows the mode") {
        const auto traces = table.trace(env.evidence());
        REQUIRE(traces.size() == 4);
        CHECK(traces[0].mode == rules::Mode::shadow);
        CHECK(traces[2].mode == rules::Mode::enforce);
    }
}

TEST_CASE("dry-run answers DUNNO and says what would have been done", "[rules][shadow]") {
    const auto table = load(R"(
[policy]
dry_run = true
default_action = "WARN default"

[[rule]]
id = "watch"
mode = "shadow"
action = "INFO watched"

[[rule]]
id = "reject-fail"
iprev = "fail"
action = "550 5.7.25 {client_address} failed FCrDNS"
)");
    CHECK(table.dry_run());
    Env env;
    env.facts.iprev = policyd::Iprev::fail;
    auto decision = table.evaluate(env.evidence());
    CHECK(decision.dry_run);
    CHECK(decision.answer() == "DUNNO");
    CHECK(decision.rule_id == "reject-fail");
    CHECK(decision.action == "550 5.7.25 192.0.2.10 failed FCrDNS");
    REQUIRE(decision.shadow.size() == 1);
    CHECK(decision.shadow[0].rule_id == "watch");

    env.facts.iprev = policyd::Iprev::pass;
    decision = table.evaluate(env.evidence());
    CHECK(decision.answer() == "DUNNO");
    CHECK(decision.rule_id == "default");
    CHECK(decision.action == "WARN default");

    // Not in dry-run unless asked.
    CHECK_FALSE(load("[policy]\ndry_run = false\n").dry_run());
    CHECK_FALSE(load("").dry_run());
}

TEST_CASE("hit counters count decisions and shadow matches per table", "[rules][counters]") {
    const std::string text = R"(
[[rule]]
id = "shadow-all"
mode = "shadow"
action = "INFO seen"

[[rule]]
id = "reject-fail"
iprev = "fail"
action = "REJECT"

[[rule]]
id = "never"
iprev = "temperror"
action = "DEFER"
)";
    const auto table = load(text);
    const auto zero = table.counters();
    REQUIRE(zero.size() == 4);
    CHECK(zero[3].id == "default");
    for (const auto& counter : zero) {
        CHECK(counter.decided == 0);
        CHECK(counter.shadow_matched == 0);
    }

    Env env;
    for (int i = 0; i < 3; ++i) {
        (void)table.evaluate(env.evidence());  // default
    }
    env.facts.iprev = policyd::Iprev::fail;
    for (int i = 0; i < 2; ++i) {
        (void)table.evaluate(env.evidence());  // reject-fail
    }
    (void)table.trace(env.evidence());  // trace counts nothing

    const auto counters = table.counters();
    REQUIRE(counters.size() == 4);
    CHECK(counters[0].id == "shadow-all");
    CHECK(counters[0].decided == 0);
    CHECK(counters[0].shadow_matched == 5);
    CHECK(counters[1].id == "reject-fail");
    CHECK(counters[1].decided == 2);
    CHECK(counters[1].shadow_matched == 0);
    CHECK(counters[2].decided == 0);
    CHECK(counters[3].id == "default");
    CHECK(counters[3].decided == 3);

    // A copy shares the counters; a reloaded table starts at zero.
    const auto copy = table;  // NOLINT(performance-unnecessary-copy-initialization)
    (void)copy.evaluate(env.evidence());
    CHECK(table.counters()[1].decided == 3);
    CHECK(load(text).counters()[1].decided == 0);

    SECTION("dry-run: a would-be decision is a shadow match") {
        const auto dry = load("[policy]\ndry_run = true\n" + text);
        (void)dry.evaluate(env.evidence());
        const auto c = dry.counters();
        CHECK(c[1].decided == 0);
        CHECK(c[1].shadow_matched == 1);
    }
}

TEST_CASE("policy_context, server_port and sender domain suffixes", "[rules]") {
    Env env;
    SECTION("policy_context: exact and case-sensitive") {
        const auto table = one_rule("policy_context = [\"submission\", \"mx-in\"]");
        struct Case {
            const char* value;
            bool matches;
        };
        const Case cases[] = {{"submission", true},   {"mx-in", true}, {"Submission", false},
                              {"submission2", false}, {"", false},     {"mx", false}};
        for (const auto& c : cases) {
            INFO(c.value);
            env.request.set(Attr::policy_context, c.value);
            CHECK((decide(table, env) == "r") == c.matches);
            const auto traces = table.trace(env.evidence());
            CHECK(traces[0].failed_key == (c.matches ? "" : "policy_context"));
        }
    }
    SECTION("server_port: integer or list of integers") {
        const auto table = one_rule("server_port = [25, 587]");
        struct Case {
            const char* value;
            bool matches;
        };
        const Case cases[] = {{"25", true},  {"587", true},  {"465", false}, {"", false},
                              {"025", true}, {"25x", false}, {"-25", false}, {"70000", false}};
        for (const auto& c : cases) {
            INFO(c.value);
            env.request.set(Attr::server_port, c.value);
            CHECK((decide(table, env) == "r") == c.matches);
            CHECK(table.trace(env.evidence())[0].failed_key == (c.matches ? "" : "server_port"));
        }
        const auto single = one_rule("server_port = 465");
        env.request.set(Attr::server_port, "465");
        CHECK(decide(single, env) == "r");
    }
    SECTION("sender @.domain matches subdomains only, @domain that domain only") {
        const auto table = one_rule("sender = [\"@.Example.com\", \"@example.org\"]");
        struct Case {
            const char* sender;
            bool matches;
        };
        const Case cases[] = {
            {"a@mail.example.com", true}, {"a@A.B.EXAMPLE.COM.", true}, {"a@example.com", false},
            {"a@badexample.com", false},  {"a@example.org", true},      {"a@x.example.org", false},
        };
        for (const auto& c : cases) {
            INFO(c.sender);
            env.request.set(Attr::sender, c.sender);
            CHECK((decide(table, env) == "r") == c.matches);
            CHECK(table.trace(env.evidence())[0].failed_key == (c.matches ? "" : "sender"));
        }
    }
}

TEST_CASE("errors in the new keys name file:line", "[rules]") {
    struct Case {
        const char* name;
        const char* toml;
        const char* expected;
        const char* detail;
    };
    const Case cases[] = {
        {"bad mode", "[[rule]]\nid = \"a\"\naction = \"OK\"\nmode = \"audit\"\n",
         "rules.toml:4: ", "mode: unknown value \"audit\" (allowed: enforce, shadow)"},
        {"mode type", "[[rule]]\nid = \"a\"\naction = \"OK\"\nmode = true\n",
         "rules.toml:4: ", "mode must be a string, not a boolean"},
        {"dry_run type", "[policy]\ndry_run = \"yes\"\n",
         "rules.toml:2: ", "dry_run must be true or false, not a string"},
        {"port zero", "[[rule]]\nid = \"a\"\naction = \"OK\"\nserver_port = [25,\n 0]\n",
         "rules.toml:5: ", "server_port: 0 is not a port (1-65535)"},
        {"port too big", "[[rule]]\nid = \"a\"\naction = \"OK\"\nserver_port = 65536\n",
         "rules.toml:4: ", "server_port: 65536 is not a port"},
        {"port string", "[[rule]]\nid = \"a\"\naction = \"OK\"\nserver_port = \"25\"\n",
         "rules.toml:4: ", "server_port must be an integer or a list of integers, not a string"},
        {"port list of strings", "[[rule]]\nid = \"a\"\naction = \"OK\"\nserver_port = [\"25\"]\n",
         "rules.toml:4: ", "server_port must list integers, not a string"},
        {"port empty list", "[[rule]]\nid = \"a\"\naction = \"OK\"\nserver_port = []\n",
         "rules.toml:4: ", "server_port is an empty list"},
        {"empty policy_context", "[[rule]]\nid = \"a\"\naction = \"OK\"\npolicy_context = \"\"\n",
         "rules.toml:4: ", "policy_context: \"\" is not a policy_context value"},
        {"bad sender suffix", "[[rule]]\nid = \"a\"\naction = \"OK\"\nsender = \"@.\"\n",
         "rules.toml:4: ", "sender: \"@.\" is not a @.domain suffix"},
        {"file: without path", "[[rule]]\nid = \"a\"\naction = \"OK\"\nhelo_name = \"file:\"\n",
         "rules.toml:4: ", "helo_name: \"file:\" needs a path"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        std::vector<std::string> errors;
        const auto table = try_load(c.toml, errors);
        CHECK_FALSE(table);
        INFO(joined(errors));
        REQUIRE(errors.size() == 1);
        CHECK_THAT(errors.front(), Catch::StartsWith(c.expected));
        CHECK_THAT(errors.front(), Catch::Contains(c.detail));
    }
}

namespace {

// A fresh directory for list files, removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("rules-test-" + std::to_string(::getpid()) + "-" + std::to_string(next++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    TempDir(TempDir&&) = delete;
    TempDir& operator=(TempDir&&) = delete;

    std::string write(const std::string& name, const std::string& text) const {
        const auto file = path / name;
        std::ofstream(file) << text;
        return file.string();
    }
    static inline int next = 0;
};

}  // namespace

TEST_CASE("condition lists can be read from files", "[rules][files]") {
    const TempDir dir;
    const std::string rule_file = (dir.path / "rules.toml").string();
    Env env;

    SECTION("client_address from a relative and an absolute file, plus inline entries") {
        dir.write("allow.cidr", "# office\n\n  198.51.100.0/24  \r\n2001:db8::/32\n");
        const auto absolute = dir.write("more.cidr", "203.0.113.7\n");
        std::vector<std::string> errors;
        const auto table = try_load(
            "[[rule]]\nid = \"r\"\naction = \"OK\"\nclient_address = [\"file:allow.cidr\", "
            "\"file:" +
                absolute + "\", \"192.0.2.1\"]\n",
            errors, rule_file);
        INFO(joined(errors));
        REQUIRE(table);
        struct Case {
            const char* client;
            bool matches;
        };
        const Case cases[] = {{"198.51.100.9", true}, {"2001:db8::25", true},
                              {"203.0.113.7", true},  {"192.0.2.1", true},
                              {"192.0.2.10", false},  {"203.0.113.8", false}};
        for (const auto& c : cases) {
            INFO(c.client);
            env.set_client(c.client);
            CHECK((decide(*table, env) == "r") == c.matches);
            CHECK(table->trace(env.evidence())[0].failed_key ==
                  (c.matches ? "" : "client_address"));
        }
    }
    SECTION("names and addresses from files") {
        dir.write("helo.txt", "mx.partner.test\n.trusted.test\n");
        dir.write("ptr.txt", "# PTR suffixes\n.mail.example.com\nmail.example.com\n");
        dir.write("senders.txt", "@.partner.test\nboss@example.com\n");
        dir.write("rcpts.txt", "postmaster@\n");
        std::vector<std::string> errors;
        const auto table = try_load(R"(
[[rule]]
id = "helo"
action = "OK"
helo_name = "file:helo.txt"

[[rule]]
id = "ptr"
action = "OK"
ptr_name = ["file:ptr.txt"]
sender = "file:senders.txt"

[[rule]]
id = "rcpt"
action = "OK"
recipient = "file:rcpts.txt"
)",
                                    errors, rule_file);
        INFO(joined(errors));
        REQUIRE(table);
        CHECK(decide(*table, env) == "default");  // sender alice@example.com not listed
        env.request.set(Attr::sender, "x@eu.partner.test");
        CHECK(decide(*table, env) == "ptr");
        env.request.set(Attr::helo_name, "a.trusted.test");
        CHECK(decide(*table, env) == "helo");
        env.request.set(Attr::helo_name, "other.test");
        env.request.set(Attr::sender, "boss@example.org");
        CHECK(table->trace(env.evidence())[1].failed_key == "sender");
        env.request.set(Attr::recipient, "postmaster");
        CHECK(decide(*table, env) == "rcpt");
    }
    SECTION("an empty list file adds nothing") {
        dir.write("empty.txt", "# nobody yet\n");
        std::vector<std::string> errors;
        const auto table =
            try_load("[[rule]]\nid = \"r\"\naction = \"OK\"\nsender = \"file:empty.txt\"\n", errors,
                     rule_file);
        REQUIRE(table);
        CHECK(decide(*table, env) == "default");
        CHECK(table->trace(env.evidence())[0].failed_key == "sender");
    }
    SECTION("a bad entry is reported at its line in the list file") {
        const auto list = dir.write("allow.cidr", "# ok\n192.0.2.0/24\n\n10.0.0.1/8\nnot-an-ip\n");
        std::vector<std::string> errors;
        const auto table = try_load(
            "[[rule]]\nid = \"r\"\naction = \"OK\"\nclient_address = \"file:allow.cidr\"\n", errors,
            rule_file);
        CHECK_FALSE(table);
        INFO(joined(errors));
        REQUIRE(errors.size() == 2);
        CHECK_THAT(errors[0], Catch::StartsWith(list + ":4: rule \"r\": client_address: "));
        CHECK_THAT(errors[0], Catch::Contains("host bits set"));
        CHECK_THAT(errors[1], Catch::StartsWith(list + ":5: rule \"r\": client_address: "));
        CHECK_THAT(errors[1], Catch::Contains("not an IP address"));
    }
    SECTION("bad names and nested file: lines are reported in the list file") {
        const auto list = dir.write("names.txt", "good.example\nbad..name\nfile:other.txt\n");
        std::vector<std::string> errors;
        const auto table =
            try_load("[[rule]]\nid = \"r\"\naction = \"OK\"\nhelo_name = \"file:names.txt\"\n",
                     errors, rule_file);
        CHECK_FALSE(table);
        INFO(joined(errors));
        REQUIRE(errors.size() == 2);
        std::sort(errors.begin(), errors.end());  // nested file: lines are found first
        CHECK_THAT(errors[0], Catch::StartsWith(list + ":2: "));
        CHECK_THAT(errors[1], Catch::StartsWith(list + ":3: "));
        CHECK_THAT(errors[1], Catch::Contains("cannot name another"));
    }
    SECTION("an unreadable list file is reported at the rule file's line") {
        std::vector<std::string> errors;
        const auto table = try_load(
            "[[rule]]\nid = \"r\"\naction = \"OK\"\nsender = [\n  \"a@\",\n  "
            "\"file:missing.txt\",\n]\n",
            errors, rule_file);
        CHECK_FALSE(table);
        INFO(joined(errors));
        REQUIRE(errors.size() == 1);
        CHECK_THAT(errors[0], Catch::StartsWith(rule_file + ":6: rule \"r\": sender: cannot read "
                                                            "list file \""));
        CHECK_THAT(errors[0], Catch::Contains("missing.txt\": No such file or directory"));
    }
    SECTION("a directory is not a list file") {
        std::filesystem::create_directories(dir.path / "sub");
        std::vector<std::string> errors;
        const auto table = try_load(
            "[[rule]]\nid = \"r\"\naction = \"OK\"\nptr_name = \"file:sub\"\n", errors, rule_file);
        CHECK_FALSE(table);
        REQUIRE(errors.size() == 1);
        CHECK_THAT(errors[0], Catch::StartsWith(rule_file + ":4: "));
        CHECK_THAT(errors[0], Catch::Contains("is a directory"));
    }
}

TEST_CASE("negation: { not = ... } on any condition", "[rules][not]") {
    const auto table = load(R"(
[[rule]]
id = "not-pass"
iprev = { not = "pass" }
action = "REJECT"

[[rule]]
id = "not-these-helos"
helo_name = { not = [".example.com", "mx.example.org"] }
action = "WARN other HELO"
)");
    Env env;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
    env.facts.iprev = policyd::Iprev::fail;
    CHECK(table.evaluate(env.evidence()).rule_id == "not-pass");
    env.facts.iprev = policyd::Iprev::pass;
    env.request.set(Attr::helo_name, "mx.example.org");
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
    env.request.set(Attr::helo_name, "mx.example.net");
    CHECK(table.evaluate(env.evidence()).rule_id == "not-these-helos");

    // explain says the excluded value was seen.
    env.facts.iprev = policyd::Iprev::pass;
    const auto traces = table.trace(env.evidence());
    REQUIRE(traces.size() == 2);
    CHECK(traces[0].failed_key == "iprev");
    CHECK(traces[0].observed == "pass, which the rule excludes");
}

TEST_CASE("negation: a not table holds unless all of it holds", "[rules][not]") {
    const auto table = load(R"(
[[rule]]
id = "reject-generic-unless-ours"
generic_ptr = "generic"
not = { ptr_name = ".partner.example", helo_name_regex = "^out[0-9]+\\." }
action = "550 5.7.25 generic"
)");
    Env env;
    env.facts.generic_ptr = policyd::GenericPtr::dynamic;
    env.facts.verified_names = {"1-2-3-4.pool.partner.example"};
    env.request.set(Attr::helo_name, "out7.partner.example");
    // Both parts of the not table hold: the rule does not match.
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
    const auto traces = table.trace(env.evidence());
    REQUIRE(traces.size() == 1);
    CHECK(traces[0].failed_key == "not");
    CHECK(traces[0].observed ==
          "ptr_name is 1-2-3-4.pool.partner.example, helo_name_regex is out7.partner.example: "
          "all of its conditions hold");
    // One part fails: the not table holds, the rule matches.
    env.request.set(Attr::helo_name, "mail.partner.example");
    CHECK(table.evaluate(env.evidence()).rule_id == "reject-generic-unless-ours");
    env.request.set(Attr::helo_name, "out7.partner.example");
    env.facts.verified_names = {"1-2-3-4.pool.other.example"};
    CHECK(table.evaluate(env.evidence()).rule_id == "reject-generic-unless-ours");
    // The rule's own condition still has to hold.
    env.facts.generic_ptr = policyd::GenericPtr::not_generic;
    CHECK(table.evaluate(env.evidence()).rule_id == "default");
}

TEST_CASE("negation: bad forms are refused with the line", "[rules][not]") {
    const auto error_of = [](const std::string& text) {
        std::vector<std::string> errors;
        CHECK_FALSE(try_load(text, errors));
        return errors.empty() ? std::string() : errors.front();
    };
    CHECK(error_of("[[rule]]\nid = \"x\"\niprev = { nor = \"pass\" }\naction = \"DUNNO\"\n")
              .find("rules.toml:3: rule \"x\": iprev: a table here must be { not = ... }") == 0);
    CHECK(error_of("[[rule]]\nid = \"x\"\niprev = { not = \"passed\" }\naction = \"DUNNO\"\n")
              .find("iprev: unknown value \"passed\"") != std::string::npos);
    CHECK(error_of("[[rule]]\nid = \"x\"\niprev = { not = { not = \"pass\" } }\naction = "
                   "\"DUNNO\"\n")
              .find("not = takes the condition's values") != std::string::npos);
    CHECK(error_of("[[rule]]\nid = \"x\"\nnot = \"pass\"\naction = \"DUNNO\"\n")
              .find("not must be a table of conditions") != std::string::npos);
    CHECK(error_of("[[rule]]\nid = \"x\"\nnot = {}\naction = \"DUNNO\"\n")
              .find("not must be a table of conditions") != std::string::npos);
    CHECK(error_of("[[rule]]\nid = \"x\"\nnot = { not = { iprev = \"pass\" } }\naction = "
                   "\"DUNNO\"\n")
              .find("not: \"not\" is not a condition (a not table does not nest)") !=
          std::string::npos);
    CHECK(error_of("[[rule]]\nid = \"x\"\nnot = { colour = \"red\" }\naction = \"DUNNO\"\n")
              .find("not: \"colour\" is not a condition") != std::string::npos);
}

TEST_CASE("decided_without_dns: only when no DNS answer could change the decision",
          "[rules][rules-only]") {
    const auto decided = [](const std::string& text, Env& env) {
        return load(text).decided_without_dns(env.evidence());
    };
    const std::string table = R"(
[[rule]]
id = "exempt-authenticated"
sasl_username = true
action = "DUNNO"
[[rule]]
id = "reject-bad-helo"
helo_syntax = "non-fqdn"
action = "550 5.5.2 bad HELO {helo_name}"
[[rule]]
id = "reject-no-ptr"
iprev = "permerror"
action = "550 no PTR"
)";
    Env env;
    env.facts = policyd::Facts{};  // nothing looked up
    env.facts.helo_syntax = policyd::HeloSyntax::fqdn;
    CHECK_FALSE(decided(table, env));  // reject-no-ptr needs iprev
    env.request.set(Attr::sasl_username, "alice");
    CHECK(decided(table, env));
    env.request.set(Attr::sasl_username, "");
    env.facts.helo_syntax = policyd::HeloSyntax::non_fqdn;
    CHECK(decided(table, env));

    // A rule before it that needs DNS and is not ruled out otherwise.
    CHECK_FALSE(
        decided("[[rule]]\nid = \"a\"\niprev = \"fail\"\naction = \"REJECT\"\n" + table, env));
    // ... but one ruled out by a condition without DNS does not matter.
    CHECK(
        decided("[[rule]]\nid = \"a\"\niprev = \"fail\"\nserver_port = 587\naction = "
                "\"REJECT\"\n" +
                    table,
                env));
    // A shadow rule on the way must be judged too.
    CHECK_FALSE(
        decided("[[rule]]\nid = \"a\"\nmode = \"shadow\"\niprev = \"fail\"\naction = "
                "\"REJECT\"\n" +
                    table,
                env));
    // The deciding action names what DNS tells.
    CHECK_FALSE(
        decided("[[rule]]\nid = \"a\"\nhelo_syntax = \"non-fqdn\"\naction = \"550 {ptr}\"\n", env));
    CHECK_FALSE(
        decided("[[rule]]\nid = \"a\"\nhelo_syntax = \"non-fqdn\"\naction = "
                "\"WARN {iprev}\"\n",
                env));
    CHECK(
        decided("[[rule]]\nid = \"a\"\nhelo_syntax = \"non-fqdn\"\naction = "
                "\"WARN {helo_syntax} {client_address}\"\n",
                env));
    // The verified PTR names, a negated DNS fact and a not table with one are DNS.
    CHECK_FALSE(decided("[[rule]]\nid = \"a\"\nptr_name = \".example\"\naction = \"OK\"\n", env));
    CHECK_FALSE(
        decided("[[rule]]\nid = \"a\"\niprev = { not = \"pass\" }\naction = \"OK\"\n", env));
    CHECK_FALSE(decided(
        "[[rule]]\nid = \"a\"\nnot = { iprev = \"pass\", helo_syntax = \"fqdn\" }\naction = "
        "\"OK\"\n",
        env));
    // No rule matches: the default decides, unless it names a DNS fact.
    env.facts.helo_syntax = policyd::HeloSyntax::fqdn;
    CHECK(decided("[[rule]]\nid = \"a\"\nserver_port = 587\naction = \"OK\"\n", env));
    CHECK_FALSE(
        decided("[policy]\ndefault_action = \"PREPEND X-Iprev: {iprev}\"\n[[rule]]\nid = "
                "\"a\"\nserver_port = 587\naction = \"OK\"\n",
                env));
    // stress: the rule the issue wants, skipping the lookups under load.
    env.request.set(Attr::stress, "yes");
    CHECK(decided(
        "[[rule]]\nid = \"skip-under-stress\"\nstress = true\naction = \"DUNNO\"\n" + table, env));
}

TEST_CASE("profiles: every shipped profile loads", "[rules][profile]") {
    for (const auto& profile : rules::profiles()) {
        INFO("profile " << profile.name);
        const auto table = load("[policy]\nprofile = \"" + std::string(profile.name) + "\"\n");
        CHECK(table.size() >= 9);
        const auto traces = table.trace(Env().evidence());
        for (const auto& trace : traces) {
            CHECK(trace.origin == "profile " + std::string(profile.name));
        }
    }
    CHECK(rules::find_profile("rfc") != nullptr);
    CHECK(rules::find_profile("RFC") == nullptr);
}

TEST_CASE("profiles: own rules before, after_profile after, disable_rules", "[rules][profile]") {
    const auto table = load(R"(
[policy]
profile = "rfc"
disable_rules = ["reject-no-ptr"]

[[rule]]
id = "allow-partner"
client_address = "192.0.2.10"
action = "OK"

[[rule]]
id = "reject-no-ptr"
iprev = "permerror"
action = "450 4.7.25 no PTR yet"

[[rule]]
id = "tag-rest"
after_profile = true
action = "PREPEND X-Checked: yes"
)");
    const auto ids = table.rule_ids();
    REQUIRE(ids.size() == 12);  // 10 of rfc, one disabled, three of our own
    CHECK(ids.front() == "allow-partner");
    CHECK(ids[1] == "reject-no-ptr");  // ours, in place of the profile's
    CHECK(ids[2] == "exempt-authenticated");
    CHECK(ids.back() == "tag-rest");
    Env env;
    CHECK(table.evaluate(env.evidence()).rule_id == "allow-partner");
    env.set_client("192.0.2.11");
    env.facts.iprev = policyd::Iprev::permerror;
    CHECK(table.evaluate(env.evidence()).action == "450 4.7.25 no PTR yet");
    env.facts.iprev = policyd::Iprev::pass;
    CHECK(table.evaluate(env.evidence()).rule_id == "tag-rest");
    const auto traces = table.trace(env.evidence());
    CHECK(traces.front().origin == "rules.toml");
    CHECK(traces[2].origin == "profile rfc");
}

TEST_CASE("profiles: the strict one refuses what rfc warns about", "[rules][profile]") {
    const auto strict = load("[policy]\nprofile = \"strict\"\n");
    const auto rfc = load("[policy]\nprofile = \"rfc\"\n");
    Env env;
    env.facts.helo_provider = policyd::HeloProvider::forged;
    env.facts.helo_forward = policyd::HeloForward::fail;
    CHECK(strict.evaluate(env.evidence()).rule_id == "reject-forged-provider-helo");
    CHECK(rfc.evaluate(env.evidence()).rule_id == "warn-forged-provider-helo");
    env.facts.helo_provider = policyd::HeloProvider::verified;
    CHECK(strict.evaluate(env.evidence()).rule_id == "accept-verified-provider");
    env.facts.helo_provider = policyd::HeloProvider::na;
    env.facts.helo_forward = policyd::HeloForward::pass;
    env.facts.generic_ptr = policyd::GenericPtr::provider_default;
    CHECK(strict.evaluate(env.evidence()).rule_id == "reject-generic-ptr");
    CHECK(rfc.evaluate(env.evidence()).rule_id == "default");
    env.facts.generic_ptr = policyd::GenericPtr::not_generic;
    env.facts.helo_forward = policyd::HeloForward::none;
    env.facts.helo_mx = policyd::HeloMx::present;  // Postfix calls that known
    CHECK(strict.evaluate(env.evidence()).rule_id == "default");
    env.facts.helo_mx = policyd::HeloMx::none;
    CHECK(strict.evaluate(env.evidence()).rule_id == "reject-helo-not-forward-confirmed");
    // A DNS failure is deferred, never refused, by every profile.
    env.facts.iprev = policyd::Iprev::temperror;
    CHECK(strict.evaluate(env.evidence()).rule_id == "defer-dns-temperror");
}

TEST_CASE("profiles: observe never refuses or defers anything", "[rules][profile]") {
    const auto table = load("[policy]\nprofile = \"observe\"\n");
    Env env;
    std::size_t headers = 0;
    // Every value of the facts its rules read, in every combination.
    for (std::uint8_t iprev = 0; iprev < policyd::kIprevWords.size(); ++iprev) {
        for (std::uint8_t syntax = 0; syntax < policyd::kHeloSyntaxWords.size(); ++syntax) {
            for (std::uint8_t generic = 0; generic < policyd::kGenericPtrWords.size(); ++generic) {
                for (std::uint8_t provider = 0; provider < policyd::kHeloProviderWords.size();
                     ++provider) {
                    env.facts.iprev = static_cast<policyd::Iprev>(iprev);
                    env.facts.helo_syntax = static_cast<policyd::HeloSyntax>(syntax);
                    env.facts.generic_ptr = static_cast<policyd::GenericPtr>(generic);
                    env.facts.helo_provider = static_cast<policyd::HeloProvider>(provider);
                    const auto decision = table.evaluate(env.evidence());
                    const auto kind = rules::action_class(decision.action);
                    INFO(decision.rule_id << ": " << decision.action);
                    CHECK(
                        (kind == rules::ActionClass::accept || kind == rules::ActionClass::other));
                    headers += decision.action.rfind("PREPEND X-RDNS-Policy: ", 0) == 0 ? 1 : 0;
                }
            }
        }
    }
    CHECK(headers > 0);
}

TEST_CASE("profiles: mistakes are refused with the line", "[rules][profile]") {
    const auto error_of = [](const std::string& text) {
        std::vector<std::string> errors;
        CHECK_FALSE(try_load(text, errors));
        return errors.empty() ? std::string() : errors.front();
    };
    CHECK(error_of("[policy]\nprofile = \"paranoid\"\n") ==
          "rules.toml:2: profile must be one of observe, rfc, strict");
    CHECK(error_of("[policy]\nprofile = \"rfc\"\ndisable_rules = [\"reject-spam\"]\n")
              .find("disable_rules: \"reject-spam\" is no rule of profile rfc") !=
          std::string::npos);
    CHECK(error_of("[policy]\nprofile = \"rfc\"\n[[rule]]\nid = \"reject-no-ptr\"\naction = "
                   "\"DUNNO\"\n")
              .find("rules.toml:3: rule \"reject-no-ptr\" has the id of a rule of profile rfc") ==
          0);
    CHECK(error_of("[[rule]]\nid = \"x\"\nafter_profile = true\naction = \"DUNNO\"\n")
              .find("after_profile = true, but there is no [policy] profile") != std::string::npos);
    CHECK(error_of("[policy]\ndisable_rules = [\"reject-no-ptr\"]\n")
              .find("disable_rules names rules of a profile, and there is no [policy] profile") !=
          std::string::npos);
    CHECK(error_of("[[rule]]\nid = \"x\"\nafter_profile = \"yes\"\naction = \"DUNNO\"\n")
              .find("after_profile must be true or false") != std::string::npos);
}

TEST_CASE("restriction classes: declared in [policy], named by actions",
          "[rules][restriction-class]") {
    const auto table = load(R"(
[policy]
restriction_classes = ["rdns_greylist"]
default_action = "rdns_greylist"

[[rule]]
id = "greylist-generic"
generic_ptr = "generic"
action = "rdns_greylist"
)");
    CHECK(table.restriction_classes() == std::vector<std::string>{"rdns_greylist"});
    Env env;
    env.facts.generic_ptr = policyd::GenericPtr::dynamic;
    CHECK(table.evaluate(env.evidence()).action == "rdns_greylist");
    env.facts.generic_ptr = policyd::GenericPtr::not_generic;
    CHECK(table.evaluate(env.evidence()).action == "rdns_greylist");  // the default

    std::vector<std::string> errors;
    CHECK_FALSE(
        try_load("[policy]\nrestriction_classes = [\"ok\", \"a b\", \"x\", \"x\"]\n", errors));
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].find("\"ok\" is an action keyword") != std::string::npos);
    CHECK(errors[1].find("a restriction class name is a Postfix parameter name") !=
          std::string::npos);
    CHECK(errors[2].find("\"x\" is listed twice") != std::string::npos);
}
