#include "policyd/tools/report.hpp"

#include <systemd/sd-journal.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policyd/answer/decision_log.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/checks/alignment.hpp"
#include "policyd/metrics/alarms.hpp"
#include "rules/action.hpp"

namespace policyd {
namespace {

using rules::ActionClass;
using rules::kActionClassWords;
constexpr std::size_t kClasses = kActionClassWords.size();
constexpr std::uint64_t kUsecPerSecond = 1000000;
constexpr std::uint64_t kHour = 3600 * kUsecPerSecond;
constexpr std::uint64_t kDay = 24 * kHour;
constexpr std::string_view kOthers = "(others)";
constexpr std::string_view kNoPtr = "(no PTR)";

// The journal name of a decision record's key, as the daemon writes it.
std::string field_name(std::string_view key) {
    return journal_field_name(key);
}

std::string local_time(std::uint64_t usec, const char* format) {
    const auto seconds = static_cast<std::time_t>(usec / kUsecPerSecond);
    std::tm tm{};
    localtime_r(&seconds, &tm);
    std::array<char, 64> text{};
    const std::size_t n = std::strftime(text.data(), text.size(), format, &tm);
    return std::string(text.data(), n);
}

// The start of the local hour or day that holds `usec`.
std::uint64_t bucket_start(std::uint64_t usec, bool daily) {
    const auto seconds = static_cast<std::time_t>(usec / kUsecPerSecond);
    std::tm tm{};
    localtime_r(&seconds, &tm);
    tm.tm_min = 0;
    tm.tm_sec = 0;
    if (daily) {
        tm.tm_hour = 0;
    }
    tm.tm_isdst = -1;
    const std::time_t start = std::mktime(&tm);
    return start < 0 ? 0 : static_cast<std::uint64_t>(start) * kUsecPerSecond;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
    if (whole == 0) {
        return "0.0 %";
    }
    const double share = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
    std::array<char, 32> text{};
    const auto written =
        std::to_chars(text.data(), text.data() + text.size(), share, std::chars_format::fixed, 1);
    return std::string(text.data(), written.ptr) + " %";
}

std::string first_of(std::string_view list) {
    return std::string(list.substr(0, list.find(',')));
}

std::vector<std::string_view> split(std::string_view list) {
    std::vector<std::string_view> items;
    while (!list.empty()) {
        const auto comma = list.find(',');
        items.push_back(list.substr(0, comma));
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return items;
}

}  // namespace

struct ReportBuilder::Impl {
    ReportOptions options;
    std::shared_ptr<const PublicSuffixList> psl;

    struct RuleCounts {
        std::array<std::uint64_t, kClasses> sent{};
        std::array<std::uint64_t, kClasses> would{};  // shadow and dry-run matches
        std::uint64_t would_total = 0;
        std::vector<std::string> examples;  // "client (ptr)"
    };
    struct Client {
        std::uint64_t count = 0;
        std::string ptr;
    };
    struct AlarmEntry {
        std::uint64_t usec = 0;
        std::string name;
        std::string state;
        std::string message;
    };

    std::uint64_t decisions = 0;
    std::array<std::uint64_t, kClasses> sent{};
    std::uint64_t temperror = 0;
    std::uint64_t outage = 0;
    std::map<std::string, RuleCounts, std::less<>> rules;
    std::unordered_map<std::string, Client> rejected_clients;
    std::unordered_map<std::string, std::uint64_t> rejected_domains;
    std::map<std::uint64_t, std::uint64_t> rejections_per_bucket;
    std::vector<AlarmEntry> alarms;
    std::uint64_t alarms_dropped = 0;

    [[nodiscard]] bool daily() const {
        return options.until_usec > options.since_usec &&
               options.until_usec - options.since_usec > 2 * kDay;
    }

