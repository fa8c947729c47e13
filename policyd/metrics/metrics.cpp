#include "policyd/metrics/metrics.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>

#include "policyd/answer/tally.hpp"
#include "policyd/base/histogram.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/config/stack.hpp"
#include "policyd/metrics/alarms.hpp"
#include "resolver/lookup_meter.hpp"
#include "rules/action.hpp"
#include "rules/rules.hpp"

namespace policyd {
namespace {

// Writes the samples of one metric: its name and label names are fixed by
// its declaration, each sample gives the label values in that order.
class Samples {
  public:
    Samples(std::string& out, std::string_view name, const std::vector<std::string_view>& labels)
        : out_(out), name_(name), labels_(labels) {}

    void add(std::initializer_list<std::string_view> values, double value) {
        line("", values, {}, value);
    }
    void add(double value) { line("", {}, {}, value); }

    // _bucket (cumulative, le as the last label), _sum and _count.
    void histogram(const Histogram& histogram) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
            cumulative += histogram.counts()[i];
            line("_bucket", {}, fmt::format("{}", kLatencyBounds[i]),
                 static_cast<double>(cumulative));
        }
        line("_bucket", {}, "+Inf", static_cast<double>(histogram.count()));
        line("_sum", {}, {}, histogram.sum_seconds());
        line("_count", {}, {}, static_cast<double>(histogram.count()));
    }

  private:
    void line(std::string_view suffix, std::initializer_list<std::string_view> values,
              std::string_view le, double value) {
        out_ += name_;
        out_ += suffix;
        if (values.size() != 0 || !le.empty()) {
            out_ += '{';
            std::size_t i = 0;
            for (const auto label_value : values) {
                label(i < labels_.size() ? labels_[i] : "label", label_value, i > 0);
                ++i;
            }
            if (!le.empty()) {
                label("le", le, i > 0);
            }
            out_ += '}';
        }
        out_ += ' ';
        fmt::format_to(std::back_inserter(out_), "{}", value);
        out_ += '\n';
    }

    // The exposition format escapes exactly these three in label values.
    void label(std::string_view name, std::string_view value, bool comma) {
        if (comma) {
            out_ += ',';
        }
        out_ += name;
        out_ += "=\"";
        for (const char c : value) {
            if (c == '\\') {
                out_ += "\\\\";
            } else if (c == '"') {
                out_ += "\\\"";
            } else if (c == '\n') {
                out_ += "\\n";
            } else {
                out_ += c;
            }
        }
        out_ += '"';
    }

    std::string& out_;
    std::string_view name_;
    const std::vector<std::string_view>& labels_;
};

using Emit = void (*)(const MetricsSources&, Samples&);

struct Metric {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    std::vector<std::string_view> labels;
    Emit emit;
};

double number(std::uint64_t value) {
    return static_cast<double>(value);
}

// Every rule of the running table (at zero until it first decides), then
// every other id counted since start-up (rules of earlier tables, "outage").
void each_rule(const MetricsSources& s,
               const std::function<void(std::string_view, const Tally::RuleCounts&)>& visit) {
    std::map<std::string, Tally::RuleCounts, std::less<>> rules;
    for (auto& id : s.config.rules->rule_ids()) {
        rules.emplace(std::move(id), Tally::RuleCounts{});
    }
    rules.emplace("default", Tally::RuleCounts{});
    s.tally.for_each_rule([&](std::string_view id, const Tally::RuleCounts& counts) {
        rules.insert_or_assign(std::string(id), counts);
    });
    for (const auto& [id, counts] : rules) {
        visit(id, counts);
    }
}

// Process figures every Prometheus client library exports, by their
// standard names, read from the kernel at scrape time.
double cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double resident_bytes() {
    std::FILE* statm = std::fopen("/proc/self/statm", "re");
    if (statm == nullptr) {
        return 0;
    }
    unsigned long size = 0;
    unsigned long resident = 0;
    const int read = std::fscanf(statm, "%lu %lu", &size, &resident);  // NOLINT: a fixed format
    (void)std::fclose(statm);  // read-only: nothing to lose on close
    return read == 2 ? static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE))
                     : 0;
}

