// Logging targets: where log lines and decision records go, text on stderr
// (policyd/daemon/log_sink.hpp) or journald entries with fields.
//
// Contract:
// - journal_wanted(target): "journal" yes, "stderr" no, "auto" when stderr
//   is the journal stream systemd connected ($JOURNAL_STREAM names
//   stderr's device and inode).
// - JournalSink: an spdlog sink that sends each line as one journal entry
//   (MESSAGE, PRIORITY from the level, SYSLOG_IDENTIFIER=rdns-policyd).
// - make_decision_log(journal): the DecisionLog the Responder writes to.
//   Text: the `decision key=value` line at info. Journal: one entry per
//   decision, MESSAGE a sentence that reads on its own in journalctl -u, and
//   every field of for_each_field() under journal_field_name() (RDNS_RULE,
//   ...; policyd/answer/decision_log.hpp), sanitised and at most
//   kMaxJournalValue bytes each.
//   PRIORITY: notice for a reject or a defer (the policy at work, not an
//   error of ours), warning for the [outage] action, info otherwise. Both
//   want a record only when info is logged. Decision entries go through a
//   JournalSocket (below), never blocking the event loop.
// - Single-threaded, like the loggers (spdlog _st). A journal that cannot
//   be written to loses the entry; logging never stops the daemon.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/answer/decision_log.hpp"

namespace policyd {

bool journal_wanted(std::string_view target);

class JournalSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
  protected:
    void sink_it_(const spdlog::details::log_msg& message) override;
    void flush_() override {}
};

std::unique_ptr<DecisionLog> make_decision_log(bool journal);

// One alarm line (policyd/metrics/alarms.hpp), at warning (info when it is
// cleared). To the journal: an entry of its own with RDNS_ALARM=name and
// RDNS_ALARM_STATE=raised|repeated|cleared, so `report` and journalctl find
// it by field; else a text line through spdlog.
void log_alarm(bool journal, std::string_view name, std::string_view state, std::string_view text);

// The journal's native socket, written without ever blocking: a decision
// entry that journald cannot take at once (its socket buffer is full) is
// dropped and counted, and the count is logged at most once a minute, so a
// journald that falls behind slows nothing down. Entries are "FIELD=value\n"
// lines (journald's native protocol); every value is sanitised already, so
// none holds a newline.
class JournalSocket {
  public:
    static constexpr const char* kDefaultPath = "/run/systemd/journal/socket";

    explicit JournalSocket(const std::string& path = kDefaultPath);
    ~JournalSocket();
    JournalSocket(const JournalSocket&) = delete;
    JournalSocket& operator=(const JournalSocket&) = delete;

    // True when the entry went out.
    bool send(const std::vector<std::string>& fields);
    [[nodiscard]] std::uint64_t dropped() const { return dropped_; }

  private:
    int fd_ = -1;
    std::string buffer_;
    std::uint64_t dropped_ = 0;
    std::uint64_t reported_ = 0;
    std::chrono::steady_clock::time_point last_report_{};
};

// The journal entry of one decision, as "FIELD=value" strings (exposed for
// unit tests; write() sends exactly these).
std::vector<std::string> journal_fields(const DecisionRecord& record);

}  // namespace policyd
