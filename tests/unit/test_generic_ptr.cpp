// Unit tests for policyd/checks/generic_ptr.hpp: the generic/dynamic PTR-name classifier.
#include <catch2/catch.hpp>
#include <cstddef>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/generic_ptr.hpp"

using policyd::GenericPtr;
using policyd::GenericPtrClassifier;
using policyd::GenericPtrVocabulary;

namespace {

policyd::IpAddress ip(const std::string& text) {
    const auto address = policyd::parse_ip(text);
    REQUIRE(address);
    return *address;
}

const GenericPtrClassifier& standard() {
    static const GenericPtrClassifier classifier(GenericPtrVocabulary::defaults());
    return classifier;
}

std::string word(GenericPtr value) {
    return value == GenericPtr::generic ? "generic" : "not-generic";
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t tab = line.find('\t', start);
        fields.push_back(line.substr(start, tab - start));
        if (tab == std::string::npos) {
            return fields;
        }
        start = tab + 1;
    }
}

struct Row {
    std::string name;
    std::string client;
    GenericPtr expected;
};

void check_rows(const GenericPtrClassifier& classifier, const std::vector<Row>& rows) {
    for (const Row& row : rows) {
        INFO(row.name << " from " << row.client << ": "
                      << classifier.explain(row.name, ip(row.client)));
        CHECK(word(classifier.classify(row.name, ip(row.client))) == word(row.expected));
    }
}

}  // namespace

TEST_CASE("generic PTR: every corpus line classifies as expected", "[generic_ptr]") {
    std::ifstream in(SOURCE_DIR "/tests/unit/generic_ptr_corpus.tsv");
    REQUIRE(in);
    std::string line;
    std::size_t line_number = 0;
    std::size_t rows = 0;
    std::size_t generic = 0;
    std::size_t mismatches = 0;
    while (std::getline(in, line)) {
        ++line_number;
        if (line.empty() || line[0] == '#') {
            continue;
        }
        const std::vector<std::string> fields = split_tabs(line);
        INFO("generic_ptr_corpus.tsv:" << line_number << ": " << line);
        REQUIRE(fields.size() == 4);
        REQUIRE((fields[2] == "generic" || fields[2] == "not-generic"));
        const policyd::IpAddress client = ip(fields[1]);
        ++rows;
        generic += fields[2] == "generic" ? 1 : 0;

        const GenericPtr got = standard().classify(fields[0], client);
        const std::string why = standard().explain(fields[0], client);
        if (word(got) != fields[2]) {
            ++mismatches;
            // FAIL_CHECK, not REQUIRE: one run reports every mismatch.
            FAIL_CHECK("line " << line_number << ": " << fields[0] << " from " << fields[1]
                               << ": expected " << fields[2] << ", got " << word(got) << " (" << why
                               << ") -- " << fields[3]);
        }
        // explain() must tell the same story as classify().
        const bool says_generic =
            why.rfind("contains address", 0) == 0 || why.rfind("keyword", 0) == 0;
        CHECK(says_generic == (got == GenericPtr::generic));
    }
    CHECK(mismatches == 0);
    CHECK(rows >= 120);
    // Both answers are well represented, so neither "always generic" nor
    // "never generic" could pass.
    CHECK(generic >= 50);
    CHECK(rows - generic >= 50);
}

