// Unit tests of the Postfix policy protocol codec: valid requests, every
// malformed case, limits while a request is still incomplete, pipelining.
#include <catch2/catch.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "policyd/protocol/codec.hpp"

using policyd::Attr;
using policyd::format_reply;
using policyd::parse_request;
using policyd::ParseResult;
using policyd::ParseStatus;
using policyd::ProtocolError;
using policyd::ProtocolLimits;
using policyd::Request;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view kMinimal =
    "request=smtpd_access_policy\n"
    "client_address=192.0.2.1\n"
    "helo_name=mx.example.org\n"
    "\n"sv;

ParseResult parse(std::string_view buffer, Request& out, const ProtocolLimits& limits = {}) {
    return parse_request(buffer, limits, out);
}

// A request with `lines` attribute lines in total (request= included).
std::string request_with_lines(std::size_t lines) {
    std::string s = "request=smtpd_access_policy\n";
    for (std::size_t i = 1; i < lines; ++i) {
        s += "x_unknown=" + std::to_string(i) + "\n";
    }
    s += "\n";
    return s;
}

}  // namespace

TEST_CASE("to_string names every protocol error", "[protocol]") {
    CHECK(to_string(ProtocolError::none) == "none");
    CHECK(to_string(ProtocolError::line_too_long) == "line-too-long");
    CHECK(to_string(ProtocolError::request_too_large) == "request-too-large");
    CHECK(to_string(ProtocolError::too_many_attributes) == "too-many-attributes");
    CHECK(to_string(ProtocolError::nul_byte) == "nul-byte");
    CHECK(to_string(ProtocolError::malformed_line) == "malformed-line");
    CHECK(to_string(ProtocolError::unsupported_request) == "unsupported-request");
    CHECK(to_string(ProtocolError::missing_request) == "missing-request");
}

TEST_CASE("parse_request accepts a minimal request", "[protocol]") {
    Request req;
    const ParseResult r = parse(kMinimal, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.error == ProtocolError::none);
    CHECK(r.consumed == kMinimal.size());
    CHECK(r.detail.empty());
    CHECK(req.get(Attr::request) == "smtpd_access_policy");
    CHECK(req.get(Attr::client_address) == "192.0.2.1");
    CHECK(req.get(Attr::helo_name) == "mx.example.org");
    CHECK(req.get(Attr::sender).empty());
}

TEST_CASE("parse_request value and line syntax", "[protocol]") {
    struct Case {
        const char* name;
        std::string_view input;
        Attr attr;
        std::string_view expected;
    };
    const Case cases[] = {
        {"CRLF line endings are stripped",
         "request=smtpd_access_policy\r\nhelo_name=a.example\r\n\r\n"sv, Attr::helo_name,
         "a.example"sv},
        {"mixed LF and CRLF", "request=smtpd_access_policy\nhelo_name=a.example\r\n\n"sv,
         Attr::helo_name, "a.example"sv},
        {"only one trailing CR is stripped",
         "request=smtpd_access_policy\nhelo_name=a.example\r\r\n\n"sv, Attr::helo_name,
         "a.example\r"sv},
        {"a CR inside a value is kept", "request=smtpd_access_policy\nhelo_name=a\rb\n\n"sv,
         Attr::helo_name, "a\rb"sv},
        {"split at the first '=': value keeps '='",
         "request=smtpd_access_policy\nsender=a=b@example.org\n\n"sv, Attr::sender,
         "a=b@example.org"sv},
        {"value of only '='", "request=smtpd_access_policy\nsender===\n\n"sv, Attr::sender, "=="sv},
        {"empty value", "request=smtpd_access_policy\nsasl_username=\n\n"sv, Attr::sasl_username,
         ""sv},
        {"spaces are part of name and value, not trimmed",
         "request=smtpd_access_policy\nhelo_name= x \n\n"sv, Attr::helo_name, " x "sv},
        {"name with trailing space is not the attribute",
         "request=smtpd_access_policy\nhelo_name =x\n\n"sv, Attr::helo_name, ""sv},
        {"names are case-sensitive", "request=smtpd_access_policy\nHELO_NAME=x\n\n"sv,
         Attr::helo_name, ""sv},
        {"repeated attribute: last value wins",
         "request=smtpd_access_policy\nhelo_name=first\nhelo_name=second\n\n"sv, Attr::helo_name,
         "second"sv},
        {"repeated attribute: last empty value wins",
         "request=smtpd_access_policy\nhelo_name=first\nhelo_name=\n\n"sv, Attr::helo_name, ""sv},
        {"unknown attributes are ignored",
         "request=smtpd_access_policy\nx_future=1\nclient_port=25\nnot_an_attr=\n\n"sv,
         Attr::client_port, "25"sv},
        {"request need not be first", "client_port=25\nrequest=smtpd_access_policy\n\n"sv,
         Attr::client_port, "25"sv},
        {"non-ASCII bytes are kept as received",
         "request=smtpd_access_policy\nsender=j\xc3\xb6rg@example.org\n\n"sv, Attr::sender,
         "j\xc3\xb6rg@example.org"sv},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            Request req;
            const ParseResult r = parse(c.input, req);
            REQUIRE(r.status == ParseStatus::complete);
            CHECK(r.consumed == c.input.size());
            CHECK(req.get(c.attr) == c.expected);
            CHECK(req.get(Attr::request) == "smtpd_access_policy");
        }
    }
}

