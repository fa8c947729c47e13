// ASCII: the one home of character classes and case folding.
//
// Contract: pure, constexpr where it can be, any thread, no allocation
// except to_lower(). Only the 26 ASCII letters fold (RFC 4343 for DNS
// names, and what Postfix does for protocol words); every other byte,
// non-ASCII included, stays as it is, so hostile data is never altered by
// a locale (std::tolower is never used in this project).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace policyd {

constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_hex_digit(char c) {
    return is_digit(c) || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f');
}
// Bytes below 0x20 and DEL.
constexpr bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

// Equal ignoring ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

// `text` starts with `prefix`, ignoring ASCII case.
constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string to_lower(std::string_view text);

// FNV-1a over the lower-cased bytes, and the equality that goes with it:
// for hash sets that are searched with a request's string_view as it came,
// neither copied nor lower-cased.
struct IHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
        std::uint64_t hash = 14695981039346656037ULL;
        for (const char c : text) {
            hash = (hash ^ static_cast<unsigned char>(ascii_lower(c))) * 1099511628211ULL;
        }
        return static_cast<std::size_t>(hash);
    }
};
struct IEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return iequals(a, b); }
};

}  // namespace policyd
