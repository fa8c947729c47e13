#include "resolver/reverse_name.hpp"

#include <cstddef>

namespace resolver {
namespace {

void append_decimal(std::string& out, unsigned value) {
    if (value >= 100) {
        out.push_back(static_cast<char>('0' + value / 100));
    }
    if (value >= 10) {
        out.push_back(static_cast<char>('0' + (value / 10) % 10));
    }
    out.push_back(static_cast<char>('0' + value % 10));
}

}  // namespace

std::string reverse_name(const boost::asio::ip::address& address) {
    std::string out;
    if (address.is_v4() || address.to_v6().is_v4_mapped()) {
        const auto v4 = address.is_v4() ? address.to_v4()
                                        : boost::asio::ip::make_address_v4(
                                              boost::asio::ip::v4_mapped, address.to_v6());
        const auto bytes = v4.to_bytes();
        out.reserve(29);  // "255.255.255.255.in-addr.arpa"
        for (std::size_t i = bytes.size(); i-- > 0;) {
            append_decimal(out, bytes[i]);
            out.push_back('.');
        }
        out.append("in-addr.arpa");
        return out;
    }
    constexpr std::string_view kHex = "0123456789abcdef";
    const auto bytes = address.to_v6().to_bytes();
    out.reserve(72);  // 32 nibbles and dots, then "ip6.arpa"
    for (std::size_t i = bytes.size(); i-- > 0;) {
        out.push_back(kHex[bytes[i] & 0x0fU]);
        out.push_back('.');
        out.push_back(kHex[bytes[i] >> 4U]);
        out.push_back('.');
    }
    out.append("ip6.arpa");
    return out;
}

}  // namespace resolver
