// Facts: what the assessment learned about one SMTP client, in the DESIGN.md
// vocabulary. Every DNS-derived fact has an explicit "could not tell" value
// (temperror); none of them is a boolean.
//
// Contract: Facts is a plain value built by the assessment and read by the
// rule table, the decision record, `explain` and the case files.
//
// Each enumerated fact is declared once, in kFactFields below: its name (the
// rule condition, the case-file key, the decision-record key and `explain`'s
// row are all this name), its values' words (fact_words(); the enum's order),
// and how to read and write it in a Facts. The rule loader, the evaluator,
// explain, the case reader, the decision record, the action macros and the
// caches' packing all iterate that table; adding a fact is one enum, one
// Facts member, one kFactFields entry and its derivation (docs/ARCHITECTURE.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace policyd {

// RFC 8601 iprev: PTR lookup plus forward confirmation of the PTR names.
enum class Iprev { pass, fail, permerror, temperror };
inline constexpr std::array<std::string_view, 4> kIprevWords{"pass", "fail", "permerror",
                                                             "temperror"};

// HELO/EHLO argument shape (RFC 5321 §2.3.5, §4.1.3).
enum class HeloSyntax { fqdn, non_fqdn, invalid, address_literal, bare_ip, missing };
inline constexpr std::array<std::string_view, 6> kHeloSyntaxWords{
    "fqdn", "non-fqdn", "invalid", "address-literal", "bare-ip", "missing"};

// An address-literal HELO compared with the client address: the client
// itself; another address of the client's network (its /24 for IPv4, its
// /64 for IPv6: a host that names its neighbour, or a second address of
// its own); an internal address (policyd/base/address.hpp is_internal)
// from a public client, as a host behind NAT names itself; or anything
// else (mismatch). Only match is strict; the others are their own values
// so rules decide how tolerant to be.
enum class HeloLiteral { match, mismatch, same_network, private_address, na };
inline constexpr std::array<std::string_view, 5> kHeloLiteralWords{
    "match", "mismatch", "same-network", "private", "n/a"};

// The form of an address-literal HELO: [IPv4], [IPv6:...] as RFC 5321
// writes it, or an IPv6 address in brackets without the tag, which real
// clients send and Postfix's reject_invalid_helo_hostname accepts; n/a when
// the HELO is not an address literal.
enum class HeloLiteralForm { ipv4, ipv6, ipv6_untagged, na };
inline constexpr std::array<std::string_view, 4> kHeloLiteralFormWords{"ipv4", "ipv6",
                                                                       "ipv6-untagged", "n/a"};

// The HELO name's A/AAAA records contain the client address (pass), or
// only addresses of the client's /24 or /64 (same-network: never a pass,
// and iprev stays strict), or other addresses only (fail), or none.
enum class HeloForward { pass, fail, none, temperror, same_network, na };
inline constexpr std::array<std::string_view, 6> kHeloForwardWords{
    "pass", "fail", "none", "temperror", "same-network", "n/a"};

// DESIGN.md: HELO vs PTR alignment (policyd/checks/alignment.hpp).
//  exact:      the HELO equals a verified PTR name.
//  org_domain: the HELO shares its organisational domain with a verified PTR
//              name (mail-yw1-f123.google.com vs mx.google.com).
//  mismatch:   neither, or the HELO has no organisational domain (it is a
//              public suffix itself or invalid) and is not exact.
//  na:         there is no verified PTR name, or no FQDN HELO, to compare.
enum class Alignment { exact, org_domain, mismatch, na };
inline constexpr std::array<std::string_view, 4> kAlignmentWords{"exact", "org-domain", "mismatch",
                                                                 "n/a"};

// What kind of name the PTR name is (policyd/checks/generic_ptr.hpp): an
// access network's pool name for a customer address (dynamic: residential
// cable, DSL, fibre, mobile), a hosting, cloud or business provider's
// default name the customer never changed (provider-default), or a name
// somebody chose (not-generic); n/a without a PTR name. In rules, "generic"
// stands for both generic kinds (kGenericPtrAliases).
enum class GenericPtr { dynamic, provider_default, not_generic, na };
inline constexpr std::array<std::string_view, 4> kGenericPtrWords{"dynamic", "provider-default",
                                                                  "not-generic", "n/a"};