double open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return 0;
    }
    double count = 0;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') {
            ++count;
        }
    }
    ::closedir(dir);
    return count - 1;  // the descriptor opendir() itself holds
}

double max_fds() {
    rlimit limit{};
    return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<double>(limit.rlim_cur) : 0;
}

template <std::size_t I>
void cache_field(const MetricsSources& s, Samples& out) {
    for (const auto& cache : s.stack.caches()) {
        const std::uint64_t values[] = {cache.stats.hits,      cache.stats.misses,
                                        cache.stats.evictions, cache.stats.expired,
                                        cache.stats.size,      cache.capacity};
        out.add({cache.name}, number(values[I]));
    }
}

// The one declaration of every metric, in the order a scrape lists them.
const std::vector<Metric>& metrics() {
    static const std::vector<Metric> table{
        {"rdns_policyd_build_info",
         "gauge",
         "Always 1; the version of the running daemon.",
         {"version"},
         [](const MetricsSources&, Samples& out) { out.add({RDNS_POLICYD_VERSION}, 1); }},
        {"rdns_policyd_requests_total",
         "counter",
         "Policy requests answered, by where their facts came from: a fresh DNS assessment, "
         "the facts cache (same client and HELO recently) or the message they belong to.",
         {"source"},
         [](const MetricsSources& s, Samples& out) {
             for (std::size_t i = 0; i < kFactsSourceWords.size(); ++i) {
                 out.add({kFactsSourceWords[i]},
                         number(s.tally.requests(static_cast<FactsSource>(i))));
             }
         }},
        {"rdns_policyd_decisions_total",
         "counter",
         "Requests answered, by the rule that decided (\"default\" when none did, \"outage\" for "
         "[outage] action) and the class of the action sent (accept: OK, DUNNO; defer: DEFER*, "
         "4NN; reject: REJECT, 5NN; other). In dry-run every answer is DUNNO (accept).",
         {"rule", "action"},
         [](const MetricsSources& s, Samples& out) {
             each_rule(s, [&](std::string_view id, const Tally::RuleCounts& counts) {
                 for (std::size_t i = 0; i < rules::kActionClassWords.size(); ++i) {
                     out.add({id, rules::kActionClassWords[i]}, number(counts.decided[i]));
                 }
             });
         }},
        {"rdns_policyd_shadow_matches_total",
         "counter",
         "Requests a shadow rule matched (it would have decided), and in dry-run the rule that "
         "would have decided.",
         {"rule"},
         [](const MetricsSources& s, Samples& out) {
             each_rule(s, [&](std::string_view id, const Tally::RuleCounts& counts) {
                 out.add({id}, number(counts.shadow));
             });
         }},
        {"rdns_policyd_facts_total",
         "counter",
         "Requests answered, by each fact and its value (the rule conditions of the same "
         "names).",
         {"fact", "value"},
         [](const MetricsSources& s, Samples& out) {
             for (std::size_t f = 0; f < kFactFields.size(); ++f) {
                 for (std::size_t v = 0; v < kFactFields[f].words.size(); ++v) {
                     out.add({kFactFields[f].name, kFactFields[f].words[v]},
                             number(s.tally.fact(f, v)));
                 }
             }
         }},
        {"rdns_policyd_request_duration_seconds",
         "histogram",
         "Time from a request's arrival to its answer, DNS lookups included.",
         {},
         [](const MetricsSources& s, Samples& out) { out.histogram(s.tally.latency()); }},
        {"rdns_policyd_budget_exhausted_total",
         "counter",
         "Assessments that resolver.budget_ms cut short (what was unanswered became "
         "temperror).",
         {},
         [](const MetricsSources& s, Samples& out) {
             out.add(number(s.tally.budget_exhausted()));
         }},
        {"rdns_policyd_dns_lookups_total",
         "counter",
         "DNS lookups answered by the upstream (behind every cache), by type and outcome "
         "(timeout: resolver.lookup_timeout_ms ran out; error: a resolver error).",
         {"type", "outcome"},
         [](const MetricsSources& s, Samples& out) {
             for (const auto type : resolver::kRrTypes) {
                 for (std::size_t o = 0; o < resolver::kOutcomeWords.size(); ++o) {
                     out.add(
                         {resolver::to_string(type), resolver::kOutcomeWords[o]},
                         number(s.stack.meter().answers(type, static_cast<resolver::Outcome>(o))));
                 }
             }
         }},
        {"rdns_policyd_dns_lookup_duration_seconds",
         "histogram",
         "Time the upstream took to answer a DNS lookup (a timeout counts its full deadline).",
         {},
         [](const MetricsSources& s, Samples& out) { out.histogram(s.stack.meter().latency()); }},
        {"rdns_policyd_dns_lookups_in_flight",
         "gauge",
         "DNS lookups asked upstream and not yet answered.",
         {},
         [](const MetricsSources& s, Samples& out) {
             out.add(static_cast<double>(s.stack.meter().in_flight()));
         }},
        {"rdns_policyd_dns_coalesced_total",
         "counter",
         "Lookups that joined an identical one already in flight instead of asking again.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(number(s.stack.coalesced())); }},
        {"rdns_policyd_dns_waiters_refused_total",
         "counter",
         "Lookups refused (temperror) because cache.max_waiters already waited on one in "
         "flight.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(number(s.stack.waiters_refused())); }},
        {"rdns_policyd_dns_outage",
         "gauge",
         "1 while the upstream is judged failing ([outage] window_s, threshold_percent), "
         "else 0.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(s.dns_outage ? 1 : 0); }},
        {"rdns_policyd_dns_outages_total",
         "counter",
         "DNS outages that began since start-up.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(number(s.server.outages_begun)); }},
        {"rdns_policyd_cache_hits_total",
         "counter",
         "Cache lookups that found a live entry: answers (DNS answers), clients (assessments "
         "of a client and HELO), messages (facts of a Postfix instance).",
         {"cache"},
         cache_field<0>},
        {"rdns_policyd_cache_misses_total",
         "counter",
         "Cache lookups that found nothing live (expired entries included).",
         {"cache"},
         cache_field<1>},
        {"rdns_policyd_cache_evictions_total",
         "counter",
         "Entries dropped to stay within the cache's size.",
         {"cache"},
         cache_field<2>},
        {"rdns_policyd_cache_expired_total",
         "counter",
         "Entries found expired and dropped.",
         {"cache"},
         cache_field<3>},
        {"rdns_policyd_cache_entries",
         "gauge",
         "Entries each cache holds now.",
         {"cache"},
         cache_field<4>},
        {"rdns_policyd_cache_capacity_entries",
         "gauge",
         "Entries each cache may hold (its size setting; 0: off).",
         {"cache"},
         cache_field<5>},
        {"rdns_policyd_alarm",
         "gauge",
         "1 while an alarm for a site set up wrong holds (internal-clients, no-ptr-anywhere, "
         "connections-refused; README: Alarms), else 0.",
         {"alarm"},
         [](const MetricsSources& s, Samples& out) {
             for (std::size_t i = 0; i < kAlarms.size(); ++i) {
                 out.add({kAlarms[i].name}, s.alarms.active(static_cast<Alarm>(i)) ? 1 : 0);
             }
         }},
        {"rdns_policyd_alarms_raised_total",
         "counter",
         "Times each alarm was raised.",
         {"alarm"},
         [](const MetricsSources& s, Samples& out) {
             for (std::size_t i = 0; i < kAlarms.size(); ++i) {
                 out.add({kAlarms[i].name}, number(s.alarms.raised(static_cast<Alarm>(i))));
             }
         }},
        {"rdns_policyd_connections_open",
         "gauge",
         "Policy connections open now.",
         {},
         [](const MetricsSources& s, Samples& out) {
             out.add(static_cast<double>(s.server.connections_open));
         }},
        {"rdns_policyd_connections_accepted_total",
         "counter",
         "Policy connections accepted and served.",
         {},
         [](const MetricsSources& s, Samples& out) {
             out.add(number(s.server.connections_accepted));
         }},
        {"rdns_policyd_connections_refused_total",
         "counter",
         "Policy connections closed at once because daemon.max_connections were open (Postfix "
         "then applies its default_action).",
         {},
         [](const MetricsSources& s, Samples& out) {
             out.add(number(s.server.connections_refused));
         }},
        {"rdns_policyd_protocol_errors_total",
         "counter",
         "Policy connections closed without a reply because the peer broke the protocol, by "
         "reason.",
         {"reason"},
         [](const MetricsSources& s, Samples& out) {
             for (std::size_t i = 0; i < kProtocolErrors.size(); ++i) {
                 out.add({to_string(kProtocolErrors[i])}, number(s.server.protocol_errors[i]));
             }
             for (std::size_t i = 0; i < kSessionErrorWords.size(); ++i) {
                 out.add({kSessionErrorWords[i]}, number(s.server.session_errors[i]));
             }
         }},
        {"rdns_policyd_reloads_total",
         "counter",
         "Configuration reloads (SIGHUP), by result; a failed one keeps the running "
         "configuration.",
         {"result"},
         [](const MetricsSources& s, Samples& out) {
             out.add({"success"}, number(s.server.reloads_succeeded));
             out.add({"failure"}, number(s.server.reloads_failed));
         }},
        {"rdns_policyd_config_last_reload_successful",
         "gauge",
         "1 when the last reload succeeded (or none was tried), 0 when it failed.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(s.server.last_reload_ok ? 1 : 0); }},
        {"rdns_policyd_config_last_reload_success_timestamp_seconds",
         "gauge",
         "When the running configuration was loaded (start-up or the last good reload), in "
         "seconds since the epoch.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(s.server.last_good_config_unix); }},
        {"rdns_policyd_rules",
         "gauge",
         "Rules in the running table.",
         {},
         [](const MetricsSources& s, Samples& out) {
             out.add(static_cast<double>(s.config.rules->size()));
         }},
        {"rdns_policyd_metrics_scrapes_total",
         "counter",
         "Requests for /metrics served, this one included.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(number(s.server.scrapes)); }},
        {"process_start_time_seconds",
         "gauge",
         "When the daemon started, in seconds since the epoch.",
         {},
         [](const MetricsSources& s, Samples& out) { out.add(s.server.started_unix); }},
        {"process_cpu_seconds_total",
         "counter",
         "User and system CPU time the daemon used.",
         {},
         [](const MetricsSources&, Samples& out) { out.add(cpu_seconds()); }},
        {"process_resident_memory_bytes",
         "gauge",
         "The daemon's resident memory.",
         {},
         [](const MetricsSources&, Samples& out) { out.add(resident_bytes()); }},
        {"process_open_fds",
         "gauge",
         "Descriptors the daemon has open.",
         {},
         [](const MetricsSources&, Samples& out) { out.add(open_fds()); }},
        {"process_max_fds",
         "gauge",
         "The daemon's limit of open descriptors.",
         {},
         [](const MetricsSources&, Samples& out) { out.add(max_fds()); }},
    };
    return table;
}

}  // namespace

std::string render_metrics(const MetricsSources& sources) {
    std::string out;
    out.reserve(32768);
    for (const auto& metric : metrics()) {
        out += "# HELP ";
        out += metric.name;
        out += ' ';
        // HELP text escapes backslash and newline; the table has neither,
        // but the format is kept whatever the table says.
        for (const char c : metric.help) {
            out += c == '\n' ? std::string_view("\\n")
                             : (c == '\\' ? std::string_view("\\\\") : std::string_view(&c, 1));
        }
        out += "\n# TYPE ";
        out += metric.name;
        out += ' ';
        out += metric.type;
        out += '\n';
        Samples samples(out, metric.name, metric.labels);
        metric.emit(sources, samples);
    }
    return out;
}

std::vector<MetricDoc> metric_docs() {
    std::vector<MetricDoc> docs;
    for (const auto& metric : metrics()) {
        docs.push_back(MetricDoc{metric.name, metric.type, metric.help, metric.labels});
    }
    return docs;
}

}  // namespace policyd
