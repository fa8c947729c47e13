// The configuration and rule loader (policyd/config/settings.hpp
// parse_config: TOML, every setting, the rule table, its conditions,
// matchers and action templates) on hostile text.
//
// Invariants: a refused file says why (at least one error, each naming the
// file); an accepted one has a rule table and no error; it never throws.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "policyd/config/settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> errors;
    const auto config = policyd::parse_config(text, "fuzz.toml", {}, errors);
    if (config) {
        fuzz::require(errors.empty(), "an accepted configuration has no error");
        fuzz::require(config->rules != nullptr, "an accepted configuration has a rule table");
    } else {
        fuzz::require(!errors.empty(), "a refused configuration says why");
        for (const auto& error : errors) {
            fuzz::require(error.rfind("fuzz.toml", 0) == 0, "every error names the file");
        }
    }
    return 0;
}
