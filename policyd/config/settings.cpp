#include "policyd/config/settings.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <variant>

#include "policyd/base/address.hpp"
#include "policyd/base/dns_name.hpp"
#include "policyd/config/blocklists_file.hpp"
#include "policyd/config/providers_file.hpp"
#include "policyd/config/toml_text.hpp"
#include "policyd/protocol/codec.hpp"
#include "resolver/resolver.hpp"
#include "rules/action.hpp"
#include "rules/loader.hpp"
#include "rules/rules.hpp"

namespace policyd {
namespace {

using IntField = std::int64_t Settings::*;
using StringField = std::string Settings::*;
using ListField = std::vector<std::string> Settings::*;

struct Setting {
    std::string_view section;
    std::string_view key;
    std::variant<IntField, StringField, ListField> field;
    std::int64_t min = 0;  // integers only
    std::int64_t max = 0;
    std::string_view choices;  // strings only: "a|b|c", empty = any string
    bool reloadable = false;
    std::string_view help;
};

// The one declaration of every setting. Reloadable settings take effect on
// SIGHUP; the others need a restart (listeners, resolver, limits that shape
// already-open sessions).
const Setting kSettings[] = {
    {"daemon", "listen", &Settings::listen, 0, 0, "", false,
     "Endpoints to serve: \"inet:HOST:PORT\" (IPv6 as inet:[::1]:PORT) or \"unix:/path\"."},
    {"daemon", "unix_socket_mode", &Settings::unix_socket_mode, 0, 0, "", false,
     "Octal permissions of unix sockets (Postfix's smtpd must be able to connect)."},
    {"daemon", "unix_socket_owner", &Settings::unix_socket_owner, 0, 0, "", false,
     "User that owns unix sockets; empty keeps the daemon's own user."},
    {"daemon", "unix_socket_group", &Settings::unix_socket_group, 0, 0, "", false,
     "Group of unix sockets, e.g. \"postfix\"; empty keeps the daemon's own group."},
    {"daemon", "idle_timeout_s", &Settings::idle_timeout_s, 301, 86400, "", false,
     "Seconds an idle connection is kept; must exceed Postfix's smtpd_policy_service_max_idle "
     "(300 s), or Postfix waits a second to reconnect."},
    {"daemon", "read_timeout_s", &Settings::read_timeout_s, 1, 3600, "", false,
     "Seconds a request may take to arrive whole, from its first byte, however the peer "
     "trickles it; and a reply to be taken. A peer that takes longer is disconnected."},
    {"daemon", "max_connections", &Settings::max_connections, 1, 100000, "", false,
     "Connections served at once; further ones are closed at once (Postfix then applies its "
     "default_action)."},
    {"daemon", "instance_cache_size", &Settings::instance_cache_size, 0, 10000000, "", false,
     "Every request about one message (Postfix 'instance') is judged on the DNS evidence of its "
     "first, without new lookups. A connection keeps its current message's facts; this many "
     "messages are remembered from closed connections, for smtpd reconnecting in the middle of "
     "a message. 0 turns per-message facts off (and Authentication-Results with them)."},
    {"daemon", "instance_ttl_s", &Settings::instance_ttl_s, 1, 86400, "", false,
     "Seconds the facts of a message are remembered after its connection closed (a connection "
     "keeps its current message's facts while it is open)."},
    {"protocol", "max_line_bytes", &Settings::max_line_bytes, 256, 65536, "", false,
     "Longest attribute line accepted."},
    {"protocol", "max_request_bytes", &Settings::max_request_bytes, 1024, 1048576, "", false,
     "Largest request accepted."},
    {"protocol", "max_attributes", &Settings::max_attributes, 8, 4096, "", false,
     "Most attribute lines in one request."},
    {"resolver", "upstream", &Settings::upstream, 0, 0, "system|forward|recursive", false,
     "Where lookups go: the nameservers of /etc/resolv.conf, the forwarders below, or full "
     "recursion from the root."},
    {"resolver", "forwarders", &Settings::forwarders, 0, 0, "", false,
     "Forwarders as \"IP\" or \"IP@PORT\" (upstream = \"forward\")."},
    {"resolver", "unbound_config", &Settings::unbound_config, 0, 0, "", false,
     "A libunbound configuration file applied before the settings above (local zones, "
     "trust anchors, forward-zone stanzas)."},
    {"resolver", "trust_anchor_file", &Settings::trust_anchor_file, 0, 0, "", false,
     "DNSSEC trust anchor file; setting it turns validation on (Debian's dns-root-data ships "
     "/usr/share/dns/root.key). Facts then carry secure / insecure / bogus; bogus answers are "
     "temperror."},
    {"resolver", "auto_trust_anchor_file", &Settings::auto_trust_anchor_file, 0, 0, "", false,
     "RFC 5011 auto-updated trust anchor file (must be writable by the daemon), instead of "
     "trust_anchor_file."},
    {"resolver", "local_data", &Settings::local_data, 0, 0, "", false,
     "Records answered locally, in zone-file syntax, e.g. \"mx.internal.example. 300 IN A "
     "192.0.2.25\" with its PTR \"25.2.0.192.in-addr.arpa. 300 IN PTR mx.internal.example.\"."},
    {"resolver", "lookup_timeout_ms", &Settings::lookup_timeout_ms, 100, 60000, "", false,
     "Deadline of one DNS lookup; what it cuts off becomes temperror, never fail."},
    {"resolver", "budget_ms", &Settings::budget_ms, 100, 60000, "", false,
     "Time the whole assessment of one request may take (PTR, then forward lookups); what is "
     "still unanswered then counts as temperror. Keep it well below Postfix's policy timeout."},
    {"resolver", "max_ptr_names", &Settings::max_ptr_names, 1, 64, "", false,
     "PTR names of one client that are forward-checked (RFC 8601 suggests about 10)."},
    {"resolver", "max_addresses", &Settings::max_addresses, 1, 1024, "", false,
     "Addresses or names kept from one DNS answer."},
    {"checks", "generic_ptr_keywords", &Settings::generic_ptr_keywords, 0, 0, "", false,
     "Words that mark a PTR name as an access network's pool name (generic_ptr dynamic), added "
     "to the built-in list (dyn, dynamic, dsl, pool, dhcp, ppp, cable, broadband, client, ...)."},
    {"checks", "static_ptr_keywords", &Settings::static_ptr_keywords, 0, 0, "", false,
     "Words that exempt a PTR name from being called generic, added to the built-in list "
     "(mail, mx, smtp, outbound, relay, ...)."},
    {"checks", "provider_ptr_keywords", &Settings::provider_ptr_keywords, 0, 0, "", false,
     "Words that mark a PTR name with the client's address, or made of nothing else, as a "
     "provider's default name (generic_ptr provider-default), added to the built-in list "
     "(clients, vps, hosted, unassigned, ...; static and business always count)."},
    {"checks", "providers_file", &Settings::providers_file, 0, 0, "", false,
     "The providers map: large mail providers (helo_provider), hosting providers' default "
     "names and access networks (generic_ptr). A relative path is taken from the "
     "configuration file's directory; empty uses the built-in copy of the shipped "
     "/etc/rdns-policyd/providers.toml."},
    {"outage", "window_s", &Settings::outage_window_s, 1, 3600, "", false,
     "Seconds over which upstream DNS answers are counted to notice an outage."},
    {"outage", "threshold_percent", &Settings::outage_threshold_percent, 1, 100, "", false,
     "Share of temperror answers within the window that means the upstream is failing; one "
     "alarm is logged when the outage begins and one when it ends."},
    {"outage", "min_lookups", &Settings::outage_min_lookups, 1, 1000000, "", false,
     "Answers needed within the window before an outage can be declared."},
    {"outage", "action", &Settings::outage_action, 0, 0, "", true,
     "During an outage, the action for requests whose iprev is temperror, instead of the rule "
     "table's (which defers them by default). \"DUNNO\" keeps mail flowing while DNS is down; "
     "empty leaves the rules in charge."},
    {"cache", "size", &Settings::cache_size, 0, 50000000, "", false,
     "DNS answers kept (about 125 bytes each; a client costs about 3: PTR, A, AAAA); least "
     "recently used go first. 0 turns the cache off."},
    {"cache", "clients", &Settings::cache_clients, 0, 50000000, "", false,
     "Clients (address + HELO name) whose complete assessment is kept (about 160 bytes each), "
     "until the first DNS answer it rests on expires: a client seen before is then judged "
     "without any lookup. Failed or cut-off assessments are not kept. 0 turns this off."},
    {"cache", "min_ttl_s", &Settings::cache_min_ttl_s, 0, 86400, "", false,
     "Shortest time a positive answer is kept, whatever its TTL."},
    {"cache", "max_ttl_s", &Settings::cache_max_ttl_s, 1, 604800, "", false,
     "Longest time any answer is kept, whatever its TTL."},
    {"cache", "negative_max_ttl_s", &Settings::cache_negative_max_ttl_s, 0, 86400, "", false,
     "Longest time an NXDOMAIN / NODATA answer is kept (its own TTL comes from the zone's SOA, "
     "RFC 2308)."},
    {"cache", "temperror_ttl_s", &Settings::cache_temperror_ttl_s, 0, 300, "", false,
     "Time a failed lookup (SERVFAIL, timeout) is remembered, so a dead zone is not asked again "
     "for every request; 0 = never."},
    {"cache", "max_waiters", &Settings::max_waiters, 1, 100000, "", false,
     "Requests that may wait on one lookup already in flight; more get temperror at once."},
    {"headers", "authserv_id", &Settings::authserv_id, 0, 0, "", true,
     "When set (e.g. your MX host name), the first request of each message that the rules let "
     "through with DUNNO is answered with PREPEND Authentication-Results: <authserv_id>; "
     "iprev=<result> policy.iprev=<client> (RFC 8601), once per message, for content filters "
     "downstream. Needs daemon.instance_cache_size > 0."},
    {"headers", "helo", &Settings::headers_helo, 0, 0, "no|yes", true,
     "\"yes\" adds the HELO results to that header: x-helo=<result> (syntax and forward "
     "confirmation) and x-ptr=<result> (the HELO against the verified PTR names), with their "
     "smtp.helo and policy.* properties, so content filters can score them."},
    {"metrics", "listen", &Settings::metrics_listen, 0, 0, "", false,
     "Where Prometheus scrapes GET /metrics: \"inet:HOST:PORT\" or \"unix:/path\"; empty "
     "serves no metrics. The shipped configuration uses inet:127.0.0.1:10046, next to the policy "
     "port and outside the 9100-9999 range Prometheus exporters take their ports from. Serve "
     "it on loopback or a management network: the numbers say what your mail server rejects."},
    {"alarms", "window_s", &Settings::alarms_window_s, 60, 86400, "", false,
     "Seconds of requests the alarms for a site set up wrong look back over (README: "
     "Alarms). Each alarm is logged once when it begins (then at most every repeat_s while it "
     "lasts) and once when it ends, and exported as rdns_policyd_alarm."},
    {"alarms", "min_requests", &Settings::alarms_min_requests, 1, 1000000, "", false,
     "Unauthenticated requests within the window before internal-clients can be judged."},
    {"alarms", "internal_percent", &Settings::alarms_internal_percent, 1, 100, "", false,
     "internal-clients is raised when this share of the unauthenticated requests came from "
     "internal addresses (loopback, RFC 1918, CGNAT, link-local, ULA)."},
    {"alarms", "min_clients", &Settings::alarms_min_clients, 1, 1000000, "", false,
     "Clients assessed within the window before no-ptr-anywhere can be judged; it is raised "
     "when none of them had a PTR record."},
    {"alarms", "repeat_s", &Settings::alarms_repeat_s, 60, 86400, "", false,
     "A lasting alarm is logged again this often."},
    {"doctor", "dnsbl", &Settings::doctor_dnsbl, 0, 0, "", true,
     "Blocklist zones rdns-policyd doctor looks the audited address up in, unless --dnsbl "
     "names others. Some lists refuse queries through public resolvers (doctor then says it "
     "could not check)."},
    {"log", "level", &Settings::log_level, 0, 0, "debug|info|warning|error", true,
     "Least severe messages logged; decisions are logged at info."},
    {"log", "target", &Settings::log_target, 0, 0, "auto|stderr|journal", false,
     "Where log lines go: \"journal\" sends each one to journald with fields (a decision is one "
     "entry whose RDNS_* fields can be queried: journalctl RDNS_RULE=reject-no-ptr); \"stderr\" "
     "writes text lines; \"auto\" is the journal when stderr is connected to it (systemd sets "
     "JOURNAL_STREAM), else stderr."},
    {"log", "decisions", &Settings::log_decisions, 0, 0, "all|not-dunno|none", true,
     "Which decisions are logged (at info): all; not-dunno, only those whose action is not "
     "DUNNO (or that a shadow rule matched), which keeps a busy server's log to what was "
     "refused, deferred or marked; none."},
};

std::string where(std::string_view file, const toml::source_region& region) {
    return std::string(file) + ":" + std::to_string(region.begin.line) + ": ";
}

std::string choice_words(std::string_view choices) {
    std::string words(choices);
    for (auto& ch : words) {
        if (ch == '|') {
            ch = ',';
        }
    }
    return words;
}

bool is_choice(std::string_view choices, std::string_view value) {
    while (!choices.empty()) {
        const auto bar = choices.find('|');
        if (choices.substr(0, bar) == value) {
            return true;
        }
        if (bar == std::string_view::npos) {
            break;
        }
        choices.remove_prefix(bar + 1);
    }
    return false;
}

// Applies one TOML value to its setting; returns an error text or "".
std::string apply(const Setting& setting, const toml::node& node, Settings& settings) {
    if (const auto* field = std::get_if<IntField>(&setting.field)) {
        const auto value = node.value<std::int64_t>();
        if (!node.is_integer() || !value) {
            return "expected an integer";
        }
        if (*value < setting.min || *value > setting.max) {
            return "must be between " + std::to_string(setting.min) + " and " +
                   std::to_string(setting.max);
        }
        settings.*(*field) = *value;
        return "";
    }
    if (const auto* field = std::get_if<StringField>(&setting.field)) {
        const auto value = node.value<std::string>();
        if (!node.is_string() || !value) {
            return "expected a string";
        }
        if (!setting.choices.empty() && !is_choice(setting.choices, *value)) {
            return "must be one of " + choice_words(setting.choices);
        }
        settings.*(*field) = *value;
        return "";
    }
    const auto field = std::get<ListField>(setting.field);
    const auto* array = node.as_array();
    if (array == nullptr) {
        return "expected a list of strings";
    }
    std::vector<std::string> values;
    for (const auto& element : *array) {
        const auto value = element.value<std::string>();
        if (!element.is_string() || !value) {
            return "expected a list of strings";
        }
        values.push_back(*value);
    }
    settings.*field = std::move(values);
    return "";
}

const Setting* find_setting(std::string_view section, std::string_view key) {
    for (const auto& setting : kSettings) {
        if (setting.section == section && setting.key == key) {
            return &setting;
        }
    }
    return nullptr;
}

bool is_settings_section(std::string_view section) {
    for (const auto& setting : kSettings) {
        if (setting.section == section) {
            return true;
        }
    }
    return false;
}

void read_settings(const toml::table& root, std::string_view file, Settings& settings,
                   std::vector<std::string>& errors) {
    for (const auto& [section_key, section_node] : root) {
        const std::string_view section = section_key.str();
        // The rule table is rules/' business.
        if (section == "rule" || section == "policy" || section == "dnsbl") {
            continue;
        }
        if (!is_settings_section(section)) {
            errors.push_back(where(file, section_node.source()) + "unknown section [" +
                             std::string(section) + "]");
            continue;
        }
        const auto* table = section_node.as_table();
        if (table == nullptr) {
            errors.push_back(where(file, section_node.source()) + "[" + std::string(section) +
                             "] must be a table");
            continue;
        }
        for (const auto& [key, node] : *table) {
            const Setting* setting = find_setting(section, key.str());
            const std::string name = std::string(section) + "." + std::string(key.str());
            if (setting == nullptr) {
                errors.push_back(where(file, node.source()) + "unknown setting " + name);
                continue;
            }
            if (auto why = apply(*setting, node, settings); !why.empty()) {
                errors.push_back(where(file, node.source()) + name + ": " + why);
            }
        }
    }
}

// Checks that need several settings at once, after the command line applied.
void validate(const Settings& settings, std::string_view file, std::vector<std::string>& errors) {
    const std::string prefix = std::string(file) + ": ";
    if (settings.listen.empty()) {
        errors.push_back(prefix + "daemon.listen: no endpoint to serve");
    }
    for (const auto& text : settings.listen) {
        std::string why;
        if (!parse_endpoint(text, why)) {
            errors.push_back(prefix + "daemon.listen: " + why);
        }
    }
    if (!settings.metrics_listen.empty()) {
        std::string why;
        const auto metrics = parse_endpoint(settings.metrics_listen, why);
        if (!metrics) {
            errors.push_back(prefix + "metrics.listen: " + why);
        } else {
            for (const auto& text : settings.listen) {
                const auto policy = parse_endpoint(text, why);
                // Port 0 asks the kernel for any free port: two of those never clash.
                const bool any_port = metrics->kind == Endpoint::Kind::inet && metrics->port == 0;
                if (policy && !any_port && to_string(*policy) == to_string(*metrics)) {
                    errors.push_back(prefix + "metrics.listen: " + settings.metrics_listen +
                                     " is also in daemon.listen");
                }
            }
        }
    }
    for (const auto& text : settings.forwarders) {
        std::string why;
        if (!resolver::parse_forwarder(text, why)) {
            errors.push_back(prefix + "resolver.forwarders: \"" + text +
                             "\" is not IP or IP@PORT: " + why);
        }
    }
    if (!settings.authserv_id.empty() && !is_dns_name(strip_root_dot(settings.authserv_id))) {
        errors.push_back(prefix + "headers.authserv_id: \"" + settings.authserv_id +
                         "\" is not a host name");
    }
    if (settings.cache_min_ttl_s > settings.cache_max_ttl_s) {
        errors.push_back(prefix + "cache.min_ttl_s is larger than cache.max_ttl_s");
    }
    if (settings.upstream == "forward" && settings.forwarders.empty()) {
        errors.push_back(prefix + "resolver.upstream is \"forward\" but no forwarders are set");
    }
    if (settings.unix_socket_mode.empty() || settings.unix_socket_mode.size() > 4 ||
        settings.unix_socket_mode.find_first_not_of("01234567") != std::string::npos) {
        errors.push_back(prefix + "daemon.unix_socket_mode: \"" + settings.unix_socket_mode +
                         "\" is not an octal mode such as \"0660\"");
    }
    if (!settings.unbound_config.empty()) {
        std::ifstream probe(settings.unbound_config);
        if (!probe) {
            errors.push_back(prefix + "resolver.unbound_config: cannot read \"" +
                             settings.unbound_config + "\"");
        }
    }
}

}  // namespace

ProtocolLimits Settings::protocol_limits() const {
    ProtocolLimits limits;
    limits.max_line_bytes = static_cast<std::size_t>(max_line_bytes);
    limits.max_request_bytes = static_cast<std::size_t>(max_request_bytes);
    limits.max_attributes = static_cast<std::size_t>(max_attributes);
    return limits;
}

resolver::ResolverOptions Settings::resolver_options() const {
    resolver::ResolverOptions options;
    using Upstream = resolver::ResolverOptions::Upstream;
    options.upstream = upstream == "forward"     ? Upstream::forward
                       : upstream == "recursive" ? Upstream::recursive
                                                 : Upstream::system;
    options.forwarders = forwarders;
    options.unbound_config = unbound_config;
    options.timeout = std::chrono::milliseconds(lookup_timeout_ms);
    options.max_records = static_cast<std::size_t>(max_addresses);
    options.trust_anchor_file = trust_anchor_file;
    options.auto_trust_anchor_file = auto_trust_anchor_file;
    options.local_data = local_data;
    return options;
}

std::optional<Config> load_config(const std::string& path, const Overrides& overrides,
                                  std::vector<std::string>& errors) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        errors.push_back(path + ": cannot open configuration file");
        return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path, overrides, errors);
}

