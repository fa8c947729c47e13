// Unit tests of the log/reply sanitiser: nothing outside printable ASCII may
// come through, and the escaping must stay unambiguous inside "...".
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "policyd/base/sanitize.hpp"

using policyd::append_sanitized;
using policyd::sanitized;
using namespace std::string_view_literals;

TEST_CASE("sanitized escapes everything outside printable ASCII", "[sanitize]") {
    struct Case {
        const char* name;
        std::string_view in;
        std::string_view expected;
    };
    const Case cases[] = {
        {"empty", ""sv, ""sv},
        {"plain host name passes unchanged", "mail.example.org"sv, "mail.example.org"sv},
        {"all printable punctuation but \\ and \" passes", "a b!#$%&'()*+,-./:;<=>?@[]^_`{|}~"sv,
         "a b!#$%&'()*+,-./:;<=>?@[]^_`{|}~"sv},
        {"CR and LF cannot forge a log line", "a\r\nfake=1"sv, "a\\x0d\\x0afake=1"sv},
        {"tab", "a\tb"sv, "a\\x09b"sv},
        {"NUL", "a\0b"sv, "a\\x00b"sv},
        {"ESC cannot reach a terminal", "\x1b[31mred"sv, "\\x1b[31mred"sv},
        {"0x1f, last control char", "\x1f"sv, "\\x1f"sv},
        {"DEL 0x7f", "a\x7f"sv, "a\\x7f"sv},
        {"UTF-8 bytes each escaped", "caf\xc3\xa9"sv, "caf\\xc3\\xa9"sv},
        {"0x80 and 0xff", "\x80\xff"sv, "\\x80\\xff"sv},
        {"double quote", "say \"hi\""sv, "say \\\"hi\\\""sv},
        {"backslash doubled so \\x in input stays distinct", "a\\x41"sv, "a\\\\x41"sv},
        {"only escapes", "\n\n"sv, "\\x0a\\x0a"sv},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            CHECK(sanitized(c.in) == c.expected);
        }
    }
}

TEST_CASE("sanitized output is printable ASCII for every byte value", "[sanitize]") {
    std::string all;
    for (int b = 0; b < 256; ++b) {
        all.push_back(static_cast<char>(b));
    }
    const std::string out = sanitized(all, all.size());
    for (const char ch : out) {
        const auto u = static_cast<unsigned char>(ch);
        REQUIRE(u >= 0x20);
        REQUIRE(u < 0x7f);
    }
    // 95 printable bytes, of which \ and " take 2; 161 others take 4.
    CHECK(out.size() == 93 + 2 * 2 + 161 * 4);
}

TEST_CASE("sanitized truncates input at max_bytes and marks it", "[sanitize]") {
    struct Case {
        const char* name;
        std::string_view in;
        std::size_t max_bytes;
        std::string_view expected;
    };
    const Case cases[] = {
        {"shorter than limit", "abc"sv, 4, "abc"sv},
        {"exactly the limit is not truncated", "abcd"sv, 4, "abcd"sv},
        {"one over the limit", "abcde"sv, 4, "abcd..."sv},
        {"limit counts input bytes, not escaped output", "\n\n\n"sv, 2, "\\x0a\\x0a..."sv},
        {"cut inside a UTF-8 sequence stays escaped", "\xc3\xa9"sv, 1, "\\xc3..."sv},
        {"zero limit", "abc"sv, 0, "..."sv},
        {"zero limit, empty input", ""sv, 0, ""sv},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            CHECK(sanitized(c.in, c.max_bytes) == c.expected);
        }
    }
}

TEST_CASE("sanitized default limit is 256 input bytes", "[sanitize]") {
    const std::string long_input(300, 'x');
    CHECK(sanitized(long_input) == std::string(256, 'x') + "...");
    CHECK(sanitized(std::string(256, 'x')) == std::string(256, 'x'));
}

TEST_CASE("append_sanitized appends and keeps what is there", "[sanitize]") {
    std::string out = "helo=\"";
    append_sanitized(out, "evil\"\n", 64);
    out.push_back('"');
    CHECK(out == "helo=\"evil\\\"\\x0a\"");
}
