// Unit tests for the providers map: policyd/config/providers_file.hpp (the
// file) and policyd/checks/providers.hpp (helo_provider).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policyd/checks/providers.hpp"
#include "policyd/config/providers_file.hpp"
#include "policyd/config/settings.hpp"

using namespace policyd;

namespace {

std::optional<ProviderMap> parse(const std::string& text, std::vector<std::string>& errors) {
    return parse_providers(text, "providers.toml", errors);
}

std::string first_error(const std::string& text) {
    std::vector<std::string> errors;
    const auto map = parse(text, errors);
    CHECK_FALSE(map.has_value());
    return errors.empty() ? std::string() : errors.front();
}

const PublicSuffixList& psl() {
    static const auto list = PublicSuffixList::load_default();
    return *list;
}

}  // namespace

TEST_CASE("providers map: the shipped file parses and holds each part", "[providers]") {
    std::vector<std::string> errors;
    const auto map = load_providers(SOURCE_DIR "/packaging/providers.toml", errors);
    REQUIRE(errors.empty());
    REQUIRE(map.has_value());
    CHECK(map->mail.size() >= 20);
    CHECK(map->hosting.size() >= 15);
    CHECK(map->access.size() >= 3);
    // The built-in copy is that same file.
    const auto& builtin = *shipped_providers();
    CHECK(builtin.mail.size() == map->mail.size());
    CHECK(builtin.hosting.size() == map->hosting.size());
    CHECK(builtin.access.size() == map->access.size());
    std::ifstream in(SOURCE_DIR "/packaging/providers.toml");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == kShippedProvidersText);
}

TEST_CASE("providers map: bad files are refused with the line", "[providers]") {
    CHECK(first_error("[[mail_provider]]\nname = \"x\"\ndomains = [\"no_dot\"]\n")
              .find("\"no_dot\" is not a domain name") != std::string::npos);
    CHECK(first_error("[[mail_provider]]\nname = \"x\"\n")
              .find("providers.toml:1: "
                    "mail_provider: missing domains") == 0);
    CHECK(first_error("[[mail_provider]]\nname = \"x\"\ndomains = [\"a.example\"]\ncolour = 1\n")
              .find("providers.toml:4: mail_provider: unknown key colour") == 0);
    CHECK(first_error("[[mail_providers]]\nname = \"x\"\n").find("unknown table mail_providers") !=
          std::string::npos);
    CHECK(first_error("[[mail_provider]]\nname = \"a\"\ndomains = [\"same.example\"]\n"
                      "[[mail_provider]]\nname = \"b\"\ndomains = [\"same.example\"]\n")
              .find("mail providers a and b both list same.example") != std::string::npos);
    CHECK(first_error("[[hosting_provider]]\nname = \"h\"\npatterns = [\"*.*\"]\n")
              .find("must spell out its top-level domain") != std::string::npos);
    CHECK(first_error("[[hosting_provider]]\nname = \"h\"\npatterns = [\"*.#.com\"]\n")
              .find("must spell out its top-level domain") != std::string::npos);
    CHECK(first_error("[[hosting_provider]]\nname = \"h\"\npatterns = [\"a..example.com\"]\n")
              .find("empty or over-long label") != std::string::npos);
    CHECK(first_error("[[hosting_provider]]\nname = \"h\"\npatterns = [\"a?.example.com\"]\n")
              .find("may hold only") != std::string::npos);
    CHECK(first_error("[[access_provider]]\nname = \"a\"\ndomains = [\"isp example\"]\n")
              .find("is not a domain name") != std::string::npos);
    CHECK(first_error("[[access_provider]]\nname = \"a\"\ndomains = \"isp.example\"\n")
              .find("expected a non-empty array of strings") != std::string::npos);
    CHECK(first_error("not toml = = 1").find("providers.toml:1: ") == 0);

    std::vector<std::string> errors;
    CHECK_FALSE(load_providers("/nonexistent/providers.toml", errors));
    CHECK_FALSE(load_providers("/dev/zero", errors));  // not a regular file: no hang
    REQUIRE(errors.size() == 2);
    CHECK(errors[1].find("not a readable regular file") != std::string::npos);
}

