// Settings: the daemon's configuration, declared once.
//
// Contract: every setting appears exactly once, in the table in settings.cpp
// (section, key, type, bounds, reloadable, help). That table drives parsing
// of the TOML file, validation, `check-config` and the documented sample
// (`rdns-policyd print-defaults`, through setting_docs()). The rule table ([policy], [[rule]])
// belongs to rules/ and is loaded from the same file by load_config().
//
// load_config() collects every error as "file:line: message" and returns
// nullopt if there was any; it throws nothing for bad content. A Config is
// immutable once built and shared by pointer (reload swaps the pointer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resolver {
struct ResolverOptions;
}
namespace rules {
class RuleTable;
class ActionTemplate;
}  // namespace rules

namespace policyd {

struct ProtocolLimits;
struct ProviderMap;
struct Blocklist;

struct Settings {
    // [daemon]
    std::vector<std::string> listen{"inet:127.0.0.1:10045"};
    std::string unix_socket_mode = "0660";
    std::string unix_socket_owner;
    std::string unix_socket_group;
    std::int64_t idle_timeout_s = 3600;
    std::int64_t read_timeout_s = 30;
    std::int64_t max_connections = 1000;
    std::int64_t instance_cache_size = 10000;
    std::int64_t instance_ttl_s = 900;
    // [protocol]
    std::int64_t max_line_bytes = 4096;
    std::int64_t max_request_bytes = 32768;
    std::int64_t max_attributes = 128;
    // [resolver]
    std::string upstream = "system";
    std::vector<std::string> forwarders;
    std::string unbound_config;
    std::int64_t lookup_timeout_ms = 3000;
    std::int64_t budget_ms = 6000;
    std::int64_t max_ptr_names = 10;
    std::int64_t max_addresses = 32;
    std::string trust_anchor_file;
    std::string auto_trust_anchor_file;
    std::vector<std::string> local_data;
    std::int64_t cache_size = 300000;
    std::int64_t cache_clients = 100000;
    std::int64_t cache_min_ttl_s = 30;
    std::int64_t cache_max_ttl_s = 86400;
    std::int64_t cache_negative_max_ttl_s = 900;
    std::int64_t cache_temperror_ttl_s = 5;
    std::int64_t max_waiters = 1000;
    // [checks]
    std::vector<std::string> generic_ptr_keywords;
    std::vector<std::string> static_ptr_keywords;
    std::vector<std::string> provider_ptr_keywords;
    std::string providers_file;
    // [[dnsbl]] (policyd/config/blocklists_file.hpp), as a canonical text:
    // not a setting of its own, but compared like one on reload.
    std::string dnsbl_signature;
    // [outage]
    std::int64_t outage_window_s = 30;
    std::int64_t outage_threshold_percent = 50;
    std::int64_t outage_min_lookups = 10;
    std::string outage_action;
    // [headers]
    std::string authserv_id;
    std::string headers_helo = "no";
    // [metrics]
    std::string metrics_listen;
    // [alarms]
    std::int64_t alarms_window_s = 600;
    std::int64_t alarms_min_requests = 50;
    std::int64_t alarms_internal_percent = 90;
    std::int64_t alarms_min_clients = 20;
    std::int64_t alarms_repeat_s = 3600;
    // [doctor]
    std::vector<std::string> doctor_dnsbl{"zen.spamhaus.org", "bl.spamcop.net"};
    // [log]
    std::string log_level = "info";
    std::string log_target = "auto";
    std::string log_decisions = "all";

    [[nodiscard]] ProtocolLimits protocol_limits() const;
    [[nodiscard]] resolver::ResolverOptions resolver_options() const;
};

// Overrides given on the command line; they win over the file.
struct Overrides {
    std::vector<std::string> listen;
    std::vector<std::string> forwarders;  // non-empty implies upstream = "forward"
    std::optional<std::string> unbound_config;
};

// Which decisions are logged ([log] decisions).
enum class DecisionLogging { all, not_dunno, none };

struct Config {
    std::string path;
    Settings settings;
    DecisionLogging decision_logging = DecisionLogging::all;  // settings.log_decisions
    std::shared_ptr<const rules::RuleTable> rules;
    // outage.action, validated; null when not set (the rules decide as usual).
    std::shared_ptr<const rules::ActionTemplate> outage_action;
    // checks.providers_file read and validated, or the built-in map; never
    // null in a loaded Config.
    std::shared_ptr<const ProviderMap> providers;
    // [[dnsbl]], validated; never null in a loaded Config (empty: none).
    std::shared_ptr<const std::vector<Blocklist>> blocklists;
};

std::optional<Config> load_config(const std::string& path, const Overrides& overrides,
                                  std::vector<std::string>& errors);
// The same for configuration text already read; `path` names it in errors.
std::optional<Config> parse_config(std::string_view text, const std::string& path,
                                   const Overrides& overrides, std::vector<std::string>& errors);

// The names ("section.key") of settings marked restart-only whose values
// differ between two snapshots: a reload reports them instead of applying.
std::vector<std::string> restart_only_changes(const Settings& running, const Settings& next);

// Every setting as its declaration describes it, in declaration order: for
// `rdns-policyd print-defaults` (policyd/tools/print_defaults.hpp) and any
// other documentation generated from the one table.
struct SettingDoc {
    std::string_view section;
    std::string_view key;
    std::string_view help;
    bool reloadable = false;
    std::string choices;       // "a, b, c" for a string of fixed choices, else empty
    std::string bounds;        // "MIN..MAX" for an integer, else empty
    std::string default_toml;  // the default as a TOML value: 3600, "system", [ 'a' ]
};
std::vector<SettingDoc> setting_docs();

// A listening endpoint: "inet:HOST:PORT", "inet:[V6]:PORT" or "unix:/path".
struct Endpoint {
    enum class Kind { inet, unix_socket };
    Kind kind = Kind::inet;
    std::string host;  // inet: address literal without brackets
    std::uint16_t port = 0;
    std::string path;  // unix
};

// The endpoint in its one canonical text form: "inet:192.0.2.1:10045",
// "inet:[2001:db8::1]:10045", "unix:/path" (how sockets passed by systemd
// are matched to daemon.listen).
std::string to_string(const Endpoint& endpoint);

// Parses an endpoint; on failure returns nullopt and sets why.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why);

}  // namespace policyd