std::optional<Config> parse_config(std::string_view text, const std::string& path,
                                   const Overrides& overrides, std::vector<std::string>& errors) {
    const std::size_t errors_before = errors.size();
    const auto document = parse_toml(text, path, errors);
    if (!document) {
        return std::nullopt;
    }
    const toml::table& root = *document;

    Config config;
    config.path = path;
    read_settings(root, path, config.settings, errors);

    if (!overrides.listen.empty()) {
        config.settings.listen = overrides.listen;
    }
    if (!overrides.forwarders.empty()) {
        config.settings.forwarders = overrides.forwarders;
        config.settings.upstream = "forward";
    }
    if (overrides.unbound_config) {
        config.settings.unbound_config = *overrides.unbound_config;
    }
    validate(config.settings, path, errors);

    if (!config.settings.outage_action.empty()) {
        auto parsed = rules::parse_action(config.settings.outage_action);
        if (auto* why = std::get_if<std::string>(&parsed)) {
            errors.push_back(path + ": outage.action: " + *why);
        } else {
            config.outage_action = std::make_shared<const rules::ActionTemplate>(
                std::move(std::get<rules::ActionTemplate>(parsed)));
        }
    }

    if (config.settings.providers_file.empty()) {
        config.providers = shipped_providers();
    } else {
        std::filesystem::path file(config.settings.providers_file);
        if (file.is_relative()) {
            file = std::filesystem::path(path).parent_path() / file;
            config.settings.providers_file = file.lexically_normal().string();
        }
        // Its own errors name it (and their line in it); each also names
        // this file and the setting, so every error starts with this file.
        std::vector<std::string> providers_errors;
        if (auto map = load_providers(config.settings.providers_file, providers_errors)) {
            config.providers = std::make_shared<const ProviderMap>(std::move(*map));
        }
        for (const std::string& error : providers_errors) {
            errors.push_back(path + ": checks.providers_file: " + error);
        }
    }

    config.blocklists = std::make_shared<const Blocklists>(read_blocklists(root, path, errors));
    config.settings.dnsbl_signature = blocklist_signature(*config.blocklists);

    config.decision_logging = config.settings.log_decisions == "none" ? DecisionLogging::none
                              : config.settings.log_decisions == "not-dunno"
                                  ? DecisionLogging::not_dunno
                                  : DecisionLogging::all;

    std::vector<std::string> blocklist_names;
    for (const Blocklist& list : *config.blocklists) {
        blocklist_names.push_back(list.name);
    }
    auto table = rules::parse_rule_table(root, path, errors, std::move(blocklist_names));
    if (table) {
        config.rules = std::make_shared<const rules::RuleTable>(std::move(*table));
    }
    if (errors.size() != errors_before || !config.rules) {
        return std::nullopt;
    }
    return config;
}

