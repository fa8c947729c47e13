#include "policyd/config/providers_file.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <utility>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"
#include "policyd/checks/generic_ptr.hpp"
#include "policyd/config/toml_text.hpp"

namespace policyd {

namespace {

std::string where(const std::string& source, const toml::source_region& region) {
    return source + ":" + std::to_string(region.begin.line) + ": ";
}

struct Reader {
    const std::string& source;
    std::vector<std::string>& errors;

    void error(const toml::node& node, const std::string& message) {
        errors.push_back(where(source, node.source()) + message);
    }

    // The string array `key` of `entry`, lower-cased; errors for a missing
    // or mistyped value.
    std::vector<std::string> strings(const toml::table& entry, std::string_view table,
                                     std::string_view key) {
        std::vector<std::string> out;
        const toml::node* node = entry.get(key);
        if (node == nullptr) {
            error(entry, std::string(table) + ": missing " + std::string(key));
            return out;
        }
        const toml::array* array = node->as_array();
        if (array == nullptr || array->empty()) {
            error(*node, std::string(table) + "." + std::string(key) +
                             ": expected a non-empty array of strings");
            return out;
        }
        for (const toml::node& item : *array) {
            const auto* text = item.as_string();
            if (text == nullptr) {
                error(item, std::string(table) + "." + std::string(key) + ": expected a string");
                continue;
            }
            out.push_back(to_lower(text->get()));
        }
        return out;
    }

    std::string name(const toml::table& entry, std::string_view table) {
        const toml::node* node = entry.get("name");
        const auto* text = node != nullptr ? node->as_string() : nullptr;
        if (text == nullptr || text->get().empty()) {
            error(node != nullptr ? *node : static_cast<const toml::node&>(entry),
                  std::string(table) + ": expected name = \"...\"");
            return "?";
        }
        return text->get();
    }

    // Calls read(entry, table) for each table of the array `table`.
    void each(const toml::table& root, std::string_view table, std::string_view second_key,
              const std::function<void(const toml::table&)>& read) {
        const toml::node* node = root.get(table);
        if (node == nullptr) {
            return;
        }
        const toml::array* array = node->as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
            error(*node, std::string(table) + ": expected [[" + std::string(table) + "]] tables");
            return;
        }
        for (const toml::node& item : *array) {
            const toml::table& entry = *item.as_table();
            for (const auto& [key, value] : entry) {
                if (key.str() != "name" && key.str() != second_key) {
                    error(value, std::string(table) + ": unknown key " + std::string(key.str()));
                }
            }
            read(entry);
        }
    }
};

}  // namespace

std::optional<ProviderMap> parse_providers(std::string_view text, const std::string& source,
                                           std::vector<std::string>& errors) {
    const std::size_t before = errors.size();
    const auto document = parse_toml(text, source, errors);
    if (!document) {
        return std::nullopt;
    }
    const toml::table& root = *document;
    Reader reader{source, errors};
    for (const auto& [key, value] : root) {
        if (key.str() != "mail_provider" && key.str() != "hosting_provider" &&
            key.str() != "access_provider") {
            reader.error(value, "unknown table " + std::string(key.str()) +
                                    " (expected mail_provider, hosting_provider, "
                                    "access_provider)");
        }
    }

    ProviderMap map;
    reader.each(root, "mail_provider", "domains", [&](const toml::table& entry) {
        map.mail.push_back({reader.name(entry, "mail_provider"),
                            reader.strings(entry, "mail_provider", "domains")});
    });
    reader.each(root, "hosting_provider", "patterns", [&](const toml::table& entry) {
        HostingProvider provider{reader.name(entry, "hosting_provider"),
                                 reader.strings(entry, "hosting_provider", "patterns")};
        // The classifier is what compiles patterns: ask it, one provider at
        // a time, so the error points at the entry.
        try {
            GenericPtrClassifier::check_patterns(provider);
        } catch (const std::invalid_argument& bad) {
            reader.error(entry, bad.what());
        }
        map.hosting.push_back(std::move(provider));
    });
    reader.each(root, "access_provider", "domains", [&](const toml::table& entry) {
        map.access.push_back({reader.name(entry, "access_provider"),
                              reader.strings(entry, "access_provider", "domains")});
        for (const std::string& domain : map.access.back().domains) {
            if (!is_dns_name(domain) || domain.find('.') == std::string::npos) {
                reader.error(entry, "access_provider " + map.access.back().name + ": \"" + domain +
                                        "\" is not a domain name");
            }
        }
    });
    try {
        const MailProviders check(map.mail);
    } catch (const std::invalid_argument& bad) {
        errors.push_back(source + ": " + bad.what());
    }
    if (errors.size() != before) {
        return std::nullopt;
    }
    return map;
}

std::optional<ProviderMap> load_providers(const std::string& path,
                                          std::vector<std::string>& errors) {
    // A regular file of bounded size: "/dev/zero" must not hang the load.
    std::error_code error;
    const bool regular = std::filesystem::is_regular_file(path, error);
    const auto size = regular ? std::filesystem::file_size(path, error) : 0;
    if (!regular || error) {
        errors.push_back(path + ": cannot open providers file (not a readable regular file)");
        return std::nullopt;
    }
    if (size > kMaxProvidersFileBytes) {
        errors.push_back(path + ": providers file larger than " +
                         std::to_string(kMaxProvidersFileBytes) + " bytes");
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    // One byte more than its size, to notice a file that grows meanwhile.
    std::string text(static_cast<std::size_t>(size) + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
        errors.push_back(path + ": cannot read providers file");
        return std::nullopt;
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > size) {
        errors.push_back(path + ": providers file changed while it was read");
        return std::nullopt;
    }
    return parse_providers(text, path, errors);
}

std::shared_ptr<const ProviderMap> shipped_providers() {
    static const std::shared_ptr<const ProviderMap> map = [] {
        std::vector<std::string> errors;
        auto parsed = parse_providers(kShippedProvidersText, "(built-in providers.toml)", errors);
        if (!parsed) {
            // The build embeds packaging/providers.toml, which the unit tests
            // parse; this cannot happen in a tested build.
            throw std::logic_error("built-in providers map: " + errors.front());
        }
        return std::make_shared<const ProviderMap>(std::move(*parsed));
    }();
    return map;
}

}  // namespace policyd
