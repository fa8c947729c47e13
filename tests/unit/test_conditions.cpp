// Unit tests of the declarations that every consumer reads: the fact table
// (policyd/checks/facts.hpp kFactFields) and the condition table
// (rules/conditions.hpp). A fact or condition added to a table must work in
// the loader, the evaluator, explain's trace and the action macros without
// any other change; these tests walk the tables, so they cover a new entry.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"
#include "rules/action.hpp"
#include "rules/conditions.hpp"
#include "rules/loader.hpp"
#include "rules/rules.hpp"

namespace {

using policyd::Attr;
using policyd::kFactFields;

rules::RuleTable load(const std::string& text) {
    std::vector<std::string> errors;
    const toml::table root = toml::parse(text, std::string_view("rules.toml"));
    // Two [[dnsbl]] lists, as the configuration would declare them.
    auto table = rules::parse_rule_table(root, "rules.toml", errors, {"zen", "dbl"});
    for (const auto& error : errors) {
        UNSCOPED_INFO(error);
    }
    REQUIRE(table);
    return std::move(*table);
}

std::string toml_string(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

}  // namespace

TEST_CASE("every fact has a unique name, words, and get/set that agree", "[facts]") {
    std::set<std::string_view> names;
    for (const auto& field : kFactFields) {
        INFO(field.name);
        CHECK(names.insert(field.name).second);
        REQUIRE(!field.words.empty());
        CHECK(policyd::find_fact(field.name) == &field);
        for (std::size_t i = 0; i < field.words.size(); ++i) {
            policyd::Facts facts;
            field.set(facts, static_cast<std::uint8_t>(i));
            CHECK(field.get(facts) == i);
            CHECK(field.word(facts) == field.words[i]);
            CHECK(field.parse(field.words[i]) == i);
        }
        CHECK_FALSE(field.parse("no-such-word").has_value());
    }
    CHECK(policyd::find_fact("no_such_fact") == nullptr);
    CHECK(policyd::to_string(policyd::Alignment::org_domain) == "org-domain");
    CHECK(policyd::parse_fact<policyd::GenericPtr>("not-generic") ==
          policyd::GenericPtr::not_generic);
}

TEST_CASE("every fact is a rule condition matching exactly its listed values", "[conditions]") {
    for (const auto& field : kFactFields) {
        const auto* spec = rules::find_condition(field.name);
        REQUIRE(spec != nullptr);
        CHECK(spec->subject.fact == &field);
        for (std::size_t want = 0; want < field.words.size(); ++want) {
            const auto table =
                load("[[rule]]\nid = \"r\"\naction = \"REJECT\"\n" + std::string(field.name) +
                     " = " + toml_string(field.words[want]) + "\n");
            for (std::size_t value = 0; value < field.words.size(); ++value) {
                policyd::Request request;
                policyd::Facts facts;
                field.set(facts, static_cast<std::uint8_t>(value));
                const std::optional<policyd::IpAddress> client = policyd::parse_ip("192.0.2.1");
                const rules::Evidence evidence{request, facts, client};
                INFO(field.name << " = " << field.words[want] << ", fact " << field.words[value]);
                CHECK((table.evaluate(evidence).rule_id == "r") == (want == value));
                const auto trace = table.trace(evidence);
                if (want != value) {
                    CHECK(trace[0].failed_key == field.name);
                    // explain prints the word the fact had.
                    CHECK(trace[0].observed == field.words[value]);
                }
            }
        }
    }
}

TEST_CASE("every fact is an action macro", "[conditions][action]") {
    for (const auto& field : kFactFields) {
        auto parsed = rules::parse_action("WARN {" + std::string(field.name) + "}");
        REQUIRE(std::holds_alternative<rules::ActionTemplate>(parsed));
        policyd::Request request;
        policyd::Facts facts;
        field.set(facts, static_cast<std::uint8_t>(field.words.size() - 1));
        const std::optional<policyd::IpAddress> client;
        CHECK(std::get<rules::ActionTemplate>(parsed).expand({request, facts, client}, "r") ==
              "WARN " + std::string(field.words.back()));
    }
}

TEST_CASE("the trace says what each kind of condition looked at", "[conditions][trace]") {
    // One rule per condition key, each written so that the request below
    // fails it; the trace must name the key and show the request's value.
    struct Row {
        std::string condition;
        std::string key;
        std::string observed;
    };
    const std::vector<Row> rows = {
        {"server_port = 587", "server_port", "25"},
        {"policy_context = \"submission\"", "policy_context", "smtpd"},
        {"protocol_state = \"DATA\"", "protocol_state", "RCPT"},
        {"sasl_username = true", "sasl_username", "(not authenticated)"},
        {"stress = true", "stress", "(empty)"},
        {"dnsbl_listed = \"zen\"", "dnsbl_listed", "(not listed)"},
        {"client_address = \"198.51.100.0/24\"", "client_address", "192.0.2.1"},
        {"helo_name = \".example.org\"", "helo_name", "mail.example.com"},
        {"ptr_name = \".example.org\"", "ptr_name", "(no verified PTR name)"},
        {"sender = \"@example.org\"", "sender", "(empty)"},
        {"recipient = \"@example.org\"", "recipient", "b@example.net"},
        {"helo_name_regex = \"^mx\"", "helo_name_regex", "mail.example.com"},
        {"ptr_name_regex = \"x\"", "ptr_name_regex", "(no verified PTR name)"},
        {"sender_regex = \"x\"", "sender_regex", "(empty)"},
        {"recipient_regex = \"^x\"", "recipient_regex", "b@example.net"},
    };
    policyd::Request request;
    request.set(Attr::server_port, "25");
    request.set(Attr::policy_context, "smtpd");
    request.set(Attr::protocol_state, "RCPT");
    request.set(Attr::client_address, "192.0.2.1");
    request.set(Attr::helo_name, "mail.example.com");
    request.set(Attr::recipient, "b@example.net");
    const policyd::Facts facts;
    const std::optional<policyd::IpAddress> client = policyd::parse_ip("192.0.2.1");
    const rules::Evidence evidence{request, facts, client};
    std::set<std::string_view> covered;
    for (const auto& row : rows) {
        INFO(row.condition);
        const auto table = load("[[rule]]\nid = \"r\"\naction = \"REJECT\"\n" + row.condition);
        const auto trace = table.trace(evidence);
        REQUIRE(trace.size() == 1);
        CHECK(trace[0].failed_key == row.key);
        CHECK(trace[0].observed == row.observed);
        covered.insert(trace[0].failed_key);
    }
    // Every non-fact condition of the table is in the rows above.
    for (const auto& spec : rules::condition_specs()) {
        if (spec.subject.kind != rules::Subject::Kind::fact) {
            INFO(spec.key);
            CHECK(covered.count(spec.key) == 1);
        }
    }
}

TEST_CASE("conditions are tried in table order whatever the file order", "[conditions]") {
    // regex (last in the table) written first, iprev (first) written last.
    const auto table = load(
        "[[rule]]\nid = \"r\"\naction = \"REJECT\"\nsender_regex = \"x\"\n"
        "helo_name = \"other.example\"\niprev = \"fail\"\n");
    policyd::Request request;
    request.set(Attr::helo_name, "mail.example.com");
    policyd::Facts facts;
    facts.iprev = policyd::Iprev::pass;
    const std::optional<policyd::IpAddress> client = policyd::parse_ip("192.0.2.1");
    CHECK(table.trace({request, facts, client})[0].failed_key == "iprev");
    facts.iprev = policyd::Iprev::fail;
    CHECK(table.trace({request, facts, client})[0].failed_key == "helo_name");
}

TEST_CASE("the attributes case files may set come from the conditions", "[conditions]") {
    const auto attrs = rules::condition_attributes();
    for (const Attr attr : {Attr::helo_name, Attr::sender, Attr::recipient, Attr::sasl_username,
                            Attr::protocol_state, Attr::policy_context, Attr::server_port}) {
        INFO(policyd::attr_name(attr));
        CHECK(std::find(attrs.begin(), attrs.end(), attr) != attrs.end());
    }
    CHECK(std::find(attrs.begin(), attrs.end(), Attr::queue_id) == attrs.end());
}

TEST_CASE("stress: Postfix's stress=yes, as true or false", "[conditions]") {
    const auto under = load("[[rule]]\nid = \"r\"\naction = \"WARN\"\nstress = true\n");
    const auto calm = load("[[rule]]\nid = \"r\"\naction = \"WARN\"\nstress = false\n");
    policyd::Request request;
    const policyd::Facts facts;
    const std::optional<policyd::IpAddress> client = policyd::parse_ip("192.0.2.1");
    const rules::Evidence evidence{request, facts, client};
    CHECK(under.evaluate(evidence).rule_id == "default");
    CHECK(calm.evaluate(evidence).rule_id == "r");
    request.set(Attr::stress, "yes");
    CHECK(under.evaluate(evidence).rule_id == "r");
    CHECK(calm.evaluate(evidence).rule_id == "default");
    request.set(Attr::stress, "no");  // not a value Postfix sends, and not stress
    CHECK(under.evaluate(evidence).rule_id == "default");

    std::vector<std::string> errors;
    std::string text = "[[rule]]\nid = \"r\"\naction = \"WARN\"\nstress = \"yes\"\n";
    const toml::table root = toml::parse(text);
    CHECK_FALSE(rules::parse_rule_table(root, "rules.toml", errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("stress must be true or false, not a string") != std::string::npos);
}

TEST_CASE("dnsbl_listed: a list by name, or one of its meanings", "[conditions][dnsbl]") {
    const auto any = load("[[rule]]\nid = \"r\"\naction = \"REJECT\"\ndnsbl_listed = \"zen\"\n");
    const auto xbl =
        load("[[rule]]\nid = \"r\"\naction = \"REJECT\"\ndnsbl_listed = [\"zen:xbl\", \"dbl\"]\n");
    policyd::Request request;
    policyd::Facts facts;
    const std::optional<policyd::IpAddress> client = policyd::parse_ip("192.0.2.1");
    const rules::Evidence evidence{request, facts, client};
    CHECK(any.evaluate(evidence).rule_id == "default");
    facts.listings = {"zen:pbl"};
    CHECK(any.evaluate(evidence).rule_id == "r");
    CHECK(xbl.evaluate(evidence).rule_id == "default");
    facts.listings = {"zen:pbl", "zen:xbl"};
    CHECK(xbl.evaluate(evidence).rule_id == "r");
    facts.listings = {"dbl:127.0.1.2"};
    CHECK(xbl.evaluate(evidence).rule_id == "r");
    CHECK(xbl.trace(evidence).front().failed_key.empty());
    // A list the configuration does not declare is refused at load.
    std::vector<std::string> errors;
    const toml::table root = toml::parse(
        "[[rule]]\nid = \"r\"\naction = \"REJECT\"\n"
        "dnsbl_listed = \"sorbs:spam\"\n");
    CHECK_FALSE(rules::parse_rule_table(root, "rules.toml", errors, {"zen"}));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("dnsbl_listed: no [[dnsbl]] named \"sorbs\" (configured: zen)") !=
          std::string::npos);
}