// A HELO name in a large mail provider's domains (the providers map,
// policyd/checks/providers.hpp) is backed by a forward-confirmed PTR name of
// the same provider (verified), or is not although the PTR lookups were
// answered (forged), or could not be told because they were not
// (temperror); n/a when the HELO claims no listed provider.
enum class HeloProvider { verified, forged, temperror, na };
inline constexpr std::array<std::string_view, 4> kHeloProviderWords{"verified", "forged",
                                                                    "temperror", "n/a"};

// The PTR name's top-level domain is one the Public Suffix List's ICANN
// section knows (known) or not (unknown: "host.local", "mail.lan",
// "ip-10-0-0-1.ec2.internal"); n/a without a PTR name. The name is the one
// generic_ptr classifies.
enum class PtrTld { known, unknown, na };
inline constexpr std::array<std::string_view, 3> kPtrTldWords{"known", "unknown", "n/a"};

// Whether a HELO name without addresses has an MX record (Postfix's
// reject_unknown_helo_hostname counts "A or MX" as known): present, none,
// temperror; n/a when it was not asked, because the HELO is no FQDN or has
// addresses (helo_forward is then not none).
enum class HeloMx { present, none, temperror, na };
inline constexpr std::array<std::string_view, 4> kHeloMxWords{"present", "none", "temperror",
                                                              "n/a"};

// The [[dnsbl]] blocklists of one kind (policyd/checks/blocklists.hpp) on
// the client address, the verified PTR name's or the HELO's organisational
// domain: at least one lists it (listed; which and why in
// Facts::listings), none could be asked (temperror, when no list said
// listed and one failed), or none lists it (not-listed); n/a when no list
// of that kind is configured or there is no such name to ask about.
enum class DnsblResult { listed, not_listed, temperror, na };
inline constexpr std::array<std::string_view, 4> kDnsblResultWords{"listed", "not-listed",
                                                                   "temperror", "n/a"};

// DNSSEC status of the answers a fact rests on: secure only when every one
// validated, bogus when any failed validation (libunbound then answers
// SERVFAIL, so the fact itself is temperror), insecure otherwise
// (unsigned, not validated, or no answer).
enum class Dnssec { secure, insecure, bogus };
inline constexpr std::array<std::string_view, 3> kDnssecWords{"secure", "insecure", "bogus"};

// The words of each fact's values, indexed by the enum's value.
constexpr std::span<const std::string_view> fact_words(Iprev) {
    return kIprevWords;
}
constexpr std::span<const std::string_view> fact_words(HeloSyntax) {
    return kHeloSyntaxWords;
}
constexpr std::span<const std::string_view> fact_words(HeloLiteral) {
    return kHeloLiteralWords;
}
constexpr std::span<const std::string_view> fact_words(HeloLiteralForm) {
    return kHeloLiteralFormWords;
}
constexpr std::span<const std::string_view> fact_words(HeloMx) {
    return kHeloMxWords;
}
constexpr std::span<const std::string_view> fact_words(HeloForward) {
    return kHeloForwardWords;
}
constexpr std::span<const std::string_view> fact_words(Alignment) {
    return kAlignmentWords;
}
constexpr std::span<const std::string_view> fact_words(GenericPtr) {
    return kGenericPtrWords;
}
constexpr std::span<const std::string_view> fact_words(HeloProvider) {
    return kHeloProviderWords;
}
constexpr std::span<const std::string_view> fact_words(PtrTld) {
    return kPtrTldWords;
}
constexpr std::span<const std::string_view> fact_words(DnsblResult) {
    return kDnsblResultWords;
}
constexpr std::span<const std::string_view> fact_words(Dnssec) {
    return kDnssecWords;
}

template <typename Enum>
concept FactEnum = requires(Enum value) {
    fact_words(value);
};

// The word of a value ("org-domain"); "?" for a value outside the enum.
template <FactEnum Enum>
constexpr std::string_view to_string(Enum value) {
    const auto words = fact_words(value);
    const auto index = static_cast<std::size_t>(value);
    return index < words.size() ? words[index] : std::string_view("?");
}