TEST_CASE("generic PTR: IPv4 encodings of the client address", "[generic_ptr]") {
    // 198.51.100.23 is c6 33 64 17 in hex.
    const std::string client = "198.51.100.23";
    SECTION("encodings that count") {
        check_rows(standard(),
                   {
                       {"198.51.100.23.x.example.net", client, GenericPtr::generic},
                       {"198-51-100-23.example.net", client, GenericPtr::generic},
                       {"198_51_100_23.example.net", client, GenericPtr::generic},
                       {"198-51.100_23.example.net", client, GenericPtr::generic},  // mixed
                       {"23.100.51.198.x.example.net", client, GenericPtr::generic},
                       {"23-100-51-198.example.net", client, GenericPtr::generic},
                       {"198-051-100-023.example.net", client, GenericPtr::generic},
                       {"h198-51-100-23x.example.net", client, GenericPtr::generic},
                       {"198051100023.example.net", client, GenericPtr::generic},
                       {"023100051198.example.net", client, GenericPtr::generic},
                       {"h1985110023.example.net", client, GenericPtr::generic},
                       {"2310051198.example.net", client, GenericPtr::generic},  // reversed
                       {"c6336417.example.net", client, GenericPtr::generic},
                       {"C6336417.example.net", client, GenericPtr::generic},
                       {"p176433c6.example.net", client, GenericPtr::generic},  // reversed
                       {"c6-33-64-17.example.net", client, GenericPtr::generic},
                       {"c6.33.64.17.x.example.net", client, GenericPtr::generic},
                       {"ip-c6_33_64_17.example.net", client, GenericPtr::generic},
                       {"a100-23.b198-51.example.net", client, GenericPtr::generic},  // split
                       {"a23.b198-51-100.example.net", client, GenericPtr::generic},
                       {"a198.b51-100-23.example.net", client, GenericPtr::generic},
                       {"a23-100.b51-198.example.net", client, GenericPtr::generic},
                   });
    }
    SECTION("near misses that do not") {
        check_rows(standard(),
                   {
                       {"198-51-100-24.example.net", client, GenericPtr::not_generic},
                       {"198-51-100-230.example.net", client, GenericPtr::not_generic},
                       {"198-51-100-0023.example.net", client, GenericPtr::not_generic},
                       {"1198-51-100-23.example.net", client, GenericPtr::not_generic},
                       {"198-51-100.example.net", client, GenericPtr::not_generic},  // the /24
                       {"x51-100-23.example.net", client, GenericPtr::not_generic},
                       {"x100-23.example.net", client, GenericPtr::not_generic},
                       {"x198-51.example.net", client, GenericPtr::not_generic},
                       {"1985110023.example.net", "198.51.100.24", GenericPtr::not_generic},
                       {"19851100231.example.net", client, GenericPtr::not_generic},
                       {"c63364170.example.net", client, GenericPtr::not_generic},
                       {"1c6336417.example.net", client, GenericPtr::not_generic},
                       {"ac6-33-64-17.example.net", client, GenericPtr::not_generic},
                       {"c6-33-64-17a.example.net", client, GenericPtr::not_generic},
                       {"c6-33-64-18.example.net", client, GenericPtr::not_generic},
                       // The address in the organisational domain says nothing.
                       {"www.198-51-100-23.example", client, GenericPtr::not_generic},
                   });
    }
    SECTION("an unpadded concatenation needs 8 digits") {
        check_rows(standard(),
                   {
                       {"srv1234.example.com", "1.2.3.4", GenericPtr::not_generic},
                       {"srv1234567.example.com", "1.23.45.67", GenericPtr::not_generic},
                       {"srv12345678.example.com", "12.34.56.78", GenericPtr::generic},
                       {"srv001002003004.example.com", "1.2.3.4", GenericPtr::generic},
                   });
    }
}

TEST_CASE("generic PTR: IPv6 encodings of the client address", "[generic_ptr]") {
    // 2001:db8:a:b::5, RFC 5952 form 2001:db8:a:b::5.
    const std::string client = "2001:db8:a:b::5";
    SECTION("encodings that count") {
        check_rows(
            standard(),
            {
                {"2001-db8-a-b--5.example.net", client, GenericPtr::generic},
                {"2001-DB8-A-B--5.example.net", client, GenericPtr::generic},
                {"2001-db8-a-b-0-0-0-5.example.net", client, GenericPtr::generic},
                {"2001-0db8-000a-000b-0000-0000-0000-0005.example.net", client,
                 GenericPtr::generic},
                {"ip6-2001-db8-a-b--5-v6.example.net", client, GenericPtr::generic},
                {"x20010db8000a000b0000000000000005.example.net", client, GenericPtr::generic},
                {"5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.0.0.0.a.0.0.0.8.b.d.0.1.0.0.2.x.example.net",
                 client, GenericPtr::generic},
                {"2-0-0-1-0-d-b-8-0-0-0-a-0-0-0-b-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-5.example.net",
                 client, GenericPtr::generic},
                // RFC 5952 tie: the first run of zeros is the one compressed.
                {"2001-db8--1-0-0-1.example.net", "2001:db8:0:0:1:0:0:1", GenericPtr::generic},
                {"x--1.example.net", "::1", GenericPtr::generic},
                {"2001-db8--.example.net", "2001:db8::", GenericPtr::generic},
            });
    }
    SECTION("near misses that do not") {
        check_rows(
            standard(),
            {
                {"2001-db8-a-b--6.example.net", client, GenericPtr::not_generic},
                {"2001-db8-a-b--5-7.example.net", client, GenericPtr::not_generic},
                {"1-2001-db8-a-b--5.example.net", client, GenericPtr::not_generic},
                {"2001-db8-a-b--5a.example.net", client, GenericPtr::not_generic},
                {"2001-db8-a-b.example.net", client, GenericPtr::not_generic},
                {"20010db8000a000b000000000000000.example.net", client, GenericPtr::not_generic},
                // An IPv4 address in the name of an IPv6 client is no evidence.
                {"192-0-2-1.example.net", client, GenericPtr::not_generic},
            });
    }
}