std::vector<std::string> restart_only_changes(const Settings& running, const Settings& next) {
    std::vector<std::string> changed;
    if (running.dnsbl_signature != next.dnsbl_signature) {
        changed.emplace_back("[[dnsbl]]");
    }
    for (const auto& setting : kSettings) {
        if (setting.reloadable) {
            continue;
        }
        const bool differs =
            std::visit([&](auto field) { return running.*field != next.*field; }, setting.field);
        if (differs) {
            changed.push_back(std::string(setting.section) + "." + std::string(setting.key));
        }
    }
    return changed;
}

std::vector<SettingDoc> setting_docs() {
    const Settings defaults;
    std::vector<SettingDoc> docs;
    docs.reserve(std::size(kSettings));
    for (const auto& setting : kSettings) {
        SettingDoc doc;
        doc.section = setting.section;
        doc.key = setting.key;
        doc.help = setting.help;
        doc.reloadable = setting.reloadable;
        doc.choices = choice_words(setting.choices);
        std::ostringstream value;
        std::visit(
            [&](auto field) {
                using Field = decltype(field);
                if constexpr (std::is_same_v<Field, IntField>) {
                    value << defaults.*field;
                    doc.bounds = std::to_string(setting.min) + ".." + std::to_string(setting.max);
                } else if constexpr (std::is_same_v<Field, StringField>) {
                    value << toml::value<std::string>(defaults.*field);
                } else {
                    toml::array array;
                    for (const auto& element : defaults.*field) {
                        array.push_back(element);
                    }
                    value << array;
                }
            },
            setting.field);
        doc.default_toml = value.str();
        docs.push_back(std::move(doc));
    }
    return docs;
}

