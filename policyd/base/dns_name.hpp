// DNS names: their limits, the one validator, and the comparison form.
//
// Contract: pure functions, any thread, no exceptions. A name in text form
// is at most kMaxName characters without its root dot, in labels of 1 to
// kMaxLabel characters (RFC 1035 §2.3.4). Case folds in ASCII only
// (policyd/base/ascii.hpp). Stricter shapes (a HELO's RFC 5321 Domain, the
// hyphen rules) are the caller's, on top of is_dns_name().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace policyd {

inline constexpr std::size_t kMaxName = 253;
inline constexpr std::size_t kMaxLabel = 63;

// One trailing (root) dot removed.
constexpr std::string_view strip_root_dot(std::string_view name) {
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    return name;
}

// A host or domain name as DNS carries it in text: 1..kMaxName bytes of
// labels of 1..kMaxLabel ASCII letters, digits, '-' or '_', separated by
// single dots; no root dot (strip it first if it may be there). IDNs pass
// only in their punycode (xn--) form; raw UTF-8 does not.
bool is_dns_name(std::string_view name);

// Lower-cased, one trailing dot removed: the form names are compared and
// logged in ("Mail.Example.COM." -> "mail.example.com").
std::string normalise_name(std::string_view name);

// Equal ignoring ASCII case and one trailing dot on either side. Does not
// allocate.
bool names_equal(std::string_view a, std::string_view b);

}  // namespace policyd