    void add_decision(std::uint64_t usec, const Field& field) {
        ++decisions;
        const std::string_view rule = field(field_name("rule"));
        const std::string_view action = field(field_name("action"));
        const bool dry_run = field(field_name("dry_run")) == "yes";
        const ActionClass decided = rules::action_class(action);
        // What was sent: in dry-run always DUNNO.
        const ActionClass was_sent = dry_run ? ActionClass::accept : decided;
        const auto sent_index = static_cast<std::size_t>(was_sent);
        ++sent[sent_index];
        const std::string_view client = field(field_name("client_address"));
        const std::string_view verified = field(field_name("verified"));
        const std::string ptr = first_of(verified.empty() ? field(field_name("ptr")) : verified);
        auto& counts = rule_counts(rule);
        ++counts.sent[sent_index];
        if (dry_run) {
            would(counts, decided, client, ptr);
        }
        const auto shadow = split(field(field_name("shadow")));
        const auto classes = split(field(field_name("shadow_class")));
        for (std::size_t i = 0; i < shadow.size(); ++i) {
            ActionClass shadow_class = ActionClass::other;
            for (std::size_t c = 0; c < kClasses; ++c) {
                if (i < classes.size() && classes[i] == kActionClassWords[c]) {
                    shadow_class = static_cast<ActionClass>(c);
                }
            }
            would(rule_counts(shadow[i]), shadow_class, client, ptr);
        }
        if (field(field_name("iprev")) == "temperror") {
            ++temperror;
        }
        if (field(field_name("dns_outage")) == "yes") {
            ++outage;
        }
        if (was_sent == ActionClass::reject) {
            count_rejection(usec, client, ptr);
        }
    }

    RuleCounts& rule_counts(std::string_view rule) {
        const auto it = rules.find(rule);
        if (it != rules.end()) {
            return it->second;
        }
        return rules.emplace(std::string(rule), RuleCounts{}).first->second;
    }

    void would(RuleCounts& counts, ActionClass what, std::string_view client,
               const std::string& ptr) {
        ++counts.would[static_cast<std::size_t>(what)];
        ++counts.would_total;
        std::string example(client);
        if (!ptr.empty()) {
            example += " (" + ptr + ")";
        }
        if (counts.examples.size() < kMaxExamples &&
            std::find(counts.examples.begin(), counts.examples.end(), example) ==
                counts.examples.end()) {
            counts.examples.push_back(std::move(example));
        }
    }

    void count_rejection(std::uint64_t usec, std::string_view client, const std::string& ptr) {
        const std::string domain = ptr.empty() ? std::string(kNoPtr)
                                   : psl       ? psl->org_domain(ptr)
                                               : ptr;
        bump(rejected_domains, domain.empty() ? ptr : domain);
        std::string key(client);
        auto it = rejected_clients.find(key);
        if (it == rejected_clients.end()) {
            key = rejected_clients.size() < kMaxClients ? key : std::string(kOthers);
            it = rejected_clients.try_emplace(key).first;
        }
        ++it->second.count;
        if (it->first != kOthers) {
            it->second.ptr = ptr;
        }
        ++rejections_per_bucket[bucket_start(usec, daily())];
    }

    static void bump(std::unordered_map<std::string, std::uint64_t>& map, const std::string& key) {
        auto it = map.find(key);
        if (it == map.end()) {
            it = map.try_emplace(map.size() < kMaxClients ? key : std::string(kOthers)).first;
        }
        ++it->second;
    }

    void add_alarm(std::uint64_t usec, const Field& field) {
        if (alarms.size() >= kMaxAlarms) {
            ++alarms_dropped;
            return;
        }
        alarms.push_back({usec, std::string(field(kAlarmJournalField)),
                          std::string(field(kAlarmStateJournalField)),
                          std::string(field("MESSAGE"))});
    }

