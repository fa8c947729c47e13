// Rule-case files (policyd/tools/rule_cases.hpp) on hostile text, parsed
// against the example table the seeds are written for (tests/e2e/policy.toml,
// with tests/e2e/cases.toml among the seeds) and, when they parse, run
// through the same decide() the daemon uses.
//
// Invariants: a refused file says why, each error naming the file and the
// line; a parsed one runs, every case passes
// or fails (the tally adds up) and nothing is looked up in DNS (a case that
// asks for live DNS gets no facts).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/tools/rule_cases.hpp"

namespace {

const policyd::Config& example() {
    static const policyd::Config config = [] {
        std::vector<std::string> errors;
        policyd::Overrides overrides;
        overrides.forwarders = {"127.0.0.1@53"};  // never asked: no case looks anything up
        auto loaded =
            policyd::load_config(RDNS_SOURCE_DIR "/tests/e2e/policy.toml", overrides, errors);
        fuzz::require(loaded.has_value(), "the example configuration loads");
        return *loaded;
    }();
    return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> errors;
    const auto cases = policyd::parse_rule_cases(text, "fuzz-cases.toml", *example().rules, errors);
    if (!errors.empty()) {
        for (const auto& error : errors) {
            fuzz::require(error.rfind("fuzz-cases.toml:", 0) == 0,
                          "every error names the file and line");
        }
        return 0;
    }
    std::ostringstream out;
    const policyd::LiveFacts no_dns = [](const policyd::IpAddress&, std::string_view) {
        return std::optional<policyd::Facts>();
    };
    const auto tally = policyd::run_rule_cases(example(), cases, no_dns, out);
    fuzz::require(tally.passed + tally.failed == cases.size(), "every case is counted once");
    return 0;
}
