#include "policyd/config/blocklists_file.hpp"

#include <algorithm>

#include "policyd/base/address.hpp"
#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"

namespace policyd {

namespace {

bool valid_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && (is_alpha(name[0]) || is_digit(name[0])) &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (is_alpha(c) && c == ascii_lower(c)) || is_digit(c) || c == '-' || c == '_';
           });
}

}  // namespace

Blocklists read_blocklists(const toml::table& root, std::string_view file,
                           std::vector<std::string>& errors) {
    Blocklists lists;
    const toml::node* node = root.get("dnsbl");
    if (node == nullptr) {
        return lists;
    }
    const auto where = [&](const toml::node& at) {
        return std::string(file) + ":" + std::to_string(at.source().begin.line) + ": dnsbl: ";
    };
    const auto* array = node->as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
        errors.push_back(where(*node) + "write each blocklist as a [[dnsbl]] table");
        return lists;
    }
    for (const auto& item : *array) {
        const toml::table& table = *item.as_table();
        Blocklist list;
        bool ok = true;
        const auto fail = [&](const toml::node& at, const std::string& message) {
            errors.push_back(where(at) + message);
            ok = false;
        };
        for (const auto& [key, value] : table) {
            if (key.str() != "name" && key.str() != "zone" && key.str() != "check" &&
                key.str() != "codes") {
                fail(value, "unknown key " + std::string(key.str()) +
                                " (known: name, zone, check, codes)");
            }
        }
        const auto* name = table["name"].as_string();
        if (name == nullptr || !valid_name(name->get())) {
            fail(table, "name must be [a-z0-9][a-z0-9_-]*, at most 64 bytes");
        } else if (std::any_of(lists.begin(), lists.end(),
                               [&](const Blocklist& other) { return other.name == name->get(); })) {
            fail(table, "two lists named " + name->get());
        } else {
            list.name = name->get();
        }
        const auto* zone = table["zone"].as_string();
        if (zone == nullptr || !is_dns_name(strip_root_dot(zone->get())) ||
            zone->get().find('.') == std::string::npos) {
            fail(table, "zone must be the list's DNS zone, e.g. \"zen.spamhaus.org\"");
        } else {
            list.zone = to_lower(strip_root_dot(zone->get()));
        }
        const auto* check = table["check"].as_string();
        const auto target = check == nullptr ? kBlocklistTargetWords.end()
                                             : std::find(kBlocklistTargetWords.begin(),
                                                         kBlocklistTargetWords.end(), check->get());
        if (target == kBlocklistTargetWords.end()) {
            fail(table,
                 "check must be \"client\" (the address), \"ptr\" (the verified PTR "
                 "name's domain) or \"helo\" (the HELO's domain)");
        } else {
            list.target = static_cast<BlocklistTarget>(target - kBlocklistTargetWords.begin());
        }
        if (const toml::node* codes = table.get("codes")) {
            const auto* map = codes->as_table();
            if (map == nullptr) {
                fail(*codes, "codes must be a table of \"127.0.0.N\" = \"meaning\"");
            } else {
                for (const auto& [code, meaning] : *map) {
                    const auto address = parse_ip(code.str());
                    const auto* text = meaning.as_string();
                    const bool loopback =
                        address && address->is_v4() && address->to_v4().to_bytes()[0] == 127;
                    const bool error_range = loopback && address->to_v4().to_bytes()[1] == 255 &&
                                             address->to_v4().to_bytes()[2] == 255;
                    if (!loopback || error_range) {
                        fail(meaning, "code \"" + std::string(code.str()) +
                                          "\" is not a return code (127.0.0.0/8, not "
                                          "127.255.255.0/24, which lists use for errors)");
                    } else if (text == nullptr || !valid_name(text->get())) {
                        fail(meaning, "the meaning of " + std::string(code.str()) +
                                          " must be a word of [a-z0-9_-]");
                    } else {
                        list.codes.emplace_back(*address, text->get());
                    }
                }
            }
        }
        if (ok) {
            lists.push_back(std::move(list));
        }
    }
    return lists;
}

std::string blocklist_signature(const Blocklists& lists) {
    std::string out;
    for (const Blocklist& list : lists) {
        out += list.name + " " + list.zone + " " +
               std::string(kBlocklistTargetWords[static_cast<std::size_t>(list.target)]);
        for (const auto& [code, meaning] : list.codes) {
            out += " " + code.to_string() + "=" + meaning;
        }
        out += "\n";
    }
    return out;
}

}  // namespace policyd
