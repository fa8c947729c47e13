#include "policyd/base/address.hpp"

#include <algorithm>
#include <string>

#include "policyd/base/ascii.hpp"

namespace policyd {

std::optional<IpAddress> parse_ip(std::string_view text) {
    // make_address accepts "fe80::1%eth0" scope ids; a client address or a DNS
    // answer never carries one, so refuse it rather than compare it.
    if (text.empty() || text.size() > 64 || text.find('%') != std::string_view::npos) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    const IpAddress address = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) {
        return std::nullopt;
    }
    return normalise(address);
}

IpAddress normalise(const IpAddress& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
    }
    return address;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (const char c : text) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

bool same_address(const IpAddress& a, const IpAddress& b) {
    return normalise(a) == normalise(b);
}

bool is_internal(const IpAddress& address) {
    const IpAddress plain = normalise(address);
    if (plain.is_v4()) {
        const std::uint32_t v4 = plain.to_v4().to_uint();
        const auto in = [v4](std::uint32_t network, int bits) {
            return (v4 >> (32 - bits)) == (network >> (32 - bits));
        };
        return in(0x7f000000U, 8) || in(0x0a000000U, 8) || in(0xac100000U, 12) ||
               in(0xc0a80000U, 16) || in(0x64400000U, 10) || in(0xa9fe0000U, 16) || v4 == 0;
    }
    const auto bytes = plain.to_v6().to_bytes();
    return plain.is_loopback() || plain.is_unspecified() || (bytes[0] & 0xfeU) == 0xfcU ||
           (bytes[0] == 0xfeU && (bytes[1] & 0xc0U) == 0x80U);
}

bool same_network(const IpAddress& a, const IpAddress& b) {
    const IpAddress x = normalise(a);
    const IpAddress y = normalise(b);
    if (x.is_v4() && y.is_v4()) {
        return (x.to_v4().to_uint() >> 8) == (y.to_v4().to_uint() >> 8);
    }
    if (x.is_v6() && y.is_v6()) {
        const auto p = x.to_v6().to_bytes();
        const auto q = y.to_v6().to_bytes();
        return std::equal(p.begin(), p.begin() + 8, q.begin());
    }
    return false;
}

}  // namespace policyd