    template <typename Map>
    [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> top(const Map& map) const {
        std::vector<std::pair<std::string, std::uint64_t>> sorted;
        sorted.reserve(map.size());
        for (const auto& [key, value] : map) {
            if constexpr (std::is_same_v<typename Map::mapped_type, Client>) {
                sorted.emplace_back(key, value.count);
            } else {
                sorted.emplace_back(key, value);
            }
        }
        std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        if (sorted.size() > options.top) {
            sorted.resize(options.top);
        }
        return sorted;
    }

    // The chart's rows: every hour (or day) of the range, the last kMaxRows.
    [[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint64_t>> rows() const {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
        if (options.until_usec <= options.since_usec) {
            return out;
        }
        const bool days = daily();
        std::uint64_t start = bucket_start(options.since_usec, days);
        while (start < options.until_usec) {
            const auto it = rejections_per_bucket.find(start);
            out.emplace_back(start, it == rejections_per_bucket.end() ? 0 : it->second);
            // The next bucket: mktime copes with a day of 23 or 25 hours.
            const std::uint64_t next =
                bucket_start(start + (days ? kDay : kHour) + kHour / 2, days);
            start = next > start ? next : start + (days ? kDay : kHour);
        }
        if (out.size() > kMaxRows) {
            out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(kMaxRows));
        }
        return out;
    }
};

ReportBuilder::ReportBuilder(ReportOptions options, std::shared_ptr<const PublicSuffixList> psl)
    : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->psl = std::move(psl);
}

ReportBuilder::~ReportBuilder() = default;

void ReportBuilder::add(std::uint64_t usec, const Field& field) {
    if (usec < impl_->options.since_usec || usec >= impl_->options.until_usec) {
        return;
    }
    if (!field(kAlarmJournalField).empty()) {
        impl_->add_alarm(usec, field);
    } else if (!field(field_name("rule")).empty()) {
        impl_->add_decision(usec, field);
    }
}

void ReportBuilder::write_text(std::ostream& out) const {
    const Impl& r = *impl_;
    const auto cell = [&out](auto value, int width) {
        std::string text = std::to_string(value);
        out << std::string(
                   static_cast<std::size_t>(std::max(0, width - static_cast<int>(text.size()))),
                   ' ')
            << text;
    };
    out << "rdns-policyd report: " << local_time(r.options.since_usec, "%Y-%m-%d %H:%M") << " to "
        << local_time(r.options.until_usec, "%Y-%m-%d %H:%M") << "\n\n";
    out << r.decisions << " decisions: " << r.sent[0] << " accepted, " << r.sent[1] << " deferred, "
        << r.sent[2] << " rejected, " << r.sent[3] << " other\n";
    out << "iprev temperror: " << r.temperror << " (" << percent(r.temperror, r.decisions)
        << "); during a DNS outage: " << r.outage << " (" << percent(r.outage, r.decisions)
        << ")\n";

    out << "\nDecisions by rule (the action sent)\n";
    out << "  rule                                accept   defer  reject   other\n";
    for (const auto& [rule, counts] : r.rules) {
        std::uint64_t total = 0;
        for (const auto n : counts.sent) {
            total += n;
        }
        if (total == 0) {
            continue;
        }
        std::string name = sanitized(rule, 34);
        name.resize(std::max<std::size_t>(name.size(), 34), ' ');
        out << "  " << name;
        for (const auto n : counts.sent) {
            cell(n, 8);
        }
        out << "\n";
    }

    out << "\nShadow and dry-run rules (what they would have done)\n";
    bool any_shadow = false;
    for (const auto& [rule, counts] : r.rules) {
        if (counts.would_total == 0) {
            continue;
        }
        any_shadow = true;
        out << "  " << sanitized(rule, 64) << ": " << counts.would_total << " (";
        const char* separator = "";
        for (std::size_t c = 0; c < kClasses; ++c) {
            if (counts.would[c] != 0) {
                out << separator << kActionClassWords[c] << " " << counts.would[c];
                separator = ", ";
            }
        }
        out << "), e.g.";
        for (const auto& example : counts.examples) {
            out << " " << sanitized(example, 300);
        }
        out << "\n";
    }
    if (!any_shadow) {
        out << "  none matched\n";
    }

    out << "\nTop rejected clients\n";
    for (const auto& [client, count] : r.top(r.rejected_clients)) {
        const auto& ptr = r.rejected_clients.at(client).ptr;
        const std::string org = ptr.empty() ? "" : (r.psl ? r.psl->org_domain(ptr) : "");
        cell(count, 8);
        out << "  " << sanitized(client, 64) << "  "
            << (ptr.empty() ? std::string(kNoPtr) : sanitized(ptr, 255));
        if (!org.empty()) {
            out << "  [" << org << "]";
        }
        out << "\n";
    }
    if (r.rejected_clients.empty()) {
        out << "  none\n";
    }
    out << "\nTop rejected PTR organisational domains\n";
    for (const auto& [domain, count] : r.top(r.rejected_domains)) {
        cell(count, 8);
        out << "  " << sanitized(domain, 255) << "\n";
    }
    if (r.rejected_domains.empty()) {
        out << "  none\n";
    }

    out << "\nAlarms\n";
    for (const auto& alarm : r.alarms) {
        out << "  " << local_time(alarm.usec, "%Y-%m-%d %H:%M:%S") << "  "
            << sanitized(alarm.message, 1024) << "\n";
    }
    if (r.alarms.empty()) {
        out << "  none\n";
    }
    if (r.alarms_dropped != 0) {
        out << "  (" << r.alarms_dropped << " more not shown)\n";
    }

    const bool days = r.daily();
    out << "\nRejections per " << (days ? "day" : "hour") << "\n";
    const auto rows = r.rows();
    std::uint64_t most = 1;
    for (const auto& row : rows) {
        most = std::max(most, row.second);
    }
    constexpr std::uint64_t kWidth = 50;
    for (const auto& [start, count] : rows) {
        out << "  " << local_time(start, days ? "%Y-%m-%d" : "%Y-%m-%d %H:00") << "  "
            << std::string(static_cast<std::size_t>((count * kWidth + most - 1) / most), '#') << " "
            << count << "\n";
    }
}

void ReportBuilder::write_json(std::ostream& out) const {
    const Impl& r = *impl_;
    const auto integer = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
    toml::table root;
    root.insert("since", local_time(r.options.since_usec, "%Y-%m-%dT%H:%M:%S%z"));
    root.insert("until", local_time(r.options.until_usec, "%Y-%m-%dT%H:%M:%S%z"));
    root.insert("decisions", integer(r.decisions));
    toml::table sent;
    for (std::size_t c = 0; c < kClasses; ++c) {
        sent.insert(kActionClassWords[c], integer(r.sent[c]));
    }
    root.insert("actions", std::move(sent));
    root.insert("iprev_temperror", integer(r.temperror));
    root.insert("dns_outage", integer(r.outage));
    toml::table rules;
    toml::table shadow;
    for (const auto& [rule, counts] : r.rules) {
        toml::table row;
        bool any = false;
        for (std::size_t c = 0; c < kClasses; ++c) {
            row.insert(kActionClassWords[c], integer(counts.sent[c]));
            any = any || counts.sent[c] != 0;
        }
        if (any) {
            rules.insert(sanitized(rule, 255), std::move(row));
        }
        if (counts.would_total != 0) {
            toml::table would;
            for (std::size_t c = 0; c < kClasses; ++c) {
                would.insert(kActionClassWords[c], integer(counts.would[c]));
            }
            toml::array examples;
            for (const auto& example : counts.examples) {
                examples.push_back(sanitized(example, 300));
            }
            toml::table entry;
            entry.insert("matched", integer(counts.would_total));
            entry.insert("would", std::move(would));
            entry.insert("examples", std::move(examples));
            shadow.insert(sanitized(rule, 255), std::move(entry));
        }
    }
    root.insert("rules", std::move(rules));
    root.insert("shadow", std::move(shadow));
    toml::array clients;
    for (const auto& [client, count] : r.top(r.rejected_clients)) {
        const auto& ptr = r.rejected_clients.at(client).ptr;
        toml::table entry;
        entry.insert("client_address", sanitized(client, 64));
        entry.insert("rejected", integer(count));
        entry.insert("ptr", sanitized(ptr, 255));
        entry.insert("org_domain", ptr.empty() || !r.psl ? std::string() : r.psl->org_domain(ptr));
        clients.push_back(std::move(entry));
    }
    root.insert("top_rejected_clients", std::move(clients));
    toml::array domains;
    for (const auto& [domain, count] : r.top(r.rejected_domains)) {
        toml::table entry;
        entry.insert("org_domain", sanitized(domain, 255));
        entry.insert("rejected", integer(count));
        domains.push_back(std::move(entry));
    }
    root.insert("top_rejected_domains", std::move(domains));
    toml::array alarms;
    for (const auto& alarm : r.alarms) {
        toml::table entry;
        entry.insert("time", local_time(alarm.usec, "%Y-%m-%dT%H:%M:%S%z"));
        entry.insert("alarm", sanitized(alarm.name, 64));
        entry.insert("state", sanitized(alarm.state, 64));
        entry.insert("message", sanitized(alarm.message, 1024));
        alarms.push_back(std::move(entry));
    }
    root.insert("alarms", std::move(alarms));
    toml::array chart;
    for (const auto& [start, count] : r.rows()) {
        toml::table entry;
        entry.insert("start", local_time(start, "%Y-%m-%dT%H:%M:%S%z"));
        entry.insert("rejected", integer(count));
        chart.push_back(std::move(entry));
    }
    root.insert(r.daily() ? "rejections_per_day" : "rejections_per_hour", std::move(chart));
    out << toml::json_formatter{root} << "\n";
}

std::optional<std::uint64_t> parse_report_time(std::string_view text, std::uint64_t now_usec,
                                               std::string& why) {
    const auto today = [now_usec] { return bucket_start(now_usec, true); };
    if (text == "now") {
        return now_usec;
    }
    if (text == "today") {
        return today();
    }
    if (text == "yesterday") {
        // The start of the day before: an hour into it, back to midnight.
        return bucket_start(today() - kDay + kHour, true);
    }
    // -24h, 24h ago
    std::string_view relative = text;
    bool ago = false;
    if (relative.starts_with("-")) {
        relative.remove_prefix(1);
        ago = true;
    } else if (relative.ends_with(" ago")) {
        relative.remove_suffix(4);
        ago = true;
    }
    if (ago && relative.size() >= 2) {
        std::uint64_t amount = 0;
        const auto [end, ec] =
            std::from_chars(relative.data(), relative.data() + relative.size() - 1, amount);
        const char unit = relative.back();
        const std::uint64_t scale = unit == 's'   ? kUsecPerSecond
                                    : unit == 'm' ? 60 * kUsecPerSecond
                                    : unit == 'h' ? kHour
                                    : unit == 'd' ? kDay
                                                  : 0;
        if (ec == std::errc() && end == relative.data() + relative.size() - 1 && scale != 0 &&
            amount < 100000) {
            const std::uint64_t back = amount * scale;
            return back < now_usec ? now_usec - back : 0;
        }
    }
    // YYYY-MM-DD[ HH:MM[:SS]], local time.
    std::tm tm{};
    const std::string copy(text);
    const char* end = strptime(copy.c_str(), "%Y-%m-%d", &tm);
    if (end != nullptr && *end == ' ') {
        const char* with_time = strptime(end + 1, "%H:%M:%S", &tm);
        if (with_time == nullptr) {
            with_time = strptime(end + 1, "%H:%M", &tm);
        }
        end = with_time;
    }
    if (end == nullptr || *end != '\0') {
        why = "\"" + sanitized(text, 64) +
              "\" is not a time (YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, -24h, "
              "\"2d ago\")";
        return std::nullopt;
    }
    tm.tm_isdst = -1;
    const std::time_t seconds = std::mktime(&tm);
    if (seconds < 0) {
        why = "\"" + sanitized(text, 64) + "\" is before 1970";
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(seconds) * kUsecPerSecond;
}

int run_report(const ReportOptions& options, std::ostream& out, std::ostream& err) {
    sd_journal* journal = nullptr;
    const int opened = options.directory.empty()
                           ? sd_journal_open(&journal, SD_JOURNAL_LOCAL_ONLY)
                           : sd_journal_open_directory(&journal, options.directory.c_str(), 0);
    if (opened < 0) {
        err << "rdns-policyd report: cannot open the journal"
            << (options.directory.empty() ? "" : " in " + options.directory) << ": "
            << std::strerror(-opened) << "\n";
        return 1;
    }
    const std::unique_ptr<sd_journal, void (*)(sd_journal*)> owned(journal, sd_journal_close);
    // The daemon's entries only: by its identifier, and by unit when asked.
    static_cast<void>(sd_journal_add_match(journal, "SYSLOG_IDENTIFIER=rdns-policyd", 0));
    if (!options.unit.empty()) {
        std::string unit = options.unit;
        if (unit.find('.') == std::string::npos) {
            unit += ".service";
        }
        const std::string match = "_SYSTEMD_UNIT=" + unit;
        static_cast<void>(sd_journal_add_match(journal, match.data(), match.size()));
    }
    if (const int sought = sd_journal_seek_realtime_usec(journal, options.since_usec); sought < 0) {
        err << "rdns-policyd report: cannot seek in the journal: " << std::strerror(-sought)
            << "\n";
        return 1;
    }
    ReportBuilder report(options, PublicSuffixList::load_default());
    const auto field = [journal](std::string_view name) -> std::string_view {
        const void* data = nullptr;
        std::size_t length = 0;
        const std::string key(name);
        if (sd_journal_get_data(journal, key.c_str(), &data, &length) < 0 || length <= key.size()) {
            return {};
        }
        // "FIELD=value"
        return {static_cast<const char*>(data) + key.size() + 1, length - key.size() - 1};
    };
    for (;;) {
        const int next = sd_journal_next(journal);
        if (next < 0) {
            err << "rdns-policyd report: cannot read the journal: " << std::strerror(-next) << "\n";
            return 1;
        }
        if (next == 0) {
            break;
        }
        std::uint64_t usec = 0;
        if (sd_journal_get_realtime_usec(journal, &usec) < 0) {
            continue;
        }
        if (usec >= options.until_usec) {
            break;
        }
        report.add(usec, field);
    }
    if (options.json) {
        report.write_json(out);
    } else {
        report.write_text(out);
    }
    return 0;
}

}  // namespace policyd
