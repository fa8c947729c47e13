#include "policyd/checks/facts.hpp"

#include <array>
#include <utility>

namespace policyd {
namespace {

template <typename Enum, std::size_t N>
using Words = std::array<std::pair<Enum, std::string_view>, N>;

constexpr Words<Iprev, 4> kIprev{{
    {Iprev::pass, "pass"},
    {Iprev::fail, "fail"},
    {Iprev::permerror, "permerror"},
    {Iprev::temperror, "temperror"},
}};

constexpr Words<HeloSyntax, 6> kHeloSyntax{{
    {HeloSyntax::fqdn, "fqdn"},
    {HeloSyntax::non_fqdn, "non-fqdn"},
    {HeloSyntax::invalid, "invalid"},
    {HeloSyntax::address_literal, "address-literal"},
    {HeloSyntax::bare_ip, "bare-ip"},
    {HeloSyntax::missing, "missing"},
}};

constexpr Words<HeloLiteral, 3> kHeloLiteral{{
    {HeloLiteral::match, "match"},
    {HeloLiteral::mismatch, "mismatch"},
    {HeloLiteral::na, "n/a"},
}};

constexpr Words<HeloForward, 5> kHeloForward{{
    {HeloForward::pass, "pass"},
    {HeloForward::fail, "fail"},
    {HeloForward::none, "none"},
    {HeloForward::temperror, "temperror"},
    {HeloForward::na, "n/a"},
}};

template <typename Enum, std::size_t N>
std::string_view word_of(const Words<Enum, N>& words, Enum value) {
    for (const auto& [candidate, word] : words) {
        if (candidate == value) {
            return word;
        }
    }
    return "?";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const Words<Enum, N>& words, std::string_view word) {
    for (const auto& [value, candidate] : words) {
        if (candidate == word) {
            return value;
        }
    }
    return std::nullopt;
}

constexpr Words<Generic, 3> kGeneric{{
    {Generic::generic, "generic"},
    {Generic::not_generic, "not-generic"},
    {Generic::na, "n/a"},
}};

constexpr Words<Dnssec, 3> kDnssec{{
    {Dnssec::secure, "secure"},
    {Dnssec::insecure, "insecure"},
    {Dnssec::bogus, "bogus"},
}};

}  // namespace

std::string_view to_string(Dnssec value) {
    return word_of(kDnssec, value);
}
std::optional<Dnssec> parse_dnssec(std::string_view word) {
    return value_of(kDnssec, word);
}
std::string_view to_string(Generic value) {
    return word_of(kGeneric, value);
}
std::optional<Generic> parse_generic(std::string_view word) {
    return value_of(kGeneric, word);
}
std::string_view to_string(Iprev value) {
    return word_of(kIprev, value);
}
std::string_view to_string(HeloSyntax value) {
    return word_of(kHeloSyntax, value);
}
std::string_view to_string(HeloLiteral value) {
    return word_of(kHeloLiteral, value);
}
std::string_view to_string(HeloForward value) {
    return word_of(kHeloForward, value);
}

std::optional<Iprev> parse_iprev(std::string_view word) {
    return value_of(kIprev, word);
}
std::optional<HeloSyntax> parse_helo_syntax(std::string_view word) {
    return value_of(kHeloSyntax, word);
}
std::optional<HeloLiteral> parse_helo_literal(std::string_view word) {
    return value_of(kHeloLiteral, word);
}
std::optional<HeloForward> parse_helo_forward(std::string_view word) {
    return value_of(kHeloForward, word);
}

}  // namespace policyd
