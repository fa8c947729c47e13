// Unit tests of rules/action: validation of access(5) actions and macro
// expansion with hostile values.
#include <catch2/catch.hpp>
#include <string>
#include <variant>

#include "policyd/base/address.hpp"
#include "rules/action.hpp"
#include "rules/rules.hpp"

namespace {

using policyd::Attr;

std::string error_of(std::string_view text) {
    auto parsed = rules::parse_action(text);
    if (const auto* error = std::get_if<std::string>(&parsed)) {
        return *error;
    }
    return {};
}

rules::ActionTemplate must_parse(std::string_view text) {
    auto parsed = rules::parse_action(text);
    INFO(text);
    REQUIRE(std::holds_alternative<rules::ActionTemplate>(parsed));
    return std::get<rules::ActionTemplate>(std::move(parsed));
}

struct Env {
    policyd::Request request;
    policyd::Facts facts;
    std::optional<policyd::IpAddress> client;

    Env() {
        request.set(Attr::client_address, "192.0.2.10");
        request.set(Attr::helo_name, "mail.example.com");
        request.set(Attr::sender, "alice@example.com");
        request.set(Attr::recipient, "bob@example.net");
        request.set(Attr::queue_id, "4ABC123");
        client = policyd::parse_ip("192.0.2.10");
        facts.iprev = policyd::Iprev::fail;
        facts.helo_syntax = policyd::HeloSyntax::fqdn;
        facts.helo_literal = policyd::HeloLiteral::na;
        facts.helo_forward = policyd::HeloForward::none;
    }
    [[nodiscard]] rules::Evidence evidence() const { return {request, facts, client}; }
};

}  // namespace

TEST_CASE("parse_action accepts every access(5) action a policy server may return", "[action]") {
    const char* valid[] = {
        "OK",
        "ok",
        "DUNNO",
        "REJECT",
        "reject",
        "REJECT go away",
        "REJECT 5.7.1 go away",
        "DEFER",
        "DEFER 4.7.25 try later",
        "DEFER_IF_REJECT 4.7.1 maybe",
        "DEFER_IF_PERMIT",
        "450 4.7.25 Client host rejected",
        "550 5.7.25 x",
        "421 closing",
        "521 5.7.1 go away",
        "554 no enhanced code",
        "HOLD",
        "HOLD suspicious",
        "DISCARD",
        "DISCARD spam",
        "WARN helo {helo_name} does not resolve",
        "INFO seen {client_address}",
        "FILTER smtp:[127.0.0.1]:10025",
        "FILTER relay:",
        "PREPEND X-Rdns: iprev={iprev} ptr={ptr}",
        "PREPEND X-Empty:",
        "REDIRECT quarantine@example.com",
        "BCC audit@example.com",
        "REJECT {{literal braces}} and {rule}",
    };
    for (const char* text : valid) {
        INFO(text);
        CHECK(error_of(text).empty());
    }
    const std::string every_macro =
        "REJECT {client_address} {helo_name} {ptr} {iprev} {helo_syntax} {helo_literal} "
        "{helo_forward} {rule} {sender} {recipient} {queue_id}";
    CHECK(error_of(every_macro).empty());
}