TEST_CASE("generic PTR: host part, exemption and keyword tokens", "[generic_ptr]") {
    check_rows(standard(), {
                               // Keywords only count as whole letter tokens.
                               {"dynamo.example.net", "192.0.2.1", GenericPtr::not_generic},
                               {"xdyn.example.net", "192.0.2.1", GenericPtr::not_generic},
                               {"dyn7.example.net", "192.0.2.1", GenericPtr::generic},
                               {"a.b.dyn_x.example.net", "192.0.2.1", GenericPtr::generic},
                               // Only the host part counts; ccSLDs move the boundary.
                               {"dsl.example.net", "192.0.2.1", GenericPtr::generic},
                               {"web.dsl.net", "192.0.2.1", GenericPtr::not_generic},
                               {"dsl.co.uk", "192.0.2.1", GenericPtr::not_generic},
                               {"web.dsl.co.uk", "192.0.2.1", GenericPtr::not_generic},
                               {"dsl.web.co.uk", "192.0.2.1", GenericPtr::generic},
                               {"dsl.co.example", "192.0.2.1", GenericPtr::generic},
                               // The exemption covers the first two labels, not the third.
                               {"mail.dyn.example.net", "192.0.2.1", GenericPtr::not_generic},
                               {"x.mail.dyn.example.net", "192.0.2.1", GenericPtr::not_generic},
                               {"x.y.mail.dyn.example.net", "192.0.2.1", GenericPtr::generic},
                               {"mailbox.dyn.example.net", "192.0.2.1", GenericPtr::generic},
                               {"mx-1-2-3-4.example.net", "1.2.3.4", GenericPtr::not_generic},
                               {"static-1-2-3-4.example.net", "1.2.3.4", GenericPtr::generic},
                           });
}

TEST_CASE("generic PTR: admins extend the vocabulary", "[generic_ptr]") {
    GenericPtrVocabulary vocabulary = GenericPtrVocabulary::defaults();
    const std::string orange = "lfbn-idf1-1-1-1.w1-1.abo.wanadoo.fr";
    CHECK(standard().classify(orange, ip("192.0.2.1")) == GenericPtr::not_generic);
    CHECK(standard().classify("sender-dyn-1.example.net", ip("192.0.2.1")) == GenericPtr::generic);

    vocabulary.generic_keywords.emplace_back("ABO");  // case does not matter
    vocabulary.generic_keywords.emplace_back("dial-up");
    vocabulary.static_keywords.emplace_back("sender");
    vocabulary.static_keywords.emplace_back("mx1");     // digits split: means "mx"
    vocabulary.generic_keywords.emplace_back("relay");  // in both lists: static wins
    const GenericPtrClassifier extended(vocabulary);

    CHECK(extended.classify(orange, ip("192.0.2.1")) == GenericPtr::generic);
    CHECK(extended.explain(orange, ip("192.0.2.1")) == "keyword abo");
    CHECK(extended.classify("sender-dyn-1.example.net", ip("192.0.2.1")) ==
          GenericPtr::not_generic);
    CHECK(extended.explain("sender-dyn-1.example.net", ip("192.0.2.1")) ==
          "static keyword sender (overrides: keyword dyn)");
    CHECK(extended.classify("relay.example.net", ip("192.0.2.1")) == GenericPtr::not_generic);

    SECTION("an empty vocabulary leaves only the address rule") {
        const GenericPtrClassifier bare(GenericPtrVocabulary{});
        CHECK(bare.classify("dynamic.pool.example.net", ip("192.0.2.1")) ==
              GenericPtr::not_generic);
        CHECK(bare.classify("mail-192-0-2-1.example.net", ip("192.0.2.1")) == GenericPtr::generic);
    }
    SECTION("a multi-token keyword needs its tokens in a row") {
        GenericPtrVocabulary only;
        only.generic_keywords = {"dial-up"};
        const GenericPtrClassifier dialup(only);
        CHECK(dialup.classify("dial-up-7.example.net", ip("192.0.2.1")) == GenericPtr::generic);
        CHECK(dialup.classify("dial7up.example.net", ip("192.0.2.1")) == GenericPtr::generic);
        CHECK(dialup.classify("dial.example.net", ip("192.0.2.1")) == GenericPtr::not_generic);
        CHECK(dialup.classify("up-dial.example.net", ip("192.0.2.1")) == GenericPtr::not_generic);
    }
    SECTION("words that could never match are refused at load") {
        for (const std::string& bad : {std::string(), std::string("123"), std::string("-"),
                                       std::string("dyn amic"), std::string("dyn*"),
                                       std::string("\xc3\xbc"
                                                   "ber"),
                                       std::string(64, 'a')}) {
            INFO("keyword \"" << bad << "\"");
            GenericPtrVocabulary v;
            v.generic_keywords = {bad};
            CHECK_THROWS_AS(GenericPtrClassifier(v), std::invalid_argument);
            v.generic_keywords.clear();
            v.static_keywords = {bad};
            CHECK_THROWS_AS(GenericPtrClassifier(v), std::invalid_argument);
        }
        GenericPtrVocabulary v;
        v.generic_keywords = {std::string(63, 'a')};
        CHECK_NOTHROW(GenericPtrClassifier(v));
    }
}

