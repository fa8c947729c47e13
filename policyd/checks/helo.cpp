#include "policyd/checks/helo.hpp"

#include <array>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <cstddef>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"

namespace policyd {
namespace {

// RFC 1035 §2.3.4 / RFC 5321 §4.5.3.1.2: policyd/base/dns_name.hpp's kMaxName
// and kMaxLabel bound a HELO name too.

// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is 45 characters; anything
// longer cannot be an IPv6 address, which bounds the stack copy below.
constexpr std::size_t kMaxIpv6Text = 45;

// Exactly four RFC 5321 Snum (1*3DIGIT, value 0-255) separated by dots.
// Hand-written rather than inet_pton/inet_aton: inet_aton accepts "1.2.3",
// hex and octal, and inet_pton rejects leading zeros that RFC 5321 allows.
// Leading zeros are read as decimal, as RFC 5321 says.
std::optional<IpAddress> parse_dotted_quad(std::string_view text) {
    boost::asio::ip::address_v4::bytes_type bytes{};
    std::size_t octet = 0;
    std::size_t pos = 0;
    for (;;) {
        unsigned value = 0;
        std::size_t digits = 0;
        while (pos < text.size() && is_digit(text[pos])) {
            if (++digits > 3) {
                return std::nullopt;
            }
            value = value * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        if (digits == 0 || value > 255) {
            return std::nullopt;
        }
        bytes[octet] = static_cast<unsigned char>(value);
        ++octet;
        if (octet == 4) {
            break;
        }
        if (pos >= text.size() || text[pos] != '.') {
            return std::nullopt;
        }
        ++pos;
    }
    if (pos != text.size()) {
        return std::nullopt;
    }
    return IpAddress(boost::asio::ip::address_v4(bytes));
}

// Any IPv6 text form inet_pton accepts (compressed, embedded IPv4 tail), but
// no zone id: a HELO or a client address never carries one, and Boost would
// otherwise accept "fe80::1%eth0". Copied to a bounded stack buffer for the
// terminating NUL, so no allocation.
std::optional<IpAddress> parse_ipv6(std::string_view text) {
    if (text.empty() || text.size() > kMaxIpv6Text) {
        return std::nullopt;
    }
    std::array<char, kMaxIpv6Text + 1> buffer{};
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        // Also keeps NUL out, which would silently truncate the C string.
        if (!(is_hex_digit(c) || c == ':' || c == '.')) {
            return std::nullopt;
        }
        buffer[i] = c;
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address_v6(buffer.data(), ec);
    if (ec) {
        return std::nullopt;
    }
    return IpAddress(address);
}

bool starts_with_ipv6_tag(std::string_view text) {
    return istarts_with(text, "ipv6:");
}

// RFC 5321 §2.3.5 / RFC 1123 §2.1 host name: LDH labels. A trailing dot is
// refused like Postfix's valid_hostname() refuses it: a HELO names a host, not
// an absolute DNS name, and real MTAs do not send one.
HeloSyntax classify_name(std::string_view name) {
    if (name.size() > kMaxName) {
        return HeloSyntax::invalid;
    }
    std::size_t labels = 0;
    std::size_t label_start = 0;
    bool label_all_digits = true;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '.') {
            const std::size_t length = i - label_start;
            // Empty label: leading dot, "a..b" or trailing dot.
            if (length == 0 || length > kMaxLabel) {
                return HeloSyntax::invalid;
            }
            if (name[label_start] == '-' || name[i - 1] == '-') {
                return HeloSyntax::invalid;
            }
            ++labels;
            if (i == name.size()) {
                break;
            }
            label_start = i + 1;
            label_all_digits = true;
            continue;
        }
        const char c = name[i];
        if (is_digit(c)) {
            continue;
        }
        if (is_alpha(c) || c == '-') {
            label_all_digits = false;
            continue;
        }
        return HeloSyntax::invalid;  // '_', space, control, non-ASCII, ...
    }
    // A numeric last label is no host name: "1.2.3", "host.123",
    // "1.2.3.4.5" and a lone "123" are addresses gone wrong.
    if (label_all_digits) {
        return HeloSyntax::invalid;
    }
    return labels >= 2 ? HeloSyntax::fqdn : HeloSyntax::non_fqdn;
}

}  // namespace

std::optional<IpAddress> parse_address_literal(std::string_view helo) {
    if (helo.size() < 2 || helo.front() != '[' || helo.back() != ']') {
        return std::nullopt;
    }
    const std::string_view inner = helo.substr(1, helo.size() - 2);
    if (starts_with_ipv6_tag(inner)) {
        const auto address = parse_ipv6(inner.substr(5));
        if (!address) {
            return std::nullopt;
        }
        return normalise(*address);
    }
    // ':' is in every IPv6 text form and in no dotted quad.
    if (inner.find(':') != std::string_view::npos) {
        const auto address = parse_ipv6(inner);
        if (!address) {
            return std::nullopt;
        }
        return normalise(*address);
    }
    return parse_dotted_quad(inner);
}

HeloLiteralForm helo_literal_form(std::string_view helo) {
    if (!parse_address_literal(helo)) {
        return HeloLiteralForm::na;
    }
    const std::string_view inner = helo.substr(1, helo.size() - 2);
    if (starts_with_ipv6_tag(inner)) {
        return HeloLiteralForm::ipv6;
    }
    return inner.find(':') != std::string_view::npos ? HeloLiteralForm::ipv6_untagged
                                                     : HeloLiteralForm::ipv4;
}

HeloSyntax classify_helo(std::string_view helo) {
    if (helo.empty()) {
        return HeloSyntax::missing;
    }
    if (helo.front() == '[') {
        return parse_address_literal(helo) ? HeloSyntax::address_literal : HeloSyntax::invalid;
    }
    if (parse_dotted_quad(helo)) {
        return HeloSyntax::bare_ip;
    }
    // ':' never occurs in a host name, so an IPv6 address is the only hope.
    if (helo.find(':') != std::string_view::npos) {
        return parse_ipv6(helo) ? HeloSyntax::bare_ip : HeloSyntax::invalid;
    }
    return classify_name(helo);
}

HeloLiteral match_helo_literal(std::string_view helo, const IpAddress& client) {
    const auto address = parse_address_literal(helo);
    if (!address) {
        return HeloLiteral::na;
    }
    if (same_address(*address, client)) {
        return HeloLiteral::match;
    }
    if (same_network(*address, client)) {
        return HeloLiteral::same_network;
    }
    if (is_internal(*address) && !is_internal(client)) {
        return HeloLiteral::private_address;
    }
    return HeloLiteral::mismatch;
}

}  // namespace policyd