TEST_CASE("parse_action refuses malformed actions with a reason", "[action]") {
    struct Case {
        const char* text;
        const char* reason;
    };
    const Case cases[] = {
        {"", "empty"},
        {"PERMIT", "unknown action \"PERMIT\""},
        {"reject_unauth_destination", "unknown action"},
        {"REJECT 4.7.1 wrong class", "disagrees with the reply class 5xx"},
        {"DEFER 5.7.1 wrong class", "disagrees with the reply class 4xx"},
        {"DEFER_IF_PERMIT 5.7.1 wrong class", "disagrees"},
        {"450 5.7.1 wrong class", "disagrees with the reply class 4xx"},
        {"550 4.7.1 wrong class", "disagrees with the reply class 5xx"},
        {"550 2.0.0 wrong class", "disagrees"},
        {"550 5.7 short", "malformed enhanced status code"},
        {"550 5.7.1234 long", "malformed enhanced status code"},
        {"550 6.7.1 bad class", "malformed enhanced status code"},
        {"REJECT 5.7.{rule} x", "enhanced status code must not contain a macro"},
        {"550", "needs a text"},
        {"350 text", "must be 4NN or 5NN"},
        {"590 text", "not an SMTP reply code"},
        {"OK fine", "OK takes no text"},
        {"DUNNO {rule}", "DUNNO takes no text"},
        {"{rule}", "keyword must not contain a macro"},
        {"REJECT{rule}", "keyword must not contain a macro"},
        {"FILTER nocolon", "transport:destination"},
        {"FILTER smtp:{helo_name}", "FILTER must not contain a macro"},
        {"FILTER a:b c", "transport:destination"},
        {"PREPEND no colon", "PREPEND needs a header"},
        {"PREPEND X-{rule}: v", "header name must not contain a macro"},
        {"PREPEND Bad Name: v", "not a valid header field name"},
        {"REDIRECT nobody", "user@domain"},
        {"REDIRECT {sender}", "must not contain a macro"},
        {"BCC a@b c@d", "user@domain"},
        {"REJECT bad\nline", "control character 0x0a at offset 10"},
        {"REJECT tab\there", "control character 0x09"},
        {"REJECT del\x7f", "control character 0x7f"},
        {"REJECT {nope}", "unknown macro {nope}"},
        {"REJECT {Helo_Name}", "unknown macro {Helo_Name}"},
        {"REJECT {helo_name", "unterminated macro"},
        {"REJECT oops}", "unmatched '}'"},
        {" REJECT", "starts or ends with a space"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        const std::string error = error_of(c.text);
        CHECK_THAT(error, Catch::Contains(c.reason));
    }
    CHECK_THAT(error_of("REJECT {nope}"), Catch::Contains("{client_address}"));  // lists macros
    CHECK_THAT(error_of("REJECT " + std::string(1000, 'x')), Catch::Contains("longer than 1000"));
}

TEST_CASE("expand fills every macro", "[action]") {
    Env env;
    env.facts.ptr_names = {"host.example.org", "other.example.org"};
    env.facts.verified_names = {"other.example.org"};

    SECTION("all macros") {
        const auto action = must_parse(
            "REJECT {client_address}|{helo_name}|{ptr}|{iprev}|{helo_syntax}|{helo_literal}|"
            "{helo_forward}|{rule}|{sender}|{recipient}|{queue_id}");
        CHECK(action.expand(env.evidence(), "my-rule") ==
              "REJECT 192.0.2.10|mail.example.com|other.example.org|fail|fqdn|n/a|none|my-rule|"
              "alice@example.com|bob@example.net|4ABC123");
    }
    SECTION("literal braces") {
        CHECK(must_parse("REJECT {{rule}} {rule}}}").expand(env.evidence(), "r") ==
              "REJECT {rule} r}");
    }
    SECTION("{ptr} falls back to the first PTR name, then to unknown") {
        const auto action = must_parse("WARN {ptr}");
        env.facts.verified_names.clear();
        CHECK(action.expand(env.evidence(), "r") == "WARN host.example.org");
        env.facts.ptr_names.clear();
        CHECK(action.expand(env.evidence(), "r") == "WARN unknown");
    }
    SECTION("the null sender shows as <>") {
        env.request.set(Attr::sender, "");
        CHECK(must_parse("REJECT from {sender}").expand(env.evidence(), "r") == "REJECT from <>");
    }
    SECTION("an action without macros comes back unchanged") {
        CHECK(must_parse("550 5.7.25 no").expand(env.evidence(), "r") == "550 5.7.25 no");
    }
}

TEST_CASE("expand keeps a hostile value from breaking the reply line", "[action]") {
    Env env;
    const auto action = must_parse("550 5.7.1 bad helo {helo_name} from {client_address}");

    SECTION("newlines and control characters become '?'") {
        // An injected "\n\naction=OK" must not end the reply and start another.
        env.request.set(Attr::helo_name,
                        std::string("evil\r\n\naction=OK\x01\x1b[31m\x7f") + "\xc3\xa9");
        const std::string out = action.expand(env.evidence(), "r");
        CHECK(out == "550 5.7.1 bad helo evil???action=OK??[31m??? from 192.0.2.10");
        for (const char c : out) {
            const auto byte = static_cast<unsigned char>(c);
            CHECK((byte >= 0x20 && byte < 0x7f));
        }
    }
    SECTION("each value is cut at 255 bytes") {
        env.request.set(Attr::helo_name, std::string(900, 'h'));
        const std::string out = action.expand(env.evidence(), "r");
        CHECK(out == "550 5.7.1 bad helo " + std::string(255, 'h') + " from 192.0.2.10");
    }
    SECTION("the whole action is cut at 1000 bytes") {
        const auto many = must_parse("REJECT {helo_name}{helo_name}{helo_name}{helo_name}x");
        env.request.set(Attr::helo_name, std::string(300, 'h'));
        const std::string out = many.expand(env.evidence(), "r");
        CHECK(out.size() == rules::kMaxActionBytes);
        CHECK(out.back() == 'h');
    }
}

TEST_CASE("action_class sorts every action by what it does with the mail", "[action][metrics]") {
    using rules::ActionClass;
    const std::pair<const char*, ActionClass> table[] = {
        {"OK", ActionClass::accept},
        {"dunno", ActionClass::accept},
        {"REJECT", ActionClass::reject},
        {"reject 5.7.1 go away", ActionClass::reject},
        {"550 5.7.25 no PTR", ActionClass::reject},
        {"DEFER", ActionClass::defer},
        {"DEFER_IF_PERMIT try later", ActionClass::defer},
        {"DEFER_IF_REJECT", ActionClass::defer},
        {"450 4.7.25 try later", ActionClass::defer},
        {"WARN generic PTR", ActionClass::other},
        {"HOLD", ActionClass::other},
        {"DISCARD", ActionClass::other},
        {"INFO x", ActionClass::other},
        {"FILTER smtp:[127.0.0.1]:10025", ActionClass::other},
        {"PREPEND X-Test: 1", ActionClass::other},
        {"REDIRECT a@example.org", ActionClass::other},
        {"BCC a@example.org", ActionClass::other},
        {"250 ok", ActionClass::other},
        {"", ActionClass::other},
        {"OKAY", ActionClass::other},
    };
    for (const auto& [action, expected] : table) {
        INFO(action);
        CHECK(rules::action_class(action) == expected);
    }
}

TEST_CASE("actions: a declared Postfix restriction class hands the decision over",
          "[action][restriction-class]") {
    const std::vector<std::string> classes = {"rdns_greylist", "check_generic"};
    const auto parsed = rules::parse_action("rdns_greylist", classes);
    REQUIRE(std::holds_alternative<rules::ActionTemplate>(parsed));
    CHECK(std::get<rules::ActionTemplate>(parsed).text() == "rdns_greylist");
    CHECK(rules::action_class("rdns_greylist") == rules::ActionClass::other);
    CHECK_FALSE(std::get<rules::ActionTemplate>(parsed).needs_dns());

    const auto undeclared = rules::parse_action("greylist", classes);
    REQUIRE(std::holds_alternative<std::string>(undeclared));
    CHECK(std::get<std::string>(undeclared)
              .find("(nor one of [policy] restriction_classes: rdns_greylist, check_generic)") !=
          std::string::npos);
    const auto none = rules::parse_action("greylist");
    REQUIRE(std::holds_alternative<std::string>(none));
    CHECK(std::get<std::string>(none).find("must be declared in [policy] restriction_classes") !=
          std::string::npos);
    // Only the bare name: text, macros or a second word make it no class.
    CHECK(std::holds_alternative<std::string>(rules::parse_action("rdns_greylist now", classes)));
    CHECK(std::holds_alternative<std::string>(
        rules::parse_action("rdns_greylist {client_address}", classes)));

    CHECK(rules::check_restriction_class("rdns_greylist").empty());
    CHECK_FALSE(rules::check_restriction_class("Greylist").empty());
    CHECK_FALSE(rules::check_restriction_class("grey-list").empty());
    CHECK_FALSE(rules::check_restriction_class("1grey").empty());
    CHECK_FALSE(rules::check_restriction_class("").empty());
    CHECK(rules::check_restriction_class("dunno") ==
          "\"dunno\" is an action keyword, not a restriction class");
}
