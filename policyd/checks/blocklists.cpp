#include "policyd/checks/blocklists.hpp"

#include "policyd/base/dns_name.hpp"
#include "resolver/reverse_name.hpp"

namespace policyd {

Listing read_listing(const Blocklist& list, const resolver::Answer& answer) {
    switch (answer.status) {
        case resolver::Status::temperror:
            return {ListingStatus::temperror, {}};
        case resolver::Status::nxdomain:
        case resolver::Status::nodata:
            return {ListingStatus::not_listed, {}};
        case resolver::Status::ok:
            break;
    }
    bool refused = false;
    for (const auto& address : answer.addresses) {
        if (!address.is_v4()) {
            continue;
        }
        const auto bytes = address.to_v4().to_bytes();
        if (bytes[0] != 127) {
            continue;  // not a return code: a wildcard or a lame zone
        }
        if (bytes[1] == 255 && bytes[2] == 255) {
            refused = true;
            continue;
        }
        for (const auto& [code, meaning] : list.codes) {
            if (code == address) {
                return {ListingStatus::listed, meaning};
            }
        }
        return {ListingStatus::listed, address.to_string()};
    }
    return {refused ? ListingStatus::temperror : ListingStatus::not_listed, {}};
}

std::string blocklist_query(const Blocklist& list, const IpAddress& client,
                            std::string_view domain) {
    std::string name;
    if (list.target == BlocklistTarget::client) {
        name = resolver::reverse_name(normalise(client));
        for (const std::string_view suffix :
             {std::string_view(".in-addr.arpa"), std::string_view(".ip6.arpa")}) {
            if (name.ends_with(suffix)) {
                name.resize(name.size() - suffix.size());
                break;
            }
        }
    } else {
        if (domain.empty()) {
            return {};
        }
        name = domain;
    }
    name += '.';
    name += list.zone;
    return name.size() <= kMaxName ? name : std::string();
}

}  // namespace policyd
