// Providers: who runs which names, from the shipped, editable providers map
// (packaging/providers.toml, read by policyd/config/providers_file.hpp).
//
//  - Large mail providers, by the organisational domains of their HELO and
//    PTR names: a HELO in one of them is only believable from a client with
//    a forward-confirmed PTR name of the same provider (helo_provider).
//  - Hosting and cloud providers' default host names, as name patterns: a
//    PTR name that matches one was never changed by the customer
//    (generic_ptr provider-default).
//  - Access networks (residential cable, DSL, fibre, mobile), by domain:
//    under one, a name that carries part of the client's address or an
//    opaque per-customer token is a pool name (generic_ptr dynamic).
//
// Contract: plain values, validated when read (providers_file) and again
// where they are compiled (MailProviders here, the classifier's patterns in
// generic_ptr.cpp), both throwing std::invalid_argument with the entry named.
// MailProviders is immutable once built and may be used from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policyd/checks/alignment.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

struct NamedDomains {
    std::string name;                  // "google", for logs and explain
    std::vector<std::string> domains;  // lower case, no trailing dot
};

struct HostingProvider {
    std::string name;  // "hetzner"
    // Whole-name patterns, lower case: a label of a pattern matches a label
    // of the name; in it '*' stands for one or more characters and '#' for
    // one or more digits ("static.#.#.#.#.clients.your-server.de").
    std::vector<std::string> patterns;
};

struct ProviderMap {
    std::vector<NamedDomains> mail;
    std::vector<HostingProvider> hosting;
    std::vector<NamedDomains> access;
};

// The mail-provider part of the map, compiled for helo_provider.
class MailProviders {
  public:
    MailProviders() = default;
    // Throws std::invalid_argument for a domain that is no DNS name or that
    // two providers both list.
    explicit MailProviders(const std::vector<NamedDomains>& providers);

    // The provider whose domains hold `org_domain` (an organisational
    // domain, lower case), or nullopt.
    [[nodiscard]] std::optional<std::size_t> provider_of(std::string_view org_domain) const;
    [[nodiscard]] const std::string& name(std::size_t provider) const { return names_[provider]; }
    [[nodiscard]] bool empty() const { return by_domain_.empty(); }

  private:
    std::vector<std::string> names_;
    std::vector<std::pair<std::string, std::size_t>> by_domain_;  // sorted by domain
};

// helo_provider for an FQDN HELO: which provider the HELO's organisational
// domain claims, against the organisational domains of the verified PTR
// names; `iprev` tells forged (the PTR lookups were answered) from
// temperror. n/a when the HELO claims no listed provider.
HeloProvider judge_helo_provider(std::string_view helo_name,
                                 const std::vector<std::string>& verified_names, Iprev iprev,
                                 const MailProviders& providers, const PublicSuffixList& psl);

}  // namespace policyd
