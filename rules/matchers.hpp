// Matchers: the pattern sets a rule condition is made of, each built once at
// load time from the admin's patterns and then matched per request.
//
// Contract:
// - add() takes one pattern as the rule file writes it and returns "" or
//   the reason it is refused (without file:line; the loader adds that).
// - matches() is const, thread-safe, does not allocate, and costs one hash
//   lookup per label of the name (names, domains) or one comparison per
//   network (CIDRs); RE2 is linear in the text.
// - Names and mail domains compare in ASCII lower case and ignore one
//   trailing dot (policyd/base/dns_name.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/base/ascii.hpp"

namespace re2 {
class RE2;
}

namespace rules {

using ISet = std::unordered_set<std::string, policyd::IHash, policyd::IEqual>;

// Host names: "name" exactly or ".suffix" for any name below suffix.
class NameSet {
  public:
    std::string add(std::string_view pattern);
    [[nodiscard]] bool matches(std::string_view name) const;

  private:
    friend class AddressSet;
    ISet exact_;
    ISet suffixes_;  // stored with the leading dot
};

// Mail addresses: "user@domain", "@domain" (that domain only), "@.domain"
// (any domain below it), "user@", "<>" (the null sender).
class AddressSet {
  public:
    std::string add(std::string_view pattern);
    [[nodiscard]] bool matches(std::string_view address) const;

  private:
    bool null_address_ = false;
    ISet exact_;
    ISet domains_;
    NameSet domain_suffixes_;  // only its suffixes are used
    ISet locals_;
};

// Addresses and networks, IPv4 and IPv6; a v4-mapped client meets the v4
// networks.
class CidrSet {
  public:
    std::string add(std::string_view pattern);
    [[nodiscard]] bool matches(const policyd::IpAddress& client) const;

  private:
    struct Cidr4 {
        std::uint32_t network = 0;
        std::uint32_t mask = 0;
    };
    struct Cidr6 {
        std::array<unsigned char, 16> network{};
        unsigned prefix = 0;
    };
    std::vector<Cidr4> v4_;
    std::vector<Cidr6> v6_;
};

// RE2 regexes, unanchored and case-insensitive unless the pattern says (?-i).
class RegexSet {
  public:
    RegexSet();
    ~RegexSet();
    RegexSet(RegexSet&&) noexcept;
    RegexSet& operator=(RegexSet&&) noexcept;

    std::string add(std::string_view pattern);
    [[nodiscard]] bool matches(std::string_view text) const;

  private:
    std::vector<std::unique_ptr<const re2::RE2>> regexes_;
};

// Longest pattern accepted in any set.
inline constexpr std::size_t kMaxPatternBytes = 1000;

// Attacker-free but possibly control-laden text from a rule file, for
// messages: control bytes become '?', at most 100 bytes and "...".
std::string printable(std::string_view text);

}  // namespace rules