// The value a word names (exactly, lower case as written above), or nullopt.
template <FactEnum Enum>
constexpr std::optional<Enum> parse_fact(std::string_view word) {
    const auto words = fact_words(Enum{});
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (words[i] == word) {
            return static_cast<Enum>(i);
        }
    }
    return std::nullopt;
}

struct Facts {
    Iprev iprev = Iprev::temperror;
    // PTR names as published (lower-cased, no trailing dot), at most the
    // configured number; verified_names are those that forward-confirmed.
    std::vector<std::string> ptr_names;
    std::vector<std::string> verified_names;
    HeloSyntax helo_syntax = HeloSyntax::missing;
    HeloLiteral helo_literal = HeloLiteral::na;
    HeloLiteralForm helo_literal_form = HeloLiteralForm::na;
    HeloForward helo_forward = HeloForward::na;
    HeloMx helo_mx = HeloMx::na;
    // HELO name vs the verified PTR names (policyd/checks/alignment.hpp); n/a
    // without a FQDN HELO or a verified PTR name.
    Alignment helo_ptr_alignment = Alignment::na;
    // The first verified PTR name (else the first PTR name) classified.
    GenericPtr generic_ptr = GenericPtr::na;
    // That same name's top-level domain.
    PtrTld ptr_tld = PtrTld::na;
    // A HELO name that claims a large mail provider, against the verified
    // PTR names.
    HeloProvider helo_provider = HeloProvider::na;
    DnsblResult client_dnsbl = DnsblResult::na;
    DnsblResult ptr_rhsbl = DnsblResult::na;
    DnsblResult helo_rhsbl = DnsblResult::na;
    // Every listing found, "NAME:LABEL" ([[dnsbl]] name, the return code's
    // meaning or address), in configuration order.
    std::vector<std::string> listings;
    // iprev: the PTR answer and the forward answers of the confirming name
    // (of every name when none confirms). helo: the HELO's A/AAAA answers.
    Dnssec iprev_dnssec = Dnssec::insecure;
    Dnssec helo_dnssec = Dnssec::insecure;
    // Within one SMTP session (same client address and port on one policy
    // connection) the HELO name differs from the one before. Set by the
    // session, not by DNS.
    bool helo_changed = false;
    // The assessment's time budget cut some lookups off (they count as
    // temperror above).
    bool budget_exhausted = false;
};

// A word that stands for several values of one fact in rule conditions
// only (a case file or a decision record always names one value).
struct FactAlias {
    std::string_view word;  // "generic"
    unsigned mask;          // bit i: the value with index i
};

template <typename Enum>
constexpr unsigned fact_bit(Enum value) {
    return 1U << static_cast<unsigned>(value);
}

inline constexpr std::array<FactAlias, 1> kGenericPtrAliases{
    FactAlias{"generic", fact_bit(GenericPtr::dynamic) | fact_bit(GenericPtr::provider_default)}};

// The PTR name that stands for the client: the first verified PTR name, else
// the first PTR name; empty without any. generic_ptr and ptr_tld classify
// it; {ptr}, the decision summary and Authentication-Results show it.
inline std::string_view representative_ptr(const Facts& facts) {
    if (!facts.verified_names.empty()) {
        return facts.verified_names.front();
    }
    return facts.ptr_names.empty() ? std::string_view() : std::string_view(facts.ptr_names.front());
}

// One enumerated fact, as every consumer sees it.
struct FactField {
    std::string_view name;                    // "helo_forward"
    std::span<const std::string_view> words;  // its values, in enum order
    std::uint8_t (*get)(const Facts&);        // the value's index
    void (*set)(Facts&, std::uint8_t);        // index < words.size()
    std::string_view help;                    // one line for --help-style listings
    std::span<const FactAlias> aliases;       // rule-condition shorthands
    // Needs a DNS answer; false for what the HELO text and the client address
    // alone tell (a table may decide on those without any lookup).
    bool from_dns = true;

