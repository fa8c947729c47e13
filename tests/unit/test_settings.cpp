// Settings: the declared table drives parsing and validation; errors carry
// file:line; endpoints parse.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "policyd/config/settings.hpp"
#include "policyd/protocol/codec.hpp"
#include "policyd/tools/print_defaults.hpp"
#include "resolver/resolver.hpp"
#include "rules/rules.hpp"

using namespace policyd;

namespace {

// A configuration file in the temp directory, removed at scope exit.
struct TempConfig {
    std::string path;
    explicit TempConfig(const std::string& text) {
        path = (std::filesystem::temp_directory_path() /
                ("rdns-policyd-test-" + std::to_string(::getpid()) + "-" +
                 std::to_string(counter()++) + ".toml"))
                   .string();
        std::ofstream(path) << text;
    }
    ~TempConfig() { std::filesystem::remove(path); }
    static int& counter() {
        static int value = 0;
        return value;
    }
};

bool has_error(const std::vector<std::string>& errors, const std::string& needle) {
    for (const auto& error : errors) {
        if (error.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("endpoints", "[settings]") {
    std::string why;
    auto v4 = parse_endpoint("inet:127.0.0.1:10045", why);
    REQUIRE(v4);
    CHECK(v4->kind == Endpoint::Kind::inet);
    CHECK(v4->host == "127.0.0.1");
    CHECK(v4->port == 10045);
    auto v6 = parse_endpoint("inet:[::1]:0", why);
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == 0);
    auto unix_socket = parse_endpoint("unix:/var/spool/postfix/private/rdns", why);
    REQUIRE(unix_socket);
    CHECK(unix_socket->kind == Endpoint::Kind::unix_socket);
    CHECK(unix_socket->path == "/var/spool/postfix/private/rdns");
    for (const char* bad : {"tcp:127.0.0.1:1", "inet:127.0.0.1", "inet:127.0.0.1:65536",
                            "inet:localhost:25", "inet:::1:25", "inet:[::1]25", "unix:relative",
                            "inet:127.0.0.1:-1", "inet:127.0.0.1:1x"}) {
        INFO(bad);
        why.clear();
        CHECK_FALSE(parse_endpoint(bad, why));
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("a valid file loads with defaults for what it leaves out", "[settings]") {
    TempConfig file(R"(
[daemon]
listen = ["inet:127.0.0.1:0", "unix:/tmp/x.sock"]
[resolver]
upstream = "forward"
forwarders = ["127.0.0.1@5353", "::1"]
lookup_timeout_ms = 500
[[rule]]
id = "all"
action = "DUNNO"
)");
    std::vector<std::string> errors;
    auto config = load_config(file.path, {}, errors);
    INFO(errors.size());
    REQUIRE(config);
    CHECK(config->settings.listen.size() == 2);
    CHECK(config->settings.idle_timeout_s == 3600);
    const auto options = config->settings.resolver_options();
    CHECK(options.upstream == resolver::ResolverOptions::Upstream::forward);
    CHECK(options.timeout == std::chrono::milliseconds(500));
    CHECK(config->rules->size() == 1);
}

TEST_CASE("every error is reported with file:line", "[settings]") {
    TempConfig file(R"([daemon]
idle_timeout_s = 10
listen = ["inet:nowhere:25"]
colour = "blue"
[resolver]
upstream = "telepathy"
lookup_timeout_ms = "fast"
[nonsense]
x = 1
)");
    std::vector<std::string> errors;
    CHECK_FALSE(load_config(file.path, {}, errors));
    const std::string& p = file.path;
    CHECK(has_error(errors, p + ":2: daemon.idle_timeout_s: must be between 301 and 86400"));
    CHECK(has_error(errors, p + ":4: unknown setting daemon.colour"));
    CHECK(has_error(errors, p + ":6: resolver.upstream: must be one of system,forward,recursive"));
    CHECK(has_error(errors, p + ":7: resolver.lookup_timeout_ms: expected an integer"));
    CHECK(has_error(errors, p + ":8: unknown section [nonsense]"));
    CHECK(has_error(errors, "daemon.listen: \"inet:nowhere:25\""));
}

TEST_CASE("TOML syntax errors name the line", "[settings]") {
    TempConfig file("[daemon]\nlisten = [\"inet:127.0.0.1:1\"\n\n[[rule]]\n");
    std::vector<std::string> errors;
    CHECK_FALSE(load_config(file.path, {}, errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind(file.path + ":", 0) == 0);
}

TEST_CASE("command-line overrides win and are validated", "[settings]") {
    TempConfig file("[[rule]]\nid = \"all\"\naction = \"DUNNO\"\n");
    Overrides overrides;
    overrides.listen = {"inet:[::1]:0"};
    overrides.forwarders = {"127.0.0.1@53"};
    std::vector<std::string> errors;
    auto config = load_config(file.path, overrides, errors);
    REQUIRE(config);
    CHECK(config->settings.listen == std::vector<std::string>{"inet:[::1]:0"});
    CHECK(config->settings.upstream == "forward");

    overrides.forwarders = {"not-an-ip@53"};
    errors.clear();
    CHECK_FALSE(load_config(file.path, overrides, errors));
    CHECK(has_error(errors, "\"not-an-ip@53\" is not IP or IP@PORT"));
}

TEST_CASE("forward upstream without forwarders is refused", "[settings]") {
    TempConfig file(
        "[resolver]\nupstream = \"forward\"\n[[rule]]\nid = \"a\"\naction = \"DUNNO\"\n");
    std::vector<std::string> errors;
    CHECK_FALSE(load_config(file.path, {}, errors));
    CHECK(has_error(errors, "no forwarders"));
}

TEST_CASE("the shipped configuration is valid", "[settings]") {
    std::vector<std::string> errors;
    auto config = load_config(SOURCE_DIR "/packaging/rdns-policyd.toml", {}, errors);
    for (const auto& error : errors) {
        UNSCOPED_INFO(error);
    }
    REQUIRE(config);
    CHECK(config->settings.listen == std::vector<std::string>{"inet:127.0.0.1:10045"});
    CHECK(config->rules->size() >= 8);
}

TEST_CASE("print-defaults lists every section", "[settings]") {
    std::ostringstream out;
    print_defaults(out);
    const std::string text = out.str();
    for (const char* needle : {"[daemon]", "[protocol]", "[resolver]", "[log]",
                               "listen = [ 'inet:127.0.0.1:10045' ]", "idle_timeout_s = 3600"}) {
        INFO(needle);
        CHECK(text.find(needle) != std::string::npos);
    }
    // The sample is itself a valid configuration (given a rule).
    TempConfig sample(text + "\n[[rule]]\nid = \"all\"\naction = \"DUNNO\"\n");
    std::vector<std::string> errors;
    CHECK(load_config(sample.path, {}, errors));
    CHECK(errors.empty());
}

TEST_CASE("a reload names the restart-only settings it cannot apply", "[settings]") {
    Settings running;
    Settings next = running;
    CHECK(restart_only_changes(running, next).empty());
    next.log_level = "debug";      // reloadable
    next.outage_action = "DUNNO";  // reloadable
    CHECK(restart_only_changes(running, next).empty());
    next.listen = {"inet:127.0.0.1:1"};
    next.cache_size = 5;
    CHECK(restart_only_changes(running, next) ==
          std::vector<std::string>{"daemon.listen", "cache.size"});
}

TEST_CASE("headers.authserv_id must be a DNS name; a root dot is allowed", "[settings][headers]") {
    const auto load = [](const std::string& id) {
        TempConfig file("[headers]\nauthserv_id = \"" + id + "\"\n");
        std::vector<std::string> errors;
        const bool ok = load_config(file.path, {}, errors).has_value();
        return std::make_pair(ok, errors);
    };
    for (const char* good : {"mx.example.org", "mx.example.org.", "MX-1.example", "mx"}) {
        INFO(good);
        CHECK(load(good).first);
    }
    for (const char* bad : {"mx example", "mx;iprev=pass", "a..b", ".mx.example", "mx.example.."}) {
        INFO(bad);
        const auto [ok, errors] = load(bad);
        CHECK_FALSE(ok);
        CHECK(has_error(errors, "headers.authserv_id"));
    }
}

TEST_CASE("forwarders: one parser for IPv4 and IPv6, port after the last @", "[settings]") {
    std::string why;
    const auto v6 = resolver::parse_forwarder("2001:db8::53@5353", why);
    REQUIRE(v6);
    CHECK(v6->address == boost::asio::ip::make_address("2001:db8::53"));
    CHECK(v6->port == 5353);
    const auto plain = resolver::parse_forwarder("192.0.2.53", why);
    REQUIRE(plain);
    CHECK(plain->port == 53);
    CHECK_FALSE(resolver::parse_forwarder("192.0.2.53@0", why));
    CHECK(why == "port out of range");
    CHECK_FALSE(resolver::parse_forwarder("192.0.2.53@x", why));
    CHECK(why == "bad port");
    CHECK_FALSE(resolver::parse_forwarder("mx.example@53", why));
    CHECK(why == "not an IP address");
}
