// TOML text to a document, with a parse error reported the way every
// configuration reader reports errors: "source:line: description".
//
// Contract: never throws for bad text; nullopt, with one error appended,
// when the text is not TOML.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

inline std::optional<toml::table> parse_toml(std::string_view text, const std::string& source,
                                             std::vector<std::string>& errors) {
    try {
        return toml::parse(text, source);
    } catch (const toml::parse_error& error) {
        errors.push_back(source + ":" + std::to_string(error.source().begin.line) + ": " +
                         std::string(error.description()));
        return std::nullopt;
    }
}

}  // namespace policyd