std::string to_string(const Endpoint& endpoint) {
    if (endpoint.kind == Endpoint::Kind::unix_socket) {
        return "unix:" + endpoint.path;
    }
    const bool v6 = endpoint.host.find(':') != std::string::npos;
    return "inet:" + (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" +
           std::to_string(endpoint.port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why) {
    Endpoint endpoint;
    if (text.starts_with("unix:")) {
        endpoint.kind = Endpoint::Kind::unix_socket;
        endpoint.path = std::string(text.substr(5));
        // sun_path holds 108 bytes including the terminating NUL.
        if (endpoint.path.empty() || endpoint.path.front() != '/' || endpoint.path.size() > 107) {
            why = "\"" + std::string(text) + "\": unix socket path must be absolute and at most " +
                  "107 bytes";
            return std::nullopt;
        }
        return endpoint;
    }
    if (!text.starts_with("inet:")) {
        why = "\"" + std::string(text) + "\": expected inet:HOST:PORT or unix:/path";
        return std::nullopt;
    }
    std::string_view rest = text.substr(5);
    std::string_view host;
    std::string_view port_text;
    if (rest.starts_with("[")) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            why = "\"" + std::string(text) + "\": expected inet:[IPV6]:PORT";
            return std::nullopt;
        }
        host = rest.substr(1, close - 1);
        port_text = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            why = "\"" + std::string(text) + "\": expected inet:HOST:PORT";
            return std::nullopt;
        }
        host = rest.substr(0, colon);
        port_text = rest.substr(colon + 1);
    }
    const auto address = parse_ip(host);
    if (!address || (address->is_v6() && !rest.starts_with("["))) {
        why = "\"" + std::string(text) + "\": host must be an IPv4 address or a bracketed IPv6 " +
              "address";
        return std::nullopt;
    }
    const auto port = parse_port(port_text);
    if (!port) {
        why = "\"" + std::string(text) + "\": port must be 0..65535";
        return std::nullopt;
    }
    endpoint.host = address->to_string();
    endpoint.port = *port;
    return endpoint;
}

}  // namespace policyd
