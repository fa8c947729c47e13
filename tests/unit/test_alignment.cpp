// Unit tests for policyd/checks/alignment.hpp: organisational domains under the
// Public Suffix List and HELO vs PTR alignment. The default list is Debian's
// `publicsuffix` data; the rules asserted here (co.uk, *.ck, !www.ck,
// github.io, blogspot.com, 公司.cn) have been in the list for years.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policyd/checks/alignment.hpp"

using policyd::Alignment;
using policyd::PublicSuffixList;

namespace {

const PublicSuffixList& default_list() {
    static const auto list = PublicSuffixList::load_default();
    return *list;
}

// A file in the temporary directory, removed when the test ends.
class TempFile {
  public:
    TempFile(const std::string& tag, const std::string& content)
        : path_(std::filesystem::temp_directory_path() /
                ("test_alignment_" + std::to_string(::getpid()) + "_" + tag)) {
        std::ofstream(path_) << content;
    }
    ~TempFile() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    std::string path() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

struct OrgRow {
    std::string name;
    std::string expected;
};

struct AlignRow {
    std::string helo;
    std::vector<std::string> verified;
    Alignment expected;
};

}  // namespace

TEST_CASE("Alignment words round-trip", "[alignment]") {
    const std::vector<std::pair<Alignment, std::string>> rows = {
        {Alignment::exact, "exact"},
        {Alignment::org_domain, "org-domain"},
        {Alignment::mismatch, "mismatch"},
        {Alignment::na, "n/a"},
    };
    for (const auto& [value, word] : rows) {
        CAPTURE(word);
        CHECK(policyd::to_string(value) == word);
        CHECK(policyd::parse_fact<Alignment>(word) == value);
    }
    for (const char* bad : {"", "org_domain", "EXACT", "na", "exact "}) {
        CAPTURE(bad);
        CHECK_FALSE(policyd::parse_fact<Alignment>(bad).has_value());
    }
}

TEST_CASE("org_domain: table over Debian's Public Suffix List", "[alignment]") {
    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    // 3 x 63-character labels, 49 b and ".example.com" = 253, the longest legal name.
    const std::string longest =
        label63 + "." + label63 + "." + label63 + "." + std::string(49, 'b') + ".example.com";
    REQUIRE(longest.size() == 253);

    const std::vector<OrgRow> rows = {
        // Ordinary names, case and trailing dot folded.
        {"mail.example.com", "example.com"},
        {"example.com", "example.com"},
        {"MAIL.Example.COM.", "example.com"},
        {"mail-yw1-f123.google.com", "google.com"},
        {"mail-db8eur05on2101.outbound.protection.outlook.com", "outlook.com"},
        // Multi-label public suffix; upper case must still match the rule.
        {"mail.example.co.uk", "example.co.uk"},
        {"MAIL.EXAMPLE.CO.UK", "example.co.uk"},
        {"a.b.c.example.co.uk.", "example.co.uk"},
        // Public suffixes themselves have no org domain.
        {"co.uk", ""},
        {"CO.UK.", ""},
        {"uk", ""},
        {"com", ""},
        // Wildcard *.ck: every second-level name under ck is a suffix ...
        {"bar.ck", ""},
        {"foo.bar.ck", "foo.bar.ck"},
        {"mail.foo.bar.ck", "foo.bar.ck"},
        // ... except !www.ck, which is registrable.
        {"www.ck", "www.ck"},
        {"mail.www.ck", "www.ck"},
        // *.kawasaki.jp with !city.kawasaki.jp.
        {"x.y.kawasaki.jp", "x.y.kawasaki.jp"},
        {"mail.city.kawasaki.jp", "city.kawasaki.jp"},
        // Private section in force: each hosted customer is its own org.
        {"alice.github.io", "alice.github.io"},
        {"www.alice.github.io", "alice.github.io"},
        {"github.io", ""},
        {"x.blogspot.com", "x.blogspot.com"},
        {"blogspot.com", ""},
        // IDNs in punycode: bücher.de, пример.рф, and 公司.cn (itself a suffix).
        {"mail.xn--bcher-kva.de", "xn--bcher-kva.de"},
        {"mx.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"},
        {"www.xn--55qx5d.cn", "www.xn--55qx5d.cn"},
        {"xn--55qx5d.cn", ""},
        // Raw UTF-8 is not how DNS carries a name: invalid.
        {"mail.b\xc3\xbc"
         "cher.de",
         ""},
        // An unlisted TLD falls under the implicit "*" rule.
        {"mail.example.unlistedtld", "example.unlistedtld"},
        // Underscores occur in real PTR names; allowed.
        {"mx_1.example.com", "example.com"},
        // Length limits.
        {longest, "example.com"},
        {longest + ".", "example.com"},
        {"x" + longest, ""},
        {label63 + ".example.com", "example.com"},
        {label64 + ".example.com", ""},
        // Malformed names.
        {"", ""},
        {".", ""},
        {"..", ""},
        {".example.com", ""},
        {"mail..example.com", ""},
        {"example.com..", ""},
        {"exa mple.com", ""},
        {"mail.example.com\n", ""},
        {std::string("mail\0.example.com", 17), ""},
        {"*.example.com", ""},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(default_list().org_domain(row.name) == row.expected);
    }
}

TEST_CASE("align_helo_ptr: table", "[alignment]") {
    const std::vector<AlignRow> rows = {
        // n/a: nothing forward-confirmed to compare with.
        {"mail.example.com", {}, Alignment::na},
        // exact, ignoring case and one trailing dot on either side.
        {"mail.example.com", {"mail.example.com"}, Alignment::exact},
        {"Mail.Example.COM", {"mail.example.com."}, Alignment::exact},
        {"mail.example.com.", {"MAIL.EXAMPLE.COM"}, Alignment::exact},
        // An exact match later in the list wins over an earlier org match.
        {"mail.example.com", {"mx.example.com", "mail.example.com"}, Alignment::exact},
        // org-domain across subdomains.
        {"mail-yw1-f123.google.com", {"mx.google.com"}, Alignment::org_domain},
        {"EUR05-DB8-obe.outbound.protection.outlook.com",
         {"mail-db8eur05on2101.outbound.protection.outlook.com"},
         Alignment::org_domain},
        {"example.com", {"mail.example.com"}, Alignment::org_domain},
        {"smtp.example.co.uk", {"mx.example.co.uk"}, Alignment::org_domain},
        {"mail.example.com", {"mx.other.net", "mail-2.example.com"}, Alignment::org_domain},
        // Sharing only a multi-label public suffix is not alignment.
        {"mail.example.co.uk", {"mail.other.co.uk"}, Alignment::mismatch},
        // Wildcard and exception rules.
        {"mail.foo.bar.ck", {"mx.foo.bar.ck"}, Alignment::org_domain},
        {"mail.a.bar.ck", {"mail.b.bar.ck"}, Alignment::mismatch},
        {"a.www.ck", {"b.www.ck"}, Alignment::org_domain},
        // Private-section suffixes: different customers never align ...
        {"alice.github.io", {"bob.github.io"}, Alignment::mismatch},
        {"a.x.blogspot.com", {"b.y.blogspot.com"}, Alignment::mismatch},
        // ... the same customer does.
        {"a.x.blogspot.com", {"b.x.blogspot.com"}, Alignment::org_domain},
        // Different organisations, including look-alike suffixes.
        {"mail.example.com", {"mail.example.net"}, Alignment::mismatch},
        {"mail.evil-example.com", {"mail.example.com"}, Alignment::mismatch},
        {"mail.example.com.evil.net", {"mail.example.com"}, Alignment::mismatch},
        {"mail.example.com", {"example.com.evil.net"}, Alignment::mismatch},
        // IDN punycode.
        {"mail.xn--bcher-kva.de", {"mx.xn--bcher-kva.de"}, Alignment::org_domain},
        {"mail.xn--bcher-kva.de", {"MAIL.XN--BCHER-KVA.DE."}, Alignment::exact},
        {"mail.xn--bcher-kva.de", {"mx.xn--bcher-kvb.de"}, Alignment::mismatch},
        {"mail.xn--bcher-kva.de",
         {"mx.b\xc3\xbc"
          "cher.de"},
         Alignment::mismatch},
        // A HELO that is itself a public suffix aligns only exactly.
        {"co.uk", {"mail.example.co.uk"}, Alignment::mismatch},
        {"co.uk", {"CO.UK."}, Alignment::exact},
        {"github.io", {"alice.github.io"}, Alignment::mismatch},
        // Two public suffixes both lack an org domain; "none" == "none" is not alignment.
        {"co.uk", {"com"}, Alignment::mismatch},
        {"github.io", {"blogspot.com"}, Alignment::mismatch},
        // Invalid verified names are skipped, not fatal.
        {"mail.example.com", {"", "mx..example.com", "mx.example.com"}, Alignment::org_domain},
        {"mail.example.com", {"", "."}, Alignment::mismatch},
        // A caller that breaks the FQDN contract gets mismatch, never a match.
        {"mail..example.com", {"mail..example.com"}, Alignment::mismatch},
        {"", {"mail.example.com"}, Alignment::mismatch},
    };
    for (const auto& row : rows) {
        CAPTURE(row.helo, row.verified);
        CHECK(policyd::align_helo_ptr(row.helo, row.verified, default_list()) == row.expected);
    }
}

TEST_CASE("PublicSuffixList loading", "[alignment]") {
    SECTION("the default is Debian's compiled list") {
        CHECK(default_list().source() == "/usr/share/publicsuffix/public_suffix_list.dafsa");
    }

    SECTION("Debian's text list gives the same answers") {
        const auto dat =
            PublicSuffixList::load_file("/usr/share/publicsuffix/public_suffix_list.dat");
        for (const char* name :
             {"mail.example.co.uk", "foo.bar.ck", "www.ck", "bob.github.io", "co.uk"}) {
            CAPTURE(name);
            CHECK(dat->org_domain(name) == default_list().org_domain(name));
        }
    }

    SECTION("a small list of our own is obeyed rule by rule") {
        const TempFile file("small.dat",
                            "// ===BEGIN ICANN DOMAINS===\n"
                            "uk\nco.uk\nck\n*.ck\n!www.ck\n"
                            "// ===END ICANN DOMAINS===\n"
                            "// ===BEGIN PRIVATE DOMAINS===\n"
                            "example.net\n"
                            "// ===END PRIVATE DOMAINS===\n");
        const auto list = PublicSuffixList::load_file(file.path());
        CHECK(list->source() == file.path());
        const std::vector<OrgRow> rows = {
            {"mail.example.co.uk", "example.co.uk"},
            {"co.uk", ""},
            {"foo.bar.ck", "foo.bar.ck"},
            {"mail.www.ck", "www.ck"},
            // Our private rule applies ...
            {"a.b.example.net", "b.example.net"},
            {"example.net", ""},
            // ... and github.io is not in this list, so only "io" is a suffix.
            {"alice.github.io", "github.io"},
        };
        for (const auto& row : rows) {
            CAPTURE(row.name);
            CHECK(list->org_domain(row.name) == row.expected);
        }
        CHECK(policyd::align_helo_ptr("x.b.example.net", {"y.b.example.net"}, *list) ==
              Alignment::org_domain);
        CHECK(policyd::align_helo_ptr("x.a.example.net", {"y.b.example.net"}, *list) ==
              Alignment::mismatch);
    }

    SECTION("a missing file is an error that names it") {
        const std::string path = "/nonexistent/rdns-policyd/public_suffix_list.dafsa";
        CHECK_THROWS_WITH(PublicSuffixList::load_file(path), Catch::Contains(path));
    }

    SECTION("a file that is not a list is rejected") {
        // libpsl itself accepts this as a list of three "suffixes".
        const TempFile file("garbage.dat", "root:x:0:0:root:/root:/bin/bash\nhello\nworld\n");
        CHECK_THROWS_WITH(
            PublicSuffixList::load_file(file.path()),
            Catch::Contains(file.path()) && Catch::Contains("not a Public Suffix List"));
    }

    SECTION("an empty file is rejected") {
        const TempFile file("empty.dat", "");
        CHECK_THROWS_AS(PublicSuffixList::load_file(file.path()), std::runtime_error);
    }
}