TEST_CASE("providers map: a relative providers_file is next to the configuration",
          "[providers][settings]") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("rdns-providers-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream(dir / "mine.toml")
            << "[[mail_provider]]\nname = \"only\"\ndomains = [\"only.example\"]\n";
        std::ofstream(dir / "rdns-policyd.toml")
            << "[resolver]\nupstream = \"recursive\"\n[checks]\nproviders_file = \"mine.toml\"\n";
        std::ofstream(dir / "broken.toml")
            << "[resolver]\nupstream = \"recursive\"\n[checks]\nproviders_file = \"none.toml\"\n";
    }
    std::vector<std::string> errors;
    const auto config = load_config((dir / "rdns-policyd.toml").string(), {}, errors);
    REQUIRE(config.has_value());
    CHECK(config->settings.providers_file == (dir / "mine.toml").string());
    REQUIRE(config->providers->mail.size() == 1);
    CHECK(config->providers->mail[0].name == "only");
    CHECK(config->providers->hosting.empty());

    CHECK_FALSE(load_config((dir / "broken.toml").string(), {}, errors));
    REQUIRE(errors.size() == 1);
    // The configuration file first, then the setting, then the providers file.
    CHECK(errors[0].find((dir / "broken.toml").string() + ": checks.providers_file: " +
                         (dir / "none.toml").string() + ": cannot open providers file") == 0);
    std::filesystem::remove_all(dir);
}

TEST_CASE("helo_provider: a provider's HELO needs that provider's verified PTR", "[providers]") {
    const MailProviders providers(shipped_providers()->mail);
    const std::vector<std::string> google_ptr = {"mail-wm1-f54.google.com"};
    const std::vector<std::string> vps_ptr = {"vmi123456.contaboserver.net"};
    const std::vector<std::string> outlook_ptr = {
        "mail-am6eur05on2070.outbound.protection.outlook.com"};
    auto judge = [&](std::string_view helo, const std::vector<std::string>& verified,
                     Iprev iprev = Iprev::pass) {
        return judge_helo_provider(helo, verified, iprev, providers, psl());
    };
    CHECK(judge("mail-wm1-f54.google.com", google_ptr) == HeloProvider::verified);
    // Another domain of the same provider counts.
    CHECK(judge("gmail.com", google_ptr) == HeloProvider::verified);
    CHECK(judge("EUR05-AM6-obe.outbound.protection.outlook.com", outlook_ptr) ==
          HeloProvider::verified);
    CHECK(judge("MAIL-WM1-F54.GOOGLE.COM.", google_ptr) == HeloProvider::verified);
    CHECK(judge("mail-wm1-f54.google.com", vps_ptr) == HeloProvider::forged);
    CHECK(judge("mail-wm1-f54.google.com", outlook_ptr) == HeloProvider::forged);
    CHECK(judge("gmail.com", {}, Iprev::permerror) == HeloProvider::forged);
    CHECK(judge("gmail.com", {}, Iprev::fail) == HeloProvider::forged);
    CHECK(judge("gmail.com", {}, Iprev::temperror) == HeloProvider::temperror);
    // A name that merely contains a provider's name is no claim.
    CHECK(judge("google.com.evil.example", vps_ptr) == HeloProvider::na);
    CHECK(judge("mail.example.com", vps_ptr) == HeloProvider::na);
    // A customer of a provider's cloud is not the provider.
    CHECK(judge("amazonses.com", {"ec2-3-4-5-6.compute-1.amazonaws.com"}) == HeloProvider::forged);

    const MailProviders none;
    CHECK(judge_helo_provider("gmail.com", {}, Iprev::fail, none, psl()) == HeloProvider::na);
}
