// `rdns-policyd report`'s aggregation, fed journal-like entries: decisions
// by rule and class, shadow and dry-run would-be decisions, top rejected
// clients and domains, alarms, the per-hour chart, the JSON; and the --since
// / --until time words. The journal itself is e2e's (tests/e2e/test_journal.py).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "policyd/checks/alignment.hpp"
#include "policyd/tools/report.hpp"

using namespace policyd;

namespace {

constexpr std::uint64_t kHour = 3600ULL * 1000000ULL;
// 2026-12-03 00:00:00 UTC; the test runs with TZ=UTC.
constexpr std::uint64_t kDayStart = 1796256000ULL * 1000000ULL;

using Entry = std::map<std::string, std::string, std::less<>>;

void add(ReportBuilder& report, std::uint64_t usec, const Entry& entry) {
    report.add(usec, [&entry](std::string_view name) -> std::string_view {
        const auto it = entry.find(name);
        return it == entry.end() ? std::string_view() : std::string_view(it->second);
    });
}

Entry decision(const std::string& client, const std::string& ptr, const std::string& rule,
               const std::string& action) {
    return {{"RDNS_CLIENT_ADDRESS", client},
            {"RDNS_PTR", ptr},
            {"RDNS_VERIFIED", ""},
            {"RDNS_IPREV", ptr.empty() ? "permerror" : "pass"},
            {"RDNS_RULE", rule},
            {"RDNS_ACTION", action},
            {"RDNS_DNS_OUTAGE", "no"}};
}

struct Utc {
    Utc() {
        setenv("TZ", "UTC", 1);  // NOLINT(concurrency-mt-unsafe): the test's one thread
        tzset();
    }
};

ReportBuilder make_report(bool json = false) {
    ReportOptions options;
    options.since_usec = kDayStart;
    options.until_usec = kDayStart + 24 * kHour;
    options.top = 2;
    options.json = json;
    return ReportBuilder(options, PublicSuffixList::load_default());
}

void fill(ReportBuilder& report) {
    for (int i = 0; i < 3; ++i) {
        add(report, kDayStart + kHour,
            decision("192.0.2.9", "", "reject-no-ptr", "550 5.7.25 no PTR"));
    }
    add(report, kDayStart + 2 * kHour,
        decision("198.51.100.7", "host7.dyn.example.net", "reject-fcrdns-fail", "REJECT"));
    add(report, kDayStart + 2 * kHour,
        decision("198.51.100.8", "host8.dyn.example.net", "reject-fcrdns-fail", "REJECT"));
    add(report, kDayStart + 3 * kHour,
        decision("203.0.113.1", "", "defer-dns-temperror", "450 4.7.25 later"));
    auto shadowed = decision("192.0.2.50", "mail.example.org", "default", "DUNNO");
    shadowed["RDNS_SHADOW"] = "would-reject-generic,would-warn";
    shadowed["RDNS_SHADOW_CLASS"] = "reject,other";
    add(report, kDayStart + 4 * kHour, shadowed);
    auto dry = decision("192.0.2.51", "", "reject-no-ptr", "550 5.7.25 no PTR");
    dry["RDNS_DRY_RUN"] = "yes";
    add(report, kDayStart + 5 * kHour, dry);
    // Outside the range, and an entry that is neither decision nor alarm.
    add(report, kDayStart - 1, decision("192.0.2.99", "", "reject-no-ptr", "REJECT"));
    add(report, kDayStart + 6 * kHour, Entry{{"MESSAGE", "ready: 12 rules"}});
    add(report, kDayStart + 7 * kHour,
        Entry{{"MESSAGE", "alarm no-ptr-anywhere raised: 20 of 20 clients"},
              {"RDNS_ALARM", "no-ptr-anywhere"},
              {"RDNS_ALARM_STATE", "raised"}});
}

}  // namespace

