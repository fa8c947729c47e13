// Unit tests for policyd/tools/postfix_check.hpp.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policyd/tools/postfix_check.hpp"

TEST_CASE("postfix check: smtpd_restriction_classes as postconf prints it", "[postfix-check]") {
    using policyd::parse_restriction_classes;
    CHECK(parse_restriction_classes("") == std::vector<std::string>{});
    CHECK(parse_restriction_classes("greylist, rdns_greylist\n") ==
          std::vector<std::string>{"greylist", "rdns_greylist"});
    CHECK(parse_restriction_classes("a b,,c\td") == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("postfix check: compared with a real postconf", "[postfix-check]") {
    // A private Postfix configuration directory: postconf reads
    // $MAIL_CONFIG/main.cf, so this asks the real tool, not the host's setup.
    const auto dir =
        std::filesystem::temp_directory_path() / ("rdns-postconf-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "main.cf") << "smtpd_restriction_classes = rdns_greylist, other\n"
                                      "rdns_greylist = defer\nother = permit\n";
    ::setenv("MAIL_CONFIG", dir.c_str(), 1);
    const auto warnings = policyd::restriction_class_warnings({"rdns_greylist", "missing"});
    ::unsetenv("MAIL_CONFIG");
    std::filesystem::remove_all(dir);
    // postfix is a test dependency (packaging/install-deps.sh), so postconf
    // answers here.
    INFO((warnings.empty() ? std::string() : warnings[0]));
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("restriction class missing is not in Postfix's "
                           "smtpd_restriction_classes") == 0);
    CHECK(policyd::restriction_class_warnings({}).empty());
}
