// Alarms: conditions that mean the site around the daemon is set up wrong,
// noticed from the requests it answers, each declared once in kAlarms with
// what it means and what to do about it.
//
//   internal-clients     most unauthenticated requests come from internal
//                        addresses (a NAT, a container proxy or a load
//                        balancer in front of Postfix hides the real
//                        clients, so the internal-network exemption lets
//                        all mail through unchecked);
//   no-ptr-anywhere      every client assessed in the window had no PTR,
//                        which is what a resolver that cannot reach the
//                        internet looks like (the default policy would
//                        reject everyone);
//   connections-refused  connections were refused at daemon.max_connections.
//
// Contract:
// - Pure logic over counts in a sliding window (policyd/base/window_counts.hpp);
//   every method takes `now`, so tests never sleep. Single-threaded.
// - evaluate(now) returns what changed: an alarm raised (once), repeated
//   (at most every `repeat` while it lasts) or cleared (once, when its
//   condition no longer holds). The owner logs each event; active() and
//   raised() feed the metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/window_counts.hpp"

namespace policyd {

enum class Alarm : std::uint8_t { internal_clients, no_ptr_anywhere, connections_refused };

struct AlarmSpec {
    std::string_view name;    // the metric label and the journal field's value
    std::string_view means;   // what it says about the site
    std::string_view remedy;  // what the admin should do
};

inline constexpr std::array<AlarmSpec, 3> kAlarms{{
    {"internal-clients",
     "most unauthenticated requests come from internal addresses: a NAT, container proxy or load "
     "balancer in front of Postfix hides the real clients, and the internal-network exemption "
     "lets their mail through unchecked",
     "let Postfix see the real client address (PROXY protocol: postscreen_upstream_proxy_protocol "
     "or smtpd_upstream_proxy_protocol = haproxy; no SNAT in front of port 25), or do not call "
     "the policy for a re-injection port"},
    {"no-ptr-anywhere",
     "every client assessed had no PTR record: the resolver most likely cannot reach the "
     "internet, and the rules reject every client for it",
     "check [resolver] upstream and forwarders (rdns-policyd explain --client-address 8.8.8.8 "
     "shows each answer), and fix the resolver before enforcing reject-no-ptr"},
    {"connections-refused",
     "policy connections were refused at daemon.max_connections; Postfix applied its "
     "default_action to them",
     "raise daemon.max_connections above the smtpd processes that may call the policy "
     "(default_process_limit in Postfix), or find what holds connections open"},
}};

struct AlarmOptions {
    std::chrono::seconds window{600};
    std::uint64_t min_requests = 50;      // internal-clients: unauthenticated requests
    std::uint64_t internal_percent = 90;  // of them from internal addresses
    std::uint64_t min_assessments = 20;   // no-ptr-anywhere: fresh assessments
    std::chrono::seconds repeat{3600};    // a lasting alarm is logged again this often
};

// The journal fields of an alarm entry (policyd/daemon/logging.hpp writes
// them, `report` reads them): the alarm's name and the event's word.
inline constexpr std::string_view kAlarmJournalField = "RDNS_ALARM";
inline constexpr std::string_view kAlarmStateJournalField = "RDNS_ALARM_STATE";

inline constexpr std::array<std::string_view, 3> kAlarmEventWords{"raised", "repeated", "cleared"};

struct AlarmEvent {
    enum class Kind : std::uint8_t { raised, repeated, cleared };  // kAlarmEventWords
    Alarm alarm = Alarm::internal_clients;
    Kind kind = Kind::raised;
    std::string detail;  // the counts behind it, for the log line
};

class AlarmWatch {
  public:
    using Clock = std::chrono::steady_clock;

    explicit AlarmWatch(AlarmOptions options = {});

    // One answered request: authenticated (sasl_username set), from an
    // internal address (loopback, RFC 1918, CGNAT, link-local, ULA), and
    // when its facts were freshly assessed, whether the client had no PTR.
    void request(bool authenticated, bool internal, std::optional<bool> no_ptr,
                 Clock::time_point now);
    void refused(Clock::time_point now);

    std::vector<AlarmEvent> evaluate(Clock::time_point now);

    [[nodiscard]] bool active(Alarm alarm) const {
        return states_[static_cast<std::size_t>(alarm)].active;
    }
    [[nodiscard]] std::uint64_t raised(Alarm alarm) const {
        return states_[static_cast<std::size_t>(alarm)].raised;
    }

  private:
    enum Field : std::size_t { kUnauthenticated, kInternal, kAssessed, kNoPtr, kRefused, kFields };
    struct State {
        bool active = false;
        std::uint64_t raised = 0;
        Clock::time_point logged;
    };

    AlarmOptions options_;
    WindowCounts<kFields> counts_;
    std::array<State, kAlarms.size()> states_{};
};

}  // namespace policyd