TEST_CASE("report: decisions, rules, top clients, shadow, alarms and the chart", "[report]") {
    const Utc utc;
    auto report = make_report();
    fill(report);
    std::ostringstream out;
    report.write_text(out);
    const std::string text = out.str();
    INFO(text);
    CHECK(text.find("8 decisions: 2 accepted, 1 deferred, 5 rejected, 0 other") !=
          std::string::npos);
    CHECK(text.find("iprev temperror: 0 (0.0 %)") != std::string::npos);
    // Per rule, what was sent: the dry-run decision was sent as DUNNO.
    const auto row = [](std::string rule, const char* cells) {
        rule.resize(34, ' ');
        return "  " + rule + cells;
    };
    CHECK(text.find(row("reject-no-ptr", "       1       0       3       0")) != std::string::npos);
    CHECK(text.find(row("reject-fcrdns-fail", "       0       0       2       0")) !=
          std::string::npos);
    // Top 2 rejected clients, most first; the no-PTR ones' domain.
    CHECK(text.find("       3  192.0.2.9  (no PTR)") != std::string::npos);
    CHECK(text.find("198.51.100.7  host7.dyn.example.net  [example.net]") != std::string::npos);
    CHECK(text.find("198.51.100.8") == std::string::npos);  // --top 2
    CHECK(text.find("       3  (no PTR)\n       2  example.net\n") != std::string::npos);
    CHECK(text.find("would-reject-generic: 1 (reject 1), e.g. 192.0.2.50 (mail.example.org)") !=
          std::string::npos);
    CHECK(text.find("would-warn: 1 (other 1)") != std::string::npos);
    CHECK(text.find("reject-no-ptr: 1 (reject 1), e.g. 192.0.2.51") != std::string::npos);
    CHECK(text.find("2026-12-03 07:00:00  alarm no-ptr-anywhere raised") != std::string::npos);
    CHECK(text.find("  2026-12-03 01:00  ################################################## 3") !=
          std::string::npos);
    // Bars are scaled to the busiest row (50 wide), rounded up: 2 of 3 is 34.
    CHECK(text.find("  2026-12-03 02:00  " + std::string(34, '#') + " 2") != std::string::npos);
    CHECK(text.find("  2026-12-03 23:00   0") != std::string::npos);
    CHECK(text.find("192.0.2.99") == std::string::npos);
}

TEST_CASE("report --json says the same as one object", "[report]") {
    const Utc utc;
    auto report = make_report(true);
    fill(report);
    std::ostringstream out;
    report.write_json(out);
    const std::string json = out.str();
    INFO(json);
    CHECK(json.find("\"decisions\" : 8") != std::string::npos);
    CHECK(json.find("\"reject\" : 5") != std::string::npos);
    CHECK(json.find("\"client_address\" : \"192.0.2.9\"") != std::string::npos);
    CHECK(json.find("\"org_domain\" : \"example.net\"") != std::string::npos);
    CHECK(json.find("\"would-reject-generic\"") != std::string::npos);
    CHECK(json.find("\"alarm\" : \"no-ptr-anywhere\"") != std::string::npos);
    CHECK(json.find("\"rejections_per_hour\"") != std::string::npos);
}

TEST_CASE("report times: dates, words and relative times", "[report]") {
    const Utc utc;
    const std::uint64_t now = kDayStart + 10 * kHour + 123;
    std::string why;
    CHECK(parse_report_time("now", now, why) == now);
    CHECK(parse_report_time("today", now, why) == kDayStart);
    CHECK(parse_report_time("yesterday", now, why) == kDayStart - 24 * kHour);
    CHECK(parse_report_time("-24h", now, why) == now - 24 * kHour);
    CHECK(parse_report_time("2d ago", now, why) == now - 48 * kHour);
    CHECK(parse_report_time("90m ago", now, why) == now - 90ULL * 60 * 1000000);
    CHECK(parse_report_time("2026-12-03", now, why) == kDayStart);
    CHECK(parse_report_time("2026-12-03 08:30", now, why) == kDayStart + 8 * kHour + 1800000000);
    CHECK(parse_report_time("2026-12-03 08:30:15", now, why) == kDayStart + 8 * kHour + 1815000000);
    for (const char* bad : {"", "tomorrow", "-24x", "2026-13-45", "2026-12-03 25:00", "-h",
                            "12345678901234567890h ago", "2026-12-03x"}) {
        INFO(bad);
        why.clear();
        CHECK_FALSE(parse_report_time(bad, now, why));
        CHECK_FALSE(why.empty());
    }
}
