// The generated man pages name everything the declarations declare: a
// setting, fact, condition, macro or journal field added to its table
// appears in rdns-policyd(8) / rdns-policyd.toml(5) without anyone editing
// them, and this test fails if one did not.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "policyd/answer/decision_log.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/metrics/metrics.hpp"
#include "policyd/tools/man_pages.hpp"
#include "rules/action.hpp"
#include "rules/conditions.hpp"

namespace {

// The page with roff's "\-" turned back into "-" for searching.
std::string plain(void (*write)(std::ostream&)) {
    std::ostringstream out;
    write(out);
    std::string text = out.str();
    std::string result;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '-') {
            continue;
        }
        result += text[i];
    }
    return result;
}

bool has(const std::string& page, std::string_view needle) {
    return page.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("rdns-policyd.toml(5) lists every setting, condition, fact and macro", "[man]") {
    const std::string page = plain(policyd::write_man_page_5);
    CHECK(page.rfind(".\\\" Generated", 0) == 0);
    for (const auto& setting : policyd::setting_docs()) {
        INFO(setting.section << "." << setting.key);
        CHECK(has(page, "[" + std::string(setting.section) + "]"));
        CHECK(has(page, ".BR " + std::string(setting.key) + " "));
    }
    for (const auto& spec : rules::condition_specs()) {
        INFO(spec.key);
        CHECK(has(page, ".B " + std::string(spec.key) + "\n"));
    }
    for (const auto& fact : policyd::kFactFields) {
        for (const auto word : fact.words) {
            INFO(fact.name << " " << word);
            CHECK(has(page, " " + std::string(word)));
        }
    }
    for (const auto name : rules::macro_names()) {
        INFO(name);
        CHECK(has(page, "{" + std::string(name) + "}"));
    }
}

TEST_CASE("rdns-policyd(8) shows --help and every journal field", "[man]") {
    const std::string page = plain(policyd::write_man_page_8);
    for (const char* needle : {"check-config", "explain CLIENT_IP", "--server-port", "SIGHUP",
                               "Exit status:", "JOURNAL FIELDS"}) {
        INFO(needle);
        CHECK(has(page, needle));
    }
    for (const auto key : policyd::decision_keys()) {
        const std::string field = policyd::journal_field_name(key);
        INFO(field);
        CHECK(has(page, ".B " + field + "\n"));
    }
    CHECK(has(page, ".B RDNS_SHADOW\n"));  // an optional field is listed too
    // Every line that starts with a dot is a request we wrote (a man(7)
    // macro, .nf/.fi, a comment): text from the tables never becomes one.
    std::istringstream lines(page);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line[0] == '.' && line.size() > 1) {
            INFO(line);
            CHECK((std::isupper(static_cast<unsigned char>(line[1])) || line[1] == '\\' ||
                   line == ".nf" || line == ".fi"));
        }
    }
}

TEST_CASE("rdns-policyd(8) lists every metric with its labels", "[man][metrics]") {
    const std::string page = plain(policyd::write_man_page_8);
    REQUIRE(has(page, ".SH METRICS"));
    for (const auto& metric : policyd::metric_docs()) {
        INFO(metric.name);
        CHECK(has(page, ".B " + std::string(metric.name) + "\n" + std::string(metric.type)));
        for (const auto label : metric.labels) {
            CHECK(has(page, label));
        }
    }
}