TEST_CASE("parse_request rejects malformed requests", "[protocol]") {
    ProtocolLimits small;
    small.max_line_bytes = 32;
    small.max_request_bytes = 128;
    small.max_attributes = 4;
    const std::string line_33 = "helo_name=" + std::string(23, 'a');  // 33 bytes

    struct Case {
        const char* name;
        std::string input;
        ProtocolError expected;
    };
    const Case cases[] = {
        {"empty request", "\n", ProtocolError::missing_request},
        {"empty request with CRLF", "\r\n", ProtocolError::missing_request},
        {"no request attribute", "client_address=192.0.2.1\n\n", ProtocolError::missing_request},
        {"request name differs in case", "REQUEST=smtpd_access_policy\n\n",
         ProtocolError::missing_request},
        {"other request type", "request=junk_policy\n\n", ProtocolError::unsupported_request},
        {"empty request value", "request=\n\n", ProtocolError::unsupported_request},
        {"request value with trailing space", "request=smtpd_access_policy \n\n",
         ProtocolError::unsupported_request},
        {"repeated request: the last (bad) one wins",
         "request=smtpd_access_policy\nrequest=other\n\n", ProtocolError::unsupported_request},
        {"line without '='", "request=smtpd_access_policy\nhelo_name\n\n",
         ProtocolError::malformed_line},
        {"line with empty name", "request=smtpd_access_policy\n=value\n\n",
         ProtocolError::malformed_line},
        {"line that is only '='", "=\n\n", ProtocolError::malformed_line},
        {"blank-looking line of spaces", "request=smtpd_access_policy\n \n\n",
         ProtocolError::malformed_line},
        {"malformed line detected before the request is complete",
         "request=smtpd_access_policy\ngarbage\n", ProtocolError::malformed_line},
        {"NUL in a value", std::string("request=smtpd_access_policy\nhelo_name=a\0b\n\n"sv),
         ProtocolError::nul_byte},
        {"NUL in a name", std::string("request=smtpd_access_policy\nhe\0lo=a\n\n"sv),
         ProtocolError::nul_byte},
        {"NUL as a whole line", std::string("\0\n\n"sv), ProtocolError::nul_byte},
        {"NUL in an incomplete request", std::string("request=smtpd_access_policy\nhelo\0"sv),
         ProtocolError::nul_byte},
        {"NUL as the only byte", std::string(1, '\0'), ProtocolError::nul_byte},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            Request req;
            const ParseResult r = parse(c.input, req);
            REQUIRE(r.status == ParseStatus::error);
            CHECK(r.error == c.expected);
            CHECK(r.consumed == 0);
            CHECK_FALSE(r.detail.empty());
        }
    }
}

