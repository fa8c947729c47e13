// Unit tests of the `rdns-policyd test` case runner: case files parsed
// against rule tables loaded from TOML text and the shipped table, run with
// given facts (and a stand-in for live DNS), outputs and errors checked.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "policyd/config/settings.hpp"
#include "policyd/tools/rule_cases.hpp"
#include "rules/loader.hpp"
#include "rules/rules.hpp"

using namespace policyd;

namespace {

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += line + "\n";
    }
    return out;
}

constexpr std::string_view kTable = R"(
[policy]
default_action = "DUNNO"

[[rule]]
id = "exempt-authenticated"
sasl_username = true
action = "OK"

[[rule]]
id = "reject-bad-helo"
helo_syntax = ["invalid", "non-fqdn", "bare-ip"]
action = "550 5.5.2 bad HELO {helo_name}"

[[rule]]
id = "reject-foreign-literal"
helo_literal = "mismatch"
action = "550 5.7.1 literal {helo_name} is not {client_address}"

[[rule]]
id = "reject-no-ptr"
iprev = "permerror"
action = "550 5.7.25 Client address {client_address} has no PTR record"

[[rule]]
id = "tag-partner"
ptr_name = ".partner.example"
action = "PREPEND X-Partner: yes"
)";

rules::RuleTable table_from(std::string_view text) {
    std::vector<std::string> errors;
    const toml::table root = toml::parse(text, std::string_view("rules.toml"));
    auto table = rules::parse_rule_table(root, "rules.toml", errors);
    INFO(joined(errors));
    REQUIRE(table);
    return std::move(*table);
}

// The table as a Config, the way `rdns-policyd test` runs it.
Config config_of(const rules::RuleTable& table) {
    Config config;
    config.path = "rules.toml";
    config.rules = std::make_shared<const rules::RuleTable>(table);
    return config;
}

std::vector<RuleCase> cases_from(const rules::RuleTable& table, std::string_view text) {
    std::vector<std::string> errors;
    auto cases = parse_rule_cases(text, "cases.toml", table, errors);
    INFO(joined(errors));
    REQUIRE(errors.empty());
    return cases;
}

// Decision has more members than these two (rules/ is growing); only these
// are compared.
rules::Decision decided(std::string rule_id, std::string action) {
    rules::Decision decision;
    decision.rule_id = std::move(rule_id);
    decision.action = std::move(action);
    return decision;
}

const LiveFacts kNoDns = [](const IpAddress&, std::string_view) -> std::optional<Facts> {
    FAIL("a case without lookup = true must not look anything up");
    return std::nullopt;
};

}  // namespace

TEST_CASE("rule cases: pass, fail and prefix match", "[rule_cases]") {
    const auto table = table_from(kTable);
    const auto cases = cases_from(table, R"(
[[case]]
name = "no PTR is rejected"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
iprev = "permerror"
helo_forward = "pass"
expect_rule = "reject-no-ptr"
expect_action = "550 5.7.25 Client address 192.0.2.1 has no PTR record"

[[case]]
name = "prefix"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
iprev = "permerror"
helo_forward = "pass"
expect_action = "550 5.7.25 *"

[[case]]
name = "wrong prefix"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
iprev = "permerror"
helo_forward = "pass"
expect_action = "450 *"

[[case]]
name = "wrong rule"
client_address = "192.0.2.2"
helo_name = "mail.example.com"
iprev = "pass"
helo_forward = "pass"
expect_rule = "reject-no-ptr"

[[case]]
name = "authenticated"
client_address = "192.0.2.3"
sasl_username = "alice"
iprev = "permerror"
expect_rule = "exempt-authenticated"
expect_action = "OK"
)");
    REQUIRE(cases.size() == 5);

    std::ostringstream out;
    const auto tally = run_rule_cases(config_of(table), cases, kNoDns, out);
    CHECK(tally.passed == 3);
    CHECK(tally.failed == 2);
    CHECK(out.str() ==
          "ok   no PTR is rejected\n"
          "ok   prefix\n"
          "FAIL wrong prefix: expected action \"450 *\", got rule reject-no-ptr action "
          "\"550 5.7.25 Client address 192.0.2.1 has no PTR record\"\n"
          "FAIL wrong rule: expected rule reject-no-ptr, got rule default action \"DUNNO\"\n"
          "ok   authenticated\n"
          "3 passed, 2 failed\n");
}