    [[nodiscard]] std::string_view word(const Facts& facts) const {
        const std::uint8_t index = get(facts);
        return index < words.size() ? words[index] : std::string_view("?");
    }
    // The index of a word, or nullopt.
    [[nodiscard]] std::optional<std::uint8_t> parse(std::string_view text) const {
        for (std::size_t i = 0; i < words.size(); ++i) {
            if (words[i] == text) {
                return static_cast<std::uint8_t>(i);
            }
        }
        return std::nullopt;
    }
    // The values a rule-condition word stands for (one value's word, or an
    // alias), as a bit mask; nullopt for neither.
    [[nodiscard]] std::optional<unsigned> parse_mask(std::string_view text) const {
        if (const auto index = parse(text)) {
            return 1U << *index;
        }
        for (const FactAlias& alias : aliases) {
            if (alias.word == text) {
                return alias.mask;
            }
        }
        return std::nullopt;
    }
};

enum class FactOrigin { dns, text };

template <auto Member>
constexpr FactField fact_field(std::string_view name, std::string_view help,
                               std::span<const FactAlias> aliases = {},
                               FactOrigin origin = FactOrigin::dns) {
    using Enum = std::remove_cvref_t<decltype(std::declval<Facts&>().*Member)>;
    return FactField{
        name,
        fact_words(Enum{}),
        [](const Facts& facts) { return static_cast<std::uint8_t>(facts.*Member); },
        [](Facts& facts, std::uint8_t index) { facts.*Member = static_cast<Enum>(index); },
        help,
        aliases,
        origin == FactOrigin::dns};
}

// Every enumerated fact, in the order rules try them (cheap first: they
// are all one bit test), the decision record logs them and explain lists them.
inline constexpr std::array<FactField, 15> kFactFields{
    fact_field<&Facts::iprev>("iprev", "PTR and forward confirmation (RFC 8601 iprev)"),
    fact_field<&Facts::helo_syntax>("helo_syntax", "the shape of the HELO/EHLO argument", {},
                                    FactOrigin::text),
    fact_field<&Facts::helo_literal>(
        "helo_literal", "an address-literal HELO compared with the client", {}, FactOrigin::text),
    fact_field<&Facts::helo_forward>("helo_forward",
                                     "the HELO name's A/AAAA records hold the client"),
    fact_field<&Facts::helo_ptr_alignment>("helo_ptr_alignment",
                                           "the HELO name vs the verified PTR names"),
    fact_field<&Facts::generic_ptr>(
        "generic_ptr", "the PTR name is a dynamic-pool name, a provider's default or chosen",
        kGenericPtrAliases),
    fact_field<&Facts::iprev_dnssec>("iprev_dnssec", "DNSSEC status of the iprev answers"),
    fact_field<&Facts::helo_dnssec>("helo_dnssec", "DNSSEC status of the HELO's answers"),
    fact_field<&Facts::helo_literal_form>(
        "helo_literal_form", "an address-literal HELO's form: IPv4, tagged IPv6 or untagged IPv6",
        {}, FactOrigin::text),
    fact_field<&Facts::helo_mx>("helo_mx", "a HELO name without addresses has an MX record"),
    fact_field<&Facts::helo_provider>(
        "helo_provider", "a HELO claiming a large mail provider has that provider's verified PTR"),
    fact_field<&Facts::ptr_tld>("ptr_tld", "the PTR name's top-level domain exists"),
    fact_field<&Facts::client_dnsbl>("client_dnsbl",
                                     "the client address on a [[dnsbl]] check = \"client\" list"),
    fact_field<&Facts::ptr_rhsbl>(
        "ptr_rhsbl", "the verified PTR name's domain on a [[dnsbl]] check = \"ptr\" list"),
    fact_field<&Facts::helo_rhsbl>("helo_rhsbl",
                                   "the HELO's domain on a [[dnsbl]] check = \"helo\" list"),
};

// The fact of that name, or null.
constexpr const FactField* find_fact(std::string_view name) {
    for (const auto& field : kFactFields) {
        if (field.name == name) {
            return &field;
        }
    }
    return nullptr;
}

}  // namespace policyd