TEST_CASE("parse_request enforces limits, also while incomplete", "[protocol]") {
    ProtocolLimits limits;
    limits.max_line_bytes = 40;
    limits.max_request_bytes = 256;
    limits.max_attributes = 5;
    const std::string head = "request=smtpd_access_policy\n";
    // "helo_name=" + filler: a line of exactly n bytes.
    auto line_of = [](std::size_t n) { return "helo_name=" + std::string(n - 10, 'a'); };

    struct Case {
        const char* name;
        std::string input;
        ParseStatus status;
        ProtocolError error;
    };
    const Case cases[] = {
        {"line of exactly max_line_bytes", head + line_of(40) + "\n\n", ParseStatus::complete,
         ProtocolError::none},
        {"line of max_line_bytes plus CR", head + line_of(40) + "\r\n\n", ParseStatus::complete,
         ProtocolError::none},
        {"line one byte too long", head + line_of(41) + "\n\n", ParseStatus::error,
         ProtocolError::line_too_long},
        {"line one byte too long before CRLF", head + line_of(41) + "\r\n\n", ParseStatus::error,
         ProtocolError::line_too_long},
        {"partial line of max_line_bytes waits", head + line_of(40), ParseStatus::incomplete,
         ProtocolError::none},
        {"partial line of max_line_bytes plus CR waits", head + line_of(40) + "\r",
         ParseStatus::incomplete, ProtocolError::none},
        {"partial line over the limit fails without waiting for newline", head + line_of(41),
         ParseStatus::error, ProtocolError::line_too_long},
        {"partial first line over the limit", line_of(41), ParseStatus::error,
         ProtocolError::line_too_long},
        {"exactly max_attributes lines", request_with_lines(5), ParseStatus::complete,
         ProtocolError::none},
        {"one attribute line too many", request_with_lines(6), ParseStatus::error,
         ProtocolError::too_many_attributes},
        {"too many attributes detected while incomplete",
         request_with_lines(6).substr(0, request_with_lines(6).size() - 1), ParseStatus::error,
         ProtocolError::too_many_attributes},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            Request req;
            const ParseResult r = parse(c.input, req, limits);
            CHECK(r.status == c.status);
            CHECK(r.error == c.error);
            CHECK(r.detail.empty() == (c.status != ParseStatus::error));
        }
    }
}

TEST_CASE("parse_request enforces max_request_bytes", "[protocol]") {
    ProtocolLimits limits;
    limits.max_line_bytes = 1000;
    limits.max_attributes = 1000;
    const std::string head = "request=smtpd_access_policy\nhelo_name=";
    // A complete request of exactly n bytes: head + filler + "\n\n".
    auto request_of = [&](std::size_t n) {
        return head + std::string(n - head.size() - 2, 'h') + "\n\n";
    };
    const std::string exact = request_of(200);
    REQUIRE(exact.size() == 200);
    limits.max_request_bytes = 200;
    Request req;

    SECTION("a request of exactly max_request_bytes is complete") {
        const ParseResult r = parse(exact, req, limits);
        CHECK(r.status == ParseStatus::complete);
        CHECK(r.consumed == 200);
    }
    SECTION("a complete request one byte over the limit fails") {
        const ParseResult r = parse(request_of(201), req, limits);
        CHECK(r.status == ParseStatus::error);
        CHECK(r.error == ProtocolError::request_too_large);
    }
    SECTION("an incomplete request over the limit fails without waiting for its end") {
        std::string many_lines;
        while (many_lines.size() <= 200) {
            many_lines += "x_unknown=1\n";
        }
        const ParseResult r = parse(many_lines, req, limits);
        CHECK(r.status == ParseStatus::error);
        CHECK(r.error == ProtocolError::request_too_large);
    }
    SECTION("a full request followed by more bytes is fine: only its own size counts") {
        const std::string buffer = exact + std::string(500, 'x');
        const ParseResult r = parse(buffer, req, limits);
        CHECK(r.status == ParseStatus::complete);
        CHECK(r.consumed == 200);
    }
    SECTION("an incomplete request at exactly the limit still waits") {
        const ParseResult r = parse(exact.substr(0, 199), req, limits);
        CHECK(r.status == ParseStatus::incomplete);
    }
}

TEST_CASE("parse_request: every proper prefix is incomplete, the whole is complete", "[protocol]") {
    for (const std::string_view input :
         {kMinimal, "request=smtpd_access_policy\r\nclient_port=25\r\n\r\n"sv}) {
        Request req;
        req.set(Attr::helo_name, "untouched");
        for (std::size_t n = 0; n < input.size(); ++n) {
            const ParseResult r = parse(input.substr(0, n), req);
            INFO("prefix length " << n);
            REQUIRE(r.status == ParseStatus::incomplete);
            REQUIRE(r.error == ProtocolError::none);
            REQUIRE(r.consumed == 0);
            // The contract: out is untouched unless the request is complete.
            REQUIRE(req.get(Attr::helo_name) == "untouched");
        }
        const ParseResult r = parse(input, req);
        CHECK(r.status == ParseStatus::complete);
        CHECK(r.consumed == input.size());
    }
}

TEST_CASE("parse_request leaves out untouched on error and overwrites it when complete",
          "[protocol]") {
    Request req;
    req.set(Attr::sender, "old@example.org");
    req.set(Attr::queue_id, "OLDQUEUEID");

    const ParseResult bad = parse("request=smtpd_access_policy\nsender=new\nbroken\n\n"sv, req);
    REQUIRE(bad.status == ParseStatus::error);
    CHECK(req.get(Attr::sender) == "old@example.org");

    const ParseResult good =
        parse("request=smtpd_access_policy\nsender=new@example.org\n\n"sv, req);
    REQUIRE(good.status == ParseStatus::complete);
    CHECK(req.get(Attr::sender) == "new@example.org");
    // An attribute of the previous request that this one lacks must not leak.
    CHECK(req.get(Attr::queue_id).empty());
}