TEST_CASE("rule cases: expected action, exact or prefix", "[rule_cases]") {
    struct Row {
        const char* expect;
        const char* action;
        bool passes;
    };
    const std::vector<Row> rows = {
        {"DUNNO", "DUNNO", true},
        {"DUNNO", "DUNNO ", false},  // exact means exact
        {"DUN", "DUNNO", false},     // no '*': not a prefix
        {"DUN*", "DUNNO", true},
        {"*", "anything", true},
        {"550 5.7.25 *", "550 5.7.1 no", false},
        {"DUNNO*", "DUNNO", true},  // the empty rest matches
    };
    for (const auto& row : rows) {
        RuleCase c;
        c.expect_action = row.expect;
        INFO(row.expect << " vs " << row.action);
        CHECK(case_passes(c, decided("x", row.action)) == row.passes);
    }
    RuleCase both;
    both.expect_rule = "a";
    both.expect_action = "DUNNO";
    CHECK(case_passes(both, decided("a", "DUNNO")));
    CHECK_FALSE(case_passes(both, decided("b", "DUNNO")));
}

TEST_CASE("rule cases: HELO facts are derived when not given", "[rule_cases]") {
    const auto table = table_from(kTable);
    const auto cases = cases_from(table, R"(
[[case]]
name = "single label"
client_address = "192.0.2.1"
helo_name = "localhost"
iprev = "pass"
expect_rule = "reject-bad-helo"

[[case]]
name = "foreign literal"
client_address = "192.0.2.1"
helo_name = "[198.51.100.99]"
iprev = "pass"
expect_rule = "reject-foreign-literal"

[[case]]
name = "own literal"
client_address = "2001:db8::1"
helo_name = "[IPv6:2001:db8::1]"
iprev = "pass"
expect_rule = "default"

[[case]]
name = "given syntax wins"
client_address = "192.0.2.1"
helo_name = "localhost"
helo_syntax = "fqdn"
helo_forward = "pass"
iprev = "pass"
expect_rule = "default"

[[case]]
name = "verified names default to the PTR names on pass"
client_address = "192.0.2.1"
iprev = "pass"
ptr_names = ["mx1.partner.example"]
expect_rule = "tag-partner"

[[case]]
name = "but not on fail"
client_address = "192.0.2.1"
iprev = "fail"
ptr_names = ["mx1.partner.example"]
expect_rule = "default"
)");
    REQUIRE(cases.size() == 6);
    CHECK(cases[0].facts.helo_syntax == HeloSyntax::non_fqdn);
    CHECK(cases[0].facts.helo_forward == HeloForward::na);
    CHECK(cases[1].facts.helo_syntax == HeloSyntax::address_literal);
    CHECK(cases[1].facts.helo_literal == HeloLiteral::mismatch);
    CHECK(cases[2].facts.helo_literal == HeloLiteral::match);
    CHECK(cases[3].facts.helo_syntax == HeloSyntax::fqdn);
    CHECK(cases[4].facts.verified_names == std::vector<std::string>{"mx1.partner.example"});
    CHECK(cases[5].facts.verified_names.empty());
    CHECK(cases[0].request.get(Attr::protocol_state) == "RCPT");

    std::ostringstream out;
    const auto tally = run_rule_cases(config_of(table), cases, kNoDns, out);
    INFO(out.str());
    CHECK(tally.failed == 0);
    CHECK(tally.passed == 6);
}

