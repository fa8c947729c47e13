// Report: `rdns-policyd report`, what an admin reviews each morning, read
// from the journal the daemon wrote (the RDNS_* fields of each decision and
// alarm entry: policyd/answer/decision_log.hpp, policyd/daemon/logging.hpp).
//
// It prints, for a time range: decisions by rule and action class; the top
// rejected clients with their PTR and its organisational domain, and the top
// rejected organisational domains; each shadow rule's would-be decisions
// (dry-run decisions too) with example clients; the temperror and outage
// share; the alarms raised; and rejections per hour (per day over more than
// two days) as a bar chart. --json prints the same as one JSON object.
//
// Contract:
// - ReportBuilder is pure: entries go in through add() (a field getter per
//   entry), text or JSON come out; the journal reading (sd_journal, no
//   journalctl) is run_report()'s alone.
// - Bounded whatever the journal holds: at most kMaxClients distinct
//   rejected clients and domains are told apart (the rest count as
//   "(others)"), kMaxExamples examples per shadow rule, kMaxAlarms alarm
//   entries, kMaxRows chart rows.
// - Times are microseconds since the epoch (the journal's realtime clock);
//   the text shows local time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace policyd {

class PublicSuffixList;

struct ReportOptions {
    std::uint64_t since_usec = 0;
    std::uint64_t until_usec = 0;
    std::string unit;       // "" = every entry of SYSLOG_IDENTIFIER rdns-policyd
    std::string directory;  // "" = the system journal
    std::size_t top = 10;
    bool json = false;
};

// "2026-12-03", "2026-12-03 08:00[:00]" (local time), "today", "yesterday",
// "now", "-24h" / "24h ago" (s, m, h, d); nullopt with `why` otherwise.
std::optional<std::uint64_t> parse_report_time(std::string_view text, std::uint64_t now_usec,
                                               std::string& why);

class ReportBuilder {
  public:
    static constexpr std::size_t kMaxClients = 100000;
    static constexpr std::size_t kMaxExamples = 3;
    static constexpr std::size_t kMaxAlarms = 1000;
    static constexpr std::size_t kMaxRows = 48;

    // A field's value in the entry being added ("" when it has none).
    using Field = std::function<std::string_view(std::string_view name)>;

    ReportBuilder(ReportOptions options, std::shared_ptr<const PublicSuffixList> psl);
    ~ReportBuilder();
    ReportBuilder(const ReportBuilder&) = delete;
    ReportBuilder& operator=(const ReportBuilder&) = delete;

    // One journal entry of the daemon's; those that are neither a decision
    // nor an alarm are ignored.
    void add(std::uint64_t usec, const Field& field);

    void write_text(std::ostream& out) const;
    void write_json(std::ostream& out) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads the journal as `options` say and writes the report to `out`.
// Returns 0, or 1 with a message on `err` when the journal cannot be read.
int run_report(const ReportOptions& options, std::ostream& out, std::ostream& err);

}  // namespace policyd
