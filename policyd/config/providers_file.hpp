// The providers map file (packaging/providers.toml): large mail providers,
// hosting providers' default-name patterns and access networks' domains, for
// policyd/checks/providers.hpp and the generic-PTR classifier.
//
// Contract: parse_providers() reads the TOML text and returns the map, or
// nullopt with every problem appended to `errors` as "source:line: message"
// (unknown tables or keys, wrong types, names that are no domain names,
// malformed patterns, a domain listed by two mail providers); it throws
// nothing for bad content. shipped_providers() is the map as shipped,
// built into the binary from packaging/providers.toml, parsed once.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/checks/providers.hpp"

namespace policyd {

std::optional<ProviderMap> parse_providers(std::string_view text, const std::string& source,
                                           std::vector<std::string>& errors);

// The largest providers file read (the shipped one is about 10 KB).
inline constexpr std::size_t kMaxProvidersFileBytes = 4U << 20U;

// Reads and parses a file; a file that cannot be read, is not a regular
// file or is larger than kMaxProvidersFileBytes is one error.
std::optional<ProviderMap> load_providers(const std::string& path,
                                          std::vector<std::string>& errors);

// The shipped map (its text is kShippedProvidersText); never null.
std::shared_ptr<const ProviderMap> shipped_providers();
extern const std::string_view kShippedProvidersText;

}  // namespace policyd
