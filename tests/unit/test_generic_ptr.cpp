// Unit tests for policyd/checks/generic_ptr.hpp: the generic/dynamic PTR-name classifier.
#include <catch2/catch.hpp>
#include <cstddef>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/generic_ptr.hpp"
#include "policyd/config/providers_file.hpp"

using policyd::GenericPtr;
using policyd::GenericPtrClassifier;
using policyd::GenericPtrVocabulary;

namespace {

policyd::IpAddress ip(const std::string& text) {
    const auto address = policyd::parse_ip(text);
    REQUIRE(address);
    return *address;
}

std::shared_ptr<const policyd::PublicSuffixList> psl() {
    static const auto list = policyd::PublicSuffixList::load_default();
    return list;
}

// The shipped vocabulary: the built-in keywords and the shipped providers map.
GenericPtrVocabulary shipped() {
    GenericPtrVocabulary vocabulary = GenericPtrVocabulary::defaults();
    vocabulary.hosting = policyd::shipped_providers()->hosting;
    vocabulary.access = policyd::shipped_providers()->access;
    return vocabulary;
}

const GenericPtrClassifier& standard() {
    static const GenericPtrClassifier classifier(shipped(), psl());
    return classifier;
}

bool is_generic(GenericPtr value) {
    return value == GenericPtr::dynamic || value == GenericPtr::provider_default;
}

// "generic" for either generic class: the encoding tests below are about
// finding the address, not about which class it then makes.
std::string word(GenericPtr value) {
    return is_generic(value) ? "generic" : "not-generic";
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

// expected: "generic" (either class), "not-generic", or one class's word.
struct Row {
    std::string name;
    std::string client;
    std::string expected;
};

void check_rows(const GenericPtrClassifier& classifier, const std::vector<Row>& rows) {
    for (const Row& row : rows) {
        const GenericPtr got = classifier.classify(row.name, ip(row.client));
        INFO(row.name << " from " << row.client << ": "
                      << classifier.explain(row.name, ip(row.client)));
        if (row.expected == "generic" || row.expected == "not-generic") {
            CHECK(word(got) == row.expected);
        } else {
            CHECK(std::string(policyd::to_string(got)) == row.expected);
        }
    }
}

}  // namespace

// The corpus: real-world-shaped names in three classes and many shapes,
// written apart from the classifier (its header says where they come
// from). What must hold, as the precision issue asks:
//  - no chosen name, and so no large sender, is called generic (a false
//    positive is what makes admins switch a check off);
//  - at least 99 % of the generic names are found generic;
//  - at least 97 % of each class is classified exactly (dynamic vs
//    provider-default included).
// Every miss and the per-class and per-shape accuracy are printed either
// way, for docs/RULES.md.
TEST_CASE("generic PTR: the corpus classifies as labelled", "[generic_ptr]") {
    std::ifstream in(SOURCE_DIR "/tests/unit/generic_ptr_corpus.tsv");
    REQUIRE(in);
    struct Score {
        std::size_t rows = 0;
        std::size_t right = 0;
    };
    std::map<std::string, Score> by_class;
    std::map<std::string, Score> by_shape;
    std::size_t chosen_called_generic = 0;
    std::size_t generic_rows = 0;
    std::size_t generic_missed = 0;
    std::ostringstream misses;
    std::string line;
    std::size_t line_number = 0;
    while (std::getline(in, line)) {
        ++line_number;
        if (line.empty() || line[0] == '#') {
            continue;
        }
        const std::vector<std::string> fields = split_tabs(line);
        INFO("generic_ptr_corpus.tsv:" << line_number << ": " << line);
        REQUIRE(fields.size() == 5);
        const std::string& expected = fields[2];
        REQUIRE(
            (expected == "dynamic" || expected == "provider-default" || expected == "not-generic"));
        const policyd::IpAddress client = ip(fields[1]);

        const GenericPtr got = standard().classify(fields[0], client);
        const std::string why = standard().explain(fields[0], client);
        const bool right = policyd::to_string(got) == expected;
        for (Score* score : {&by_class[expected], &by_shape[fields[3]]}) {
            ++score->rows;
            score->right += right ? 1 : 0;
        }
        if (expected == "not-generic" && is_generic(got)) {
            ++chosen_called_generic;
            FAIL_CHECK("chosen name called generic: line " << line_number << ": " << fields[0]
                                                           << " (" << why << ") -- " << fields[4]);
        }
        if (expected != "not-generic") {
            ++generic_rows;
            generic_missed += is_generic(got) ? 0 : 1;
        }
        if (!right) {
            misses << "\n  line " << line_number << ": " << fields[0] << " from " << fields[1]
                   << ": labelled " << expected << " (" << fields[4] << "); " << why;
        }
        // explain() starts with the verdict classify() gives.
        CHECK(why.rfind(std::string(policyd::to_string(got)) + ": ", 0) == 0);
    }
    // Always reported (Catch's WARN does not fail).
    std::ostringstream table;
    table << "generic_ptr corpus accuracy (right/rows):";
    for (const auto& [name, scores] :
         {std::pair{"class", &by_class}, std::pair{"shape", &by_shape}}) {
        for (const auto& [key, score] : *scores) {
            table << "\n  " << name << " " << key << ": " << score.right << "/" << score.rows;
        }
    }
    table << "\n  generic names found generic: " << generic_rows - generic_missed << "/"
          << generic_rows << "\nmisses:" << misses.str();
    WARN(table.str());

    CHECK(chosen_called_generic == 0);
    CHECK(generic_missed * 100 <= generic_rows);
    for (const auto& [name, score] : by_class) {
        INFO("class " << name << ": " << score.right << "/" << score.rows);
        CHECK(score.right * 100 >= score.rows * 97);
    }
    // Every class is well represented, so no one-answer classifier passes.
    CHECK(by_class["dynamic"].rows >= 120);
    CHECK(by_class["provider-default"].rows >= 100);
    CHECK(by_class["not-generic"].rows >= 140);
    CHECK(by_shape["big-sender"].rows >= 60);
}

TEST_CASE("generic PTR: IPv4 encodings of the client address", "[generic_ptr]") {
    // 198.51.100.23 is c6 33 64 17 in hex.
    const std::string client = "198.51.100.23";
    SECTION("encodings that count") {
        check_rows(standard(), {
                                   {"198.51.100.23.x.example.net", client, "generic"},
                                   {"198-51-100-23.example.net", client, "generic"},
                                   {"198_51_100_23.example.net", client, "generic"},
                                   {"198-51.100_23.example.net", client, "generic"},  // mixed
                                   {"23.100.51.198.x.example.net", client, "generic"},
                                   {"23-100-51-198.example.net", client, "generic"},
                                   {"198-051-100-023.example.net", client, "generic"},
                                   {"h198-51-100-23x.example.net", client, "generic"},
                                   {"198051100023.example.net", client, "generic"},
                                   {"023100051198.example.net", client, "generic"},
                                   {"h1985110023.example.net", client, "generic"},
                                   {"2310051198.example.net", client, "generic"},  // reversed
                                   {"c6336417.example.net", client, "generic"},
                                   {"C6336417.example.net", client, "generic"},
                                   {"p176433c6.example.net", client, "generic"},  // reversed
                                   {"c6-33-64-17.example.net", client, "generic"},
                                   {"c6.33.64.17.x.example.net", client, "generic"},
                                   {"ip-c6_33_64_17.example.net", client, "generic"},
                                   {"a100-23.b198-51.example.net", client, "generic"},  // split
                                   {"a23.b198-51-100.example.net", client, "generic"},
                                   {"a198.b51-100-23.example.net", client, "generic"},
                                   {"a23-100.b51-198.example.net", client, "generic"},
                               });
    }
    SECTION("near misses that do not") {
        check_rows(standard(), {
                                   {"198-51-100-24.example.net", client, "not-generic"},
                                   {"198-51-100-230.example.net", client, "not-generic"},
                                   {"198-51-100-0023.example.net", client, "not-generic"},
                                   {"1198-51-100-23.example.net", client, "not-generic"},
                                   {"198-51-100.example.net", client, "not-generic"},  // the /24
                                   {"x51-100-23.example.net", client, "not-generic"},
                                   {"x100-23.example.net", client, "not-generic"},
                                   {"x198-51.example.net", client, "not-generic"},
                                   {"1985110023.example.net", "198.51.100.24", "not-generic"},
                                   {"19851100231.example.net", client, "not-generic"},
                                   {"c63364170.example.net", client, "not-generic"},
                                   {"1c6336417.example.net", client, "not-generic"},
                                   {"ac6-33-64-17.example.net", client, "not-generic"},
                                   {"c6-33-64-17a.example.net", client, "not-generic"},
                                   {"c6-33-64-18.example.net", client, "not-generic"},
                                   // The address in the organisational domain says nothing.
                                   {"www.198-51-100-23.example", client, "not-generic"},
                               });
    }
    SECTION("an unpadded concatenation needs 8 digits") {
        check_rows(standard(), {
                                   {"srv1234.example.com", "1.2.3.4", "not-generic"},
                                   {"srv1234567.example.com", "1.23.45.67", "not-generic"},
                                   {"srv12345678.example.com", "12.34.56.78", "generic"},
                                   {"srv001002003004.example.com", "1.2.3.4", "generic"},
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
                {"2001-db8-a-b--5.example.net", client, "generic"},
                {"2001-DB8-A-B--5.example.net", client, "generic"},
                {"2001-db8-a-b-0-0-0-5.example.net", client, "generic"},
                {"2001-0db8-000a-000b-0000-0000-0000-0005.example.net", client, "generic"},
                {"ip6-2001-db8-a-b--5-v6.example.net", client, "generic"},
                {"x20010db8000a000b0000000000000005.example.net", client, "generic"},
                {"5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.0.0.0.a.0.0.0.8.b.d.0.1.0.0.2.x.example.net",
                 client, "generic"},
                {"2-0-0-1-0-d-b-8-0-0-0-a-0-0-0-b-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-5.example.net",
                 client, "generic"},
                // RFC 5952 tie: the first run of zeros is the one compressed.
                {"2001-db8--1-0-0-1.example.net", "2001:db8:0:0:1:0:0:1", "generic"},
                {"x--1.example.net", "::1", "generic"},
                {"2001-db8--.example.net", "2001:db8::", "generic"},
            });
    }
    SECTION("near misses that do not") {
        check_rows(standard(),
                   {
                       {"2001-db8-a-b--6.example.net", client, "not-generic"},
                       {"2001-db8-a-b--5-7.example.net", client, "not-generic"},
                       {"1-2001-db8-a-b--5.example.net", client, "not-generic"},
                       {"2001-db8-a-b--5a.example.net", client, "not-generic"},
                       {"2001-db8-a-b.example.net", client, "not-generic"},
                       {"20010db8000a000b000000000000000.example.net", client, "not-generic"},
                       // An IPv4 address in the name of an IPv6 client is no evidence.
                       {"192-0-2-1.example.net", client, "not-generic"},
                   });
    }
}

TEST_CASE("generic PTR: host part, exemption and keyword tokens", "[generic_ptr]") {
    check_rows(standard(), {
                               // Keywords only count as whole letter tokens.
                               {"dynamo.example.net", "192.0.2.1", "not-generic"},
                               {"xdyn.example.net", "192.0.2.1", "not-generic"},
                               {"dyn7.example.net", "192.0.2.1", "generic"},
                               {"a.b.dyn_x.example.net", "192.0.2.1", "generic"},
                               // Only the host part counts; ccSLDs move the boundary.
                               {"dsl.example.net", "192.0.2.1", "generic"},
                               {"web.dsl.net", "192.0.2.1", "not-generic"},
                               {"dsl.co.uk", "192.0.2.1", "not-generic"},
                               {"web.dsl.co.uk", "192.0.2.1", "not-generic"},
                               {"dsl.web.co.uk", "192.0.2.1", "generic"},
                               {"dsl.co.example", "192.0.2.1", "generic"},
                               // The exemption covers the first two labels, not the third.
                               {"mail.dyn.example.net", "192.0.2.1", "not-generic"},
                               {"x.mail.dyn.example.net", "192.0.2.1", "not-generic"},
                               {"x.y.mail.dyn.example.net", "192.0.2.1", "generic"},
                               {"mailbox.dyn.example.net", "192.0.2.1", "generic"},
                               {"mx-1-2-3-4.example.net", "1.2.3.4", "not-generic"},
                               {"static-1-2-3-4.example.net", "1.2.3.4", "generic"},
                           });
}

TEST_CASE("generic PTR: admins extend the vocabulary", "[generic_ptr]") {
    GenericPtrVocabulary vocabulary = GenericPtrVocabulary::defaults();
    const std::string orange = "lfbn-idf1-1-1-1.w1-1.abo.wanadoo.fr";
    CHECK(standard().classify(orange, ip("192.0.2.1")) == GenericPtr::not_generic);
    CHECK(standard().classify("sender-dyn-1.example.net", ip("192.0.2.1")) == GenericPtr::dynamic);

    vocabulary.generic_keywords.emplace_back("ABO");  // case does not matter
    vocabulary.generic_keywords.emplace_back("dial-up");
    vocabulary.static_keywords.emplace_back("sender");
    vocabulary.static_keywords.emplace_back("mx1");     // digits split: means "mx"
    vocabulary.generic_keywords.emplace_back("relay");  // in both lists: static wins
    const GenericPtrClassifier extended(vocabulary, psl());

    CHECK(extended.classify(orange, ip("192.0.2.1")) == GenericPtr::dynamic);
    CHECK(extended.explain(orange, ip("192.0.2.1")) == "dynamic: keyword abo");
    CHECK(extended.classify("sender-dyn-1.example.net", ip("192.0.2.1")) ==
          GenericPtr::not_generic);
    CHECK(extended.explain("sender-dyn-1.example.net", ip("192.0.2.1")) ==
          "not-generic: static keyword sender (overrides: keyword dyn)");
    CHECK(extended.classify("relay.example.net", ip("192.0.2.1")) == GenericPtr::not_generic);

    SECTION("an empty vocabulary leaves only the address rule") {
        const GenericPtrClassifier bare(GenericPtrVocabulary{}, psl());
        CHECK(bare.classify("dynamic.pool.example.net", ip("192.0.2.1")) ==
              GenericPtr::not_generic);
        CHECK(bare.classify("mail-192-0-2-1.example.net", ip("192.0.2.1")) == GenericPtr::dynamic);
    }
    SECTION("a multi-token keyword needs its tokens in a row") {
        GenericPtrVocabulary only;
        only.generic_keywords = {"dial-up"};
        const GenericPtrClassifier dialup(only, psl());
        CHECK(dialup.classify("dial-up-7.example.net", ip("192.0.2.1")) == GenericPtr::dynamic);
        CHECK(dialup.classify("dial7up.example.net", ip("192.0.2.1")) == GenericPtr::dynamic);
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
            CHECK_THROWS_AS(GenericPtrClassifier(v, psl()), std::invalid_argument);
            v.generic_keywords.clear();
            v.static_keywords = {bad};
            CHECK_THROWS_AS(GenericPtrClassifier(v, psl()), std::invalid_argument);
            v.static_keywords.clear();
            v.provider_keywords = {bad};
            CHECK_THROWS_AS(GenericPtrClassifier(v, psl()), std::invalid_argument);
        }
        GenericPtrVocabulary v;
        v.generic_keywords = {std::string(63, 'a')};
        CHECK_NOTHROW(GenericPtrClassifier(v, psl()));
        CHECK_THROWS_AS(GenericPtrClassifier(v, nullptr), std::invalid_argument);
    }
}