TEST_CASE("rule cases: lookup = true takes the facts from DNS", "[rule_cases]") {
    const auto table = table_from(kTable);
    const auto cases = cases_from(table, R"(
[[case]]
name = "live"
client_address = "192.0.2.7"
helo_name = "mail.example.com"
lookup = true
expect_rule = "reject-no-ptr"

[[case]]
name = "live, no answer"
client_address = "192.0.2.8"
lookup = true
expect_rule = "default"
)");
    std::vector<std::string> asked;
    const LiveFacts live = [&](const IpAddress& client,
                               std::string_view helo) -> std::optional<Facts> {
        asked.push_back(client.to_string() + " " + std::string(helo));
        if (client.to_string() == "192.0.2.8") {
            return std::nullopt;
        }
        Facts facts;
        facts.iprev = Iprev::permerror;
        facts.helo_syntax = HeloSyntax::fqdn;
        return facts;
    };
    std::ostringstream out;
    const auto tally = run_rule_cases(config_of(table), cases, live, out);
    CHECK(asked == std::vector<std::string>{"192.0.2.7 mail.example.com", "192.0.2.8 "});
    CHECK(tally.passed == 1);
    CHECK(tally.failed == 1);
    CHECK(out.str() ==
          "ok   live\nFAIL live, no answer: the DNS lookup did not complete\n1 passed, 1 failed\n");
}

TEST_CASE("rule cases: bad case files are refused with every error and its line", "[rule_cases]") {
    const auto table = table_from(kTable);
    struct Row {
        const char* what;
        const char* text;
        std::vector<std::string> errors;
    };
    const std::vector<Row> rows = {
        {"TOML syntax",
         "[[case]]\nname = \"x\nclient_address = \"192.0.2.1\"\n",
         {"cases.toml:2:"}},
        {"empty file", "", {"cases.toml:1: no [[case]] in the file"}},
        {"stray top-level key",
         "[[case]]\nname = \"a\"\nclient_address = \"192.0.2.1\"\niprev = \"pass\"\n"
         "expect_rule = \"default\"\n[other]\nx = 1\n",
         {"cases.toml:6: unknown key other"}},
        {"missing everything",
         "[[case]]\nhelo_name = \"x.example\"\n",
         {"cases.toml:1: [[case]] needs a name", "cases.toml:1: [[case]] needs a client_address",
          "cases.toml:1: [[case]] needs iprev", "cases.toml:1: [[case]] needs helo_forward",
          "cases.toml:1: [[case]] needs expect_rule or expect_action"}},
        {"bad values, each on its line",
         "[[case]]\nname = \"a\"\nclient_address = \"192.0.2.300\"\niprev = \"maybe\"\n"
         "helo_forward = 1\nptr_names = \"x.example\"\nexpect_rule = \"no-such-rule\"\n"
         "colour = \"blue\"\nlookup = \"yes\"\n",
         {"cases.toml:3: client_address: \"192.0.2.300\" is not an IP address",
          "cases.toml:4: iprev: unknown value \"maybe\"",
          "cases.toml:5: helo_forward: must be a string",
          "cases.toml:6: ptr_names: must be a list of names",
          "cases.toml:7: expect_rule: \"no-such-rule\" is not a rule of the table",
          "cases.toml:8: unknown key colour", "cases.toml:9: lookup: must be true or false"}},
        {"duplicate names, and errors in two cases",
         "[[case]]\nname = \"a\"\nclient_address = \"192.0.2.1\"\niprev = \"pass\"\n"
         "expect_rule = \"default\"\n\n"
         "[[case]]\nname = \"a\"\nclient_address = \"192.0.2.1\"\niprev = \"pass\"\n"
         "expect_rule = \"default\"\n\n"
         "[[case]]\nname = \"b\"\nclient_address = \"192.0.2.1\"\niprev = \"pas\"\n"
         "expect_rule = \"default\"\n",
         {"cases.toml:7: name: \"a\" is used by an earlier case",
          "cases.toml:16: iprev: unknown value \"pas\""}},
        {"facts given with lookup = true",
         "[[case]]\nname = \"a\"\nclient_address = \"192.0.2.1\"\nlookup = true\n"
         "iprev = \"pass\"\nexpect_rule = \"default\"\n",
         {"cases.toml:5: iprev: a lookup = true case takes its facts from DNS"}},
        {"case is not a table array",
         "case = \"x\"\n",
         {"cases.toml:1: case: must be [[case]] tables"}},
    };
    for (const auto& row : rows) {
        SECTION(row.what) {
            std::vector<std::string> errors;
            const auto cases = parse_rule_cases(row.text, "cases.toml", table, errors);
            INFO(joined(errors));
            CHECK(cases.empty());
            REQUIRE(errors.size() == row.errors.size());
            for (std::size_t i = 0; i < errors.size(); ++i) {
                CHECK(errors[i].starts_with(row.errors[i]));
            }
        }
    }
}

