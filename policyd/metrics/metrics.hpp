// Metrics: every number the daemon exports to Prometheus, declared once, and
// the text exposition format (version 0.0.4) a scrape gets.
//
// Contract:
// - The table in metrics.cpp is the one declaration of each metric: its
//   name, type, help text, label names and how its samples are read from
//   the daemon's parts. render_metrics() writes every metric of it, in
//   order; metric_docs() lists them for the man page and the tests.
// - Nothing is counted here: the counts live where they happen (the
//   Responder's Tally, the Stack's caches and LookupMeter, the Server's
//   ServerCounters) and are read at scrape time, so counting costs the hot
//   path a few increments and no lock, and a scrape costs one pass.
// - Label values are bounded sets: rule ids of the tables loaded, fact
//   values, DNS types and outcomes, cache names, reasons. Never a client
//   address, a HELO name or anything else a client chooses.
// - Single-threaded: called on the event loop that owns what it reads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/protocol/codec.hpp"

namespace policyd {

class Tally;
class Stack;
class AlarmWatch;
struct Config;

// Why the daemon closed a connection on a peer that misbehaved: every
// ProtocolError of the codec, then the session's own reasons.
inline constexpr std::array<std::string_view, 4> kSessionErrorWords{
    "bad-client-address",  // client_address is not an IP address
    "stalled-request",     // a request did not arrive whole within read_timeout_s
    "closed-mid-request",  // the peer closed with half a request sent
    "reply-not-taken",     // the reply could not be written within read_timeout_s
};
enum class SessionError : std::uint8_t {
    bad_client_address,
    stalled_request,
    closed_mid_request,
    reply_not_taken
};

// What the Server counts itself.
struct ServerCounters {
    std::size_t connections_open = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_refused = 0;  // at daemon.max_connections
    std::array<std::uint64_t, kProtocolErrors.size()> protocol_errors{};
    std::array<std::uint64_t, kSessionErrorWords.size()> session_errors{};
    std::uint64_t reloads_succeeded = 0;
    std::uint64_t reloads_failed = 0;
    bool last_reload_ok = true;
    double last_good_config_unix = 0;  // start-up, then each successful reload
    std::uint64_t outages_begun = 0;
    double started_unix = 0;
    std::uint64_t scrapes = 0;
};

struct MetricsSources {
    const Tally& tally;
    const Stack& stack;
    const ServerCounters& server;
    const Config& config;  // the running snapshot: its rules are listed even at zero
    const AlarmWatch& alarms;
    bool dns_outage = false;
};

// The exposition text for one scrape.
std::string render_metrics(const MetricsSources& sources);

struct MetricDoc {
    std::string_view name;  // a histogram's base name; it exports _bucket, _sum, _count
    std::string_view type;  // "counter", "gauge" or "histogram"
    std::string_view help;
    std::vector<std::string_view> labels;
};
std::vector<MetricDoc> metric_docs();

// The media type of render_metrics()'s text.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace policyd
