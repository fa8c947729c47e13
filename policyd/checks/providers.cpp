#include "policyd/checks/providers.hpp"

#include <algorithm>
#include <stdexcept>

#include "policyd/base/dns_name.hpp"

namespace policyd {

MailProviders::MailProviders(const std::vector<NamedDomains>& providers) {
    for (const NamedDomains& provider : providers) {
        const std::size_t index = names_.size();
        names_.push_back(provider.name);
        for (const std::string& domain : provider.domains) {
            if (!is_dns_name(domain) || domain.find('.') == std::string::npos) {
                throw std::invalid_argument("mail provider " + provider.name + ": \"" + domain +
                                            "\" is not a domain name");
            }
            by_domain_.emplace_back(domain, index);
        }
    }
    std::sort(by_domain_.begin(), by_domain_.end());
    const auto twice =
        std::adjacent_find(by_domain_.begin(), by_domain_.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; });
    if (twice != by_domain_.end()) {
        throw std::invalid_argument("mail providers " + names_[twice->second] + " and " +
                                    names_[(twice + 1)->second] + " both list " + twice->first);
    }
}

std::optional<std::size_t> MailProviders::provider_of(std::string_view org_domain) const {
    const auto it = std::lower_bound(by_domain_.begin(), by_domain_.end(), org_domain,
                                     [](const std::pair<std::string, std::size_t>& entry,
                                        std::string_view key) { return entry.first < key; });
    if (it == by_domain_.end() || it->first != org_domain) {
        return std::nullopt;
    }
    return it->second;
}

HeloProvider judge_helo_provider(std::string_view helo_name,
                                 const std::vector<std::string>& verified_names, Iprev iprev,
                                 const MailProviders& providers, const PublicSuffixList& psl) {
    if (providers.empty()) {
        return HeloProvider::na;
    }
    const auto claimed = providers.provider_of(psl.org_domain(helo_name));
    if (!claimed) {
        return HeloProvider::na;
    }
    for (const std::string& name : verified_names) {
        if (providers.provider_of(psl.org_domain(name)) == claimed) {
            return HeloProvider::verified;
        }
    }
    // Without an answered PTR lookup nothing says the claim is false.
    return iprev == Iprev::temperror ? HeloProvider::temperror : HeloProvider::forged;
}

}  // namespace policyd