TEST_CASE("parse_request is stateless", "[protocol]") {
    Request a;
    Request b;
    const ParseResult first = parse(kMinimal, a);
    const ParseResult second = parse(kMinimal, b);
    CHECK(first.status == second.status);
    CHECK(first.consumed == second.consumed);
    CHECK(a.values == b.values);

    const std::string_view bad = "request=smtpd_access_policy\nno-equals\n"sv;
    const ParseResult e1 = parse(bad, a);
    const ParseResult e2 = parse(bad, a);
    CHECK(e1.error == ProtocolError::malformed_line);
    CHECK(e1.error == e2.error);
    CHECK(e1.detail == e2.detail);
}

TEST_CASE("parse_request handles pipelined requests in order", "[protocol]") {
    const std::string first =
        "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=a@example.org\n\n";
    const std::string second =
        "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\nrecipient=b@example.org\r\n\r\n";
    const std::string third_partial = "request=smtpd_access_policy\nprotocol_state=DA";
    std::string buffer = first + second + third_partial;
    Request req;

    ParseResult r = parse(buffer, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.consumed == first.size());
    CHECK(req.get(Attr::recipient) == "a@example.org");
    buffer.erase(0, r.consumed);

    r = parse(buffer, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.consumed == second.size());
    CHECK(req.get(Attr::recipient) == "b@example.org");
    buffer.erase(0, r.consumed);

    r = parse(buffer, req);
    CHECK(r.status == ParseStatus::incomplete);
    CHECK(buffer == third_partial);
    CHECK(req.get(Attr::recipient) == "b@example.org");

    buffer += "TA\n\n";
    r = parse(buffer, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.consumed == buffer.size());
    CHECK(req.get(Attr::protocol_state) == "DATA");
    CHECK(req.get(Attr::recipient).empty());
}

TEST_CASE("parse_request: a good request is answered even if garbage follows", "[protocol]") {
    // The garbage is the next request's problem; the first one still gets
    // its answer, and the next call reports the error.
    std::string buffer = std::string(kMinimal) + std::string("\0garbage"sv);
    Request req;
    ParseResult r = parse(buffer, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.consumed == kMinimal.size());
    r = parse(std::string_view(buffer).substr(r.consumed), req);
    CHECK(r.status == ParseStatus::error);
    CHECK(r.error == ProtocolError::nul_byte);
}

TEST_CASE("parse_request error details are sanitised and short", "[protocol]") {
    const std::string evil =
        "request=smtpd_access_policy\n\x1b[2J\"" + std::string(500, 'z') + "\r\x01\n\n";
    Request req;
    const ParseResult r = parse(evil, req);
    REQUIRE(r.error == ProtocolError::malformed_line);
    CHECK(r.detail.find('\x1b') == std::string::npos);
    CHECK(r.detail.find("\\x1b[2J\\\"") != std::string::npos);
    CHECK(r.detail.find("line 2") != std::string::npos);
    CHECK(r.detail.size() < 200);
    for (const char ch : r.detail) {
        const auto u = static_cast<unsigned char>(ch);
        REQUIRE(u >= 0x20);
        REQUIRE(u < 0x7f);
    }

    const ParseResult u = parse("request=\x1b]0;pwned\x07\n\n"sv, req);
    REQUIRE(u.error == ProtocolError::unsupported_request);
    CHECK(u.detail == "request=\"\\x1b]0;pwned\\x07\"");
}

