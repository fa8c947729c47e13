#include "policyd/base/address.hpp"

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

}  // namespace policyd