TEST_CASE("generic PTR: explain() says why", "[generic_ptr]") {
    struct Case {
        std::string name;
        std::string client;
        std::string why;
    };
    const std::vector<Case> cases = {
        {"c-73-12-34-56.hsd1.ca.comcast.net", "73.12.34.56",
         "dynamic: keyword hsd, contains address 73-12-34-56"},
        {"p5b0a0b0c.dip0.t-ipconnect.de", "91.10.11.12",
         "dynamic: keyword dip, contains address 5b0a0b0c (hex)"},
        {"ip-C0-00-02-01.example.net", "192.0.2.1", "dynamic: contains address C0-00-02-01 (hex)"},
        {"static-1-2-3-4.example.net", "1.2.3.4",
         "provider-default: provider keyword static, contains address 1-2-3-4"},
        {"61-2-3-4.static.tpgi.com.au", "61.2.3.4",
         "provider-default: provider keyword static, contains address 61-2-3-4"},
        {"static-71-1-2-3.nwrknj.fios.verizon.net", "71.1.2.3",
         "provider-default: keyword fios, provider keyword static, contains address 71-1-2-3"},
        {"vps123456.hosting.example", "192.0.2.1", "provider-default: provider keyword vps"},
        {"173-1-2-3-philadelphia.hfc.comcastbusiness.net", "173.1.2.3",
         "provider-default: contains address 173-1-2-3 under a provider's domain "
         "comcastbusiness.net"},
        {"wblv-140-9.telkomadsl.co.za", "165.165.140.9",
         "dynamic: contains the address's last octets 140-9 under access domain "
         "telkomadsl.co.za"},
        {"8ta-246-140-77.isp-adsl.example", "41.246.140.77",
         "dynamic: contains the address's last octets 246-140-77 under a domain that says "
         "adsl"},
        {"lfbn-idf1-1-234-56.w90-1.abo.wanadoo.fr", "90.1.234.56",
         "dynamic: contains address split as '90-1' and '234-56' under access domain wanadoo.fr"},
        {"078088012034.dynamic-ww-01.vectranet.pl", "78.88.12.34",
         "dynamic: keyword dynamic, contains address 078088012034"},
        {"2001-470-1f0b-1a2--2.v6.example.net", "2001:470:1f0b:1a2::2",
         "dynamic: contains address 2001-470-1f0b-1a2--2 (IPv6)"},
        {"unassigned.psychz.net", "192.0.2.1", "provider-default: provider keyword unassigned"},
        {"dial-up-77.example.net", "192.0.2.1", "dynamic: keyword dial-up"},
        {"li12-34.members.linode.com", "192.0.2.1",
         "provider-default: hosting pattern li#-#.members.linode.com (linode)"},
        {"host-34-56.range.sky.com", "73.12.34.56",
         "dynamic: contains the address's last octets 34-56 under access domain sky.com"},
        {"host56.range.sky.com", "73.12.34.56",
         "dynamic: contains the address's last octets 56 under access domain sky.com"},
        {"resqmta-po-01v.sys.comcast.net", "96.114.154.1",
         "not-generic: no address or keyword in host part"},
        {"ns1.comcast.net", "68.87.85.1", "not-generic: no address or keyword in host part"},
        {"a1b2c3d4e5.cc.bbtec.net", "192.0.2.1",
         "dynamic: contains opaque token a1b2c3d4e5 under access domain bbtec.net"},
        {"a1b2c3d4e5.cc.example.net", "192.0.2.1",
         "not-generic: no address or keyword in host part"},
        {"1.2.3.4", "1.2.3.4", "provider-default: the name is the address"},
        {"4.3.2.1.in-addr.arpa", "1.2.3.4", "provider-default: the name is the address"},
        {"mail-1-2-3-4.dynamic.isp.example", "1.2.3.4",
         "dynamic: keyword dynamic, contains address 1-2-3-4 (overrides static keyword mail)"},
        {"mail-yw1-f123.google.com", "209.85.128.123", "not-generic: static keyword mail"},
        {"69-171-232-143.mail-mail.facebook.com", "69.171.232.143",
         "not-generic: static keyword mail (overrides: contains address 69-171-232-143)"},
        {"mx.dynamic.example.net", "192.0.2.1",
         "not-generic: static keyword mx (overrides: keyword dynamic)"},
        {"example.com", "192.0.2.1", "not-generic: no host part left of the organisational domain"},
        {"", "192.0.2.1", "not-generic: no host part left of the organisational domain"},
        {"www.example.com", "192.0.2.1", "not-generic: no address or keyword in host part"},
        {std::string(254, 'a'), "192.0.2.1", "not-generic: name longer than 253 characters"},
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
        // No DNS name, so no registrable domain and no host part.
        CHECK(standard().classify(odd, client) == GenericPtr::not_generic);
        CHECK(standard().classify(std::string("\0\0\0", 3), client) == GenericPtr::not_generic);
        CHECK(standard().classify(".", client) == GenericPtr::not_generic);
        CHECK(standard().classify("..", client) == GenericPtr::not_generic);
        CHECK(standard().classify("...", client) == GenericPtr::not_generic);
        CHECK(standard().classify("-.-.-.-", client) == GenericPtr::not_generic);
    }
    SECTION("the longest name holds as many tokens as a name can") {
        // 253 characters alternating digit and letter: 121 digit tokens, the
        // most a name can hold, with the address at the very end.
        // Labels of at most 62 characters, so the name is a DNS name.
        std::string name;
        for (const int pairs : {31, 31, 31, 21}) {
            for (int i = 0; i < pairs; ++i) {
                name += "9z";
            }
            name += ".";
        }
        name += "9-1-1-1-1.example.com";
        REQUIRE(name.size() == 253);
        CHECK(standard().classify(name, client) == GenericPtr::dynamic);
        CHECK(standard().classify(name + ".", client) == GenericPtr::dynamic);
        CHECK(standard().classify("q" + name, client) == GenericPtr::not_generic);
    }
    SECTION("a copy outlives its original") {
        std::optional<GenericPtrClassifier> original(std::in_place, shipped(), psl());
        const GenericPtrClassifier copy = *original;
        original.reset();
        CHECK(copy.classify("dial-up.pool.example.net", client) == GenericPtr::dynamic);
        CHECK(copy.classify("li12-34.members.linode.com", client) == GenericPtr::provider_default);
        CHECK(copy.explain("mail.dyn.example.net", client) ==
              "not-generic: static keyword mail (overrides: keyword dyn)");
    }
}