TEST_CASE("parse_request reads a full Postfix 3.7 request", "[protocol]") {
    constexpr std::string_view full =
        "request=smtpd_access_policy\n"
        "protocol_state=RCPT\n"
        "protocol_name=ESMTP\n"
        "client_address=2001:db8::25\n"
        "client_name=mail.example.net\n"
        "client_port=49152\n"
        "reverse_client_name=mail.example.net\n"
        "server_address=192.0.2.10\n"
        "server_port=25\n"
        "helo_name=mail.example.net\n"
        "sender=alice@example.net\n"
        "recipient=bob@example.org\n"
        "recipient_count=0\n"
        "queue_id=4Xy1Lk2QbNz9v\n"
        "instance=1a2b.66f0c1d2.3e4f5.0\n"
        "size=12345\n"
        "etrn_domain=\n"
        "stress=\n"
        "sasl_method=plain\n"
        "sasl_username=alice\n"
        "sasl_sender=\n"
        "ccert_subject=mail.example.net\n"
        "ccert_issuer=R3+20Let's+20Encrypt\n"
        "ccert_fingerprint=C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04\n"
        "ccert_pubkey_fingerprint=68:B3:29:DA:98:93:E3:40:99:C7:D8:AD:5C:B9:C9:40\n"
        "encryption_protocol=TLSv1.3\n"
        "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
        "encryption_keysize=256\n"
        "policy_context=submission\n"
        "compatibility_level=3.6\n"
        "mail_version=3.7.11\n"
        "\n"sv;
    Request req;
    const ParseResult r = parse(full, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.consumed == full.size());

    struct Expect {
        Attr attr;
        std::string_view value;
    };
    const Expect expected[] = {
        {Attr::request, "smtpd_access_policy"},
        {Attr::protocol_state, "RCPT"},
        {Attr::protocol_name, "ESMTP"},
        {Attr::client_address, "2001:db8::25"},
        {Attr::client_name, "mail.example.net"},
        {Attr::client_port, "49152"},
        {Attr::reverse_client_name, "mail.example.net"},
        {Attr::server_address, "192.0.2.10"},
        {Attr::server_port, "25"},
        {Attr::helo_name, "mail.example.net"},
        {Attr::sender, "alice@example.net"},
        {Attr::recipient, "bob@example.org"},
        {Attr::recipient_count, "0"},
        {Attr::queue_id, "4Xy1Lk2QbNz9v"},
        {Attr::instance, "1a2b.66f0c1d2.3e4f5.0"},
        {Attr::size, "12345"},
        {Attr::etrn_domain, ""},
        {Attr::stress, ""},
        {Attr::sasl_method, "plain"},
        {Attr::sasl_username, "alice"},
        {Attr::sasl_sender, ""},
        {Attr::ccert_subject, "mail.example.net"},
        {Attr::ccert_issuer, "R3+20Let's+20Encrypt"},
        {Attr::ccert_fingerprint, "C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04"},
        {Attr::ccert_pubkey_fingerprint, "68:B3:29:DA:98:93:E3:40:99:C7:D8:AD:5C:B9:C9:40"},
        {Attr::encryption_protocol, "TLSv1.3"},
        {Attr::encryption_cipher, "TLS_AES_256_GCM_SHA384"},
        {Attr::encryption_keysize, "256"},
        {Attr::policy_context, "submission"},
        {Attr::compatibility_level, "3.6"},
        {Attr::mail_version, "3.7.11"},
    };
    // Every Attr appears exactly once above, so a swapped slot cannot hide.
    REQUIRE(std::size(expected) == policyd::kAttrCount);
    for (const auto& e : expected) {
        INFO(policyd::attr_name(e.attr));
        CHECK(req.get(e.attr) == e.value);
    }
}

TEST_CASE("parse_request maps every attribute name to its own slot", "[protocol]") {
    std::string input;
    for (std::size_t i = 0; i < policyd::kAttrCount; ++i) {
        const auto attr = static_cast<Attr>(i);
        if (attr == Attr::request) {
            input += "request=smtpd_access_policy\n";
        } else {
            input += std::string(policyd::attr_name(attr)) + "=v" + std::to_string(i) + "\n";
        }
    }
    input += "\n";
    Request req;
    REQUIRE(parse(input, req).status == ParseStatus::complete);
    for (std::size_t i = 0; i < policyd::kAttrCount; ++i) {
        const auto attr = static_cast<Attr>(i);
        if (attr != Attr::request) {
            INFO(policyd::attr_name(attr));
            CHECK(req.get(attr) == "v" + std::to_string(i));
        }
    }
}

TEST_CASE("format_reply appends one action and the empty line", "[protocol]") {
    struct Case {
        const char* name;
        std::string_view action;
        std::string_view expected;
    };
    const Case cases[] = {
        {"bare action", "DUNNO"sv, "action=DUNNO\n\n"sv},
        {"action with text", "450 4.7.25 Client host rejected: cannot find your hostname"sv,
         "action=450 4.7.25 Client host rejected: cannot find your hostname\n\n"sv},
        {"action containing '='", "PREPEND X-Check: a=b"sv, "action=PREPEND X-Check: a=b\n\n"sv},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            std::string out;
            format_reply(c.action, out);
            CHECK(out == c.expected);
        }
    }
    SECTION("appends after what is already in the buffer") {
        std::string out = "action=OK\n\n";
        format_reply("DUNNO", out);
        CHECK(out == "action=OK\n\naction=DUNNO\n\n");
    }
}