TEST_CASE("generic PTR: explain() says why", "[generic_ptr]") {
    struct Case {
        std::string name;
        std::string client;
        std::string why;
    };
    const std::vector<Case> cases = {
        {"c-73-12-34-56.hsd1.ca.comcast.net", "73.12.34.56", "contains address 73-12-34-56"},
        {"p5b0a0b0c.dip0.t-ipconnect.de", "91.10.11.12", "contains address 5b0a0b0c (hex)"},
        {"ip-C0-00-02-01.example.net", "192.0.2.1", "contains address C0-00-02-01 (hex)"},
        {"lfbn-idf1-1-234-56.w90-1.abo.wanadoo.fr", "90.1.234.56",
         "contains address split as '90-1' and '234-56'"},
        {"078088012034.dynamic-ww-01.vectranet.pl", "78.88.12.34", "contains address 078088012034"},
        {"2001-470-1f0b-1a2--2.v6.example.net", "2001:470:1f0b:1a2::2",
         "contains address 2001-470-1f0b-1a2--2 (IPv6)"},
        {"unassigned.psychz.net", "192.0.2.1", "keyword unassigned"},
        {"dial-up-77.example.net", "192.0.2.1", "keyword dial-up"},
        {"mail-yw1-f123.google.com", "209.85.128.123", "static keyword mail"},
        {"69-171-232-143.mail-mail.facebook.com", "69.171.232.143",
         "static keyword mail (overrides: contains address 69-171-232-143)"},
        {"mx.dynamic.example.net", "192.0.2.1", "static keyword mx (overrides: keyword dynamic)"},
        {"example.com", "192.0.2.1", "no host part left of the organisational domain"},
        {"", "192.0.2.1", "no host part left of the organisational domain"},
        {"www.example.com", "192.0.2.1", "no address or generic keyword in host part"},
        {std::string(254, 'a'), "192.0.2.1", "name longer than 253 characters"},
    };
    for (const Case& c : cases) {
        INFO(c.name << " from " << c.client);
        CHECK(standard().explain(c.name, ip(c.client)) == c.why);
    }
}

TEST_CASE("generic PTR: hostile and odd names", "[generic_ptr]") {
    const policyd::IpAddress client = ip("1.1.1.1");
    SECTION("bytes that are not DNS name characters are only separators") {
        const std::string odd = std::string("\x01\xff dyn\x7f.example.net");
        CHECK(standard().classify(odd, client) == GenericPtr::generic);
        CHECK(standard().explain(odd, client) == "keyword dyn");
        CHECK(standard().classify(std::string("\0\0\0", 3), client) == GenericPtr::not_generic);
        CHECK(standard().classify(".", client) == GenericPtr::not_generic);
        CHECK(standard().classify("..", client) == GenericPtr::not_generic);
        CHECK(standard().classify("...", client) == GenericPtr::not_generic);
        CHECK(standard().classify("-.-.-.-", client) == GenericPtr::not_generic);
    }
    SECTION("the longest name holds as many tokens as a name can") {
        // 253 characters alternating digit and letter: 121 digit tokens, the
        // most a name can hold, with the address at the very end.
        std::string name;
        for (int i = 0; i < 116; ++i) {
            name += "9z";
        }
        name += "9-1-1-1-1.example.com";
        REQUIRE(name.size() == 253);
        CHECK(standard().classify(name, client) == GenericPtr::generic);
        CHECK(standard().classify(name + ".", client) == GenericPtr::generic);
        CHECK(standard().classify("q" + name, client) == GenericPtr::not_generic);
    }
    SECTION("a copy outlives its original") {
        std::optional<GenericPtrClassifier> original(GenericPtrVocabulary::defaults());
        const GenericPtrClassifier copy = *original;
        original.reset();
        CHECK(copy.classify("dial-up.pool.example.net", client) == GenericPtr::generic);
        CHECK(copy.explain("mail.dyn.example.net", client) ==
              "static keyword mail (overrides: keyword dyn)");
    }
}