TEST_CASE("rule cases: the shipped table", "[rule_cases][policy]") {
    std::vector<std::string> errors;
    const auto config = load_config(SOURCE_DIR "/packaging/rdns-policyd.toml", {}, errors);
    INFO(joined(errors));
    REQUIRE(config);
    const auto cases = cases_from(*config->rules, R"(
[[case]]
name = "no PTR"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
iprev = "permerror"
helo_forward = "pass"
expect_rule = "reject-no-ptr"
expect_action = "550 5.7.25 *"

[[case]]
name = "temperror defers"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
iprev = "temperror"
helo_forward = "temperror"
expect_action = "450 4.7.25 *"

[[case]]
name = "bare IP HELO, derived"
client_address = "192.0.2.1"
helo_name = "192.0.2.1"
iprev = "pass"
ptr_names = ["mail.example.com"]
expect_rule = "reject-bad-helo"

[[case]]
name = "postmaster is always reachable"
client_address = "192.0.2.1"
recipient = "postmaster@example.net"
iprev = "permerror"
expect_rule = "exempt-role-recipients"
)");
    std::ostringstream out;
    const auto tally = run_rule_cases(*config, cases, kNoDns, out);
    INFO(out.str());
    CHECK(tally.failed == 0);
    CHECK(tally.passed == 4);
}

TEST_CASE("rule cases: blocklist listings and stress", "[rule_cases][dnsbl]") {
    std::vector<std::string> errors;
    const toml::table root = toml::parse(R"(
[[rule]]
id = "skip-under-stress"
stress = true
action = "DUNNO"

[[rule]]
id = "reject-xbl"
dnsbl_listed = "zen:xbl"
action = "554 5.7.1 listed on {dnsbl_listed}"
)",
                                         std::string_view("rules.toml"));
    auto table = rules::parse_rule_table(root, "rules.toml", errors, {"zen"});
    INFO(joined(errors));
    REQUIRE(table);
    const auto cases = cases_from(*table, R"(
[[case]]
name = "a listed client"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
helo_forward = "pass"
iprev = "pass"
client_dnsbl = "listed"
dnsbl_listed = ["zen:xbl"]
expect_rule = "reject-xbl"
expect_action = "554 5.7.1 listed on zen:xbl"

[[case]]
name = "under stress nothing is checked"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
helo_forward = "pass"
stress = "yes"
iprev = "pass"
dnsbl_listed = ["zen:xbl"]
expect_rule = "skip-under-stress"

[[case]]
name = "another listing"
client_address = "192.0.2.1"
helo_name = "mail.example.com"
helo_forward = "pass"
iprev = "pass"
dnsbl_listed = ["zen:pbl"]
expect_rule = "default"
)");
    std::ostringstream out;
    const auto tally = run_rule_cases(config_of(*table), cases, kNoDns, out);
    INFO(out.str());
    CHECK(tally.passed == 3);
    CHECK(tally.failed == 0);
}
