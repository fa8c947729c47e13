// Shared pieces of the benchmark tools (rdns-bench, bench-ceiling,
// bench-unbound): endpoint parsing restricted to loopback, command-line
// helpers, latency summaries and the addresses / names of the benchmark
// clients.
//
// Contract:
// - parse_loopback_endpoint() accepts only 127.0.0.0/8, ::1 and unix:PATH;
//   the benchmark never sends traffic anywhere else. Anything else throws.
// - Benchmark clients are IPv4 addresses base + index (198.18.0.0/15, RFC
//   2544); client_name() is the name run-bench.py publishes in nsd for both
//   the PTR and the confirming A record.
// - Everything here is start-up or reporting code: it may throw.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// A target or listening endpoint: TCP on loopback, or a unix socket.
struct Endpoint {
    bool is_unix = false;
    std::string path;                     // unix socket path
    boost::asio::ip::tcp::endpoint inet;  // loopback address and port
};

inline bool is_loopback(const boost::asio::ip::address& address) {
    return address.is_loopback();  // 127.0.0.0/8 or ::1
}

// "unix:/path", "inet:127.0.0.1:PORT", "127.0.0.1:PORT", "inet:[::1]:PORT".
inline Endpoint parse_loopback_endpoint(std::string_view text) {
    Endpoint endpoint;
    if (text.starts_with("unix:")) {
        endpoint.is_unix = true;
        endpoint.path = std::string(text.substr(5));
        if (endpoint.path.empty() ||
            endpoint.path.size() >= 108) {  // sizeof(sockaddr_un::sun_path)
            throw std::invalid_argument("unix socket path is empty or too long");
        }
        return endpoint;
    }
    if (text.starts_with("inet:")) {
        text.remove_prefix(5);
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        throw std::invalid_argument("endpoint needs HOST:PORT or unix:PATH");
    }
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
        throw std::invalid_argument("bad port in endpoint");
    }
    boost::system::error_code parse_error;
    const auto address = boost::asio::ip::make_address(std::string(host), parse_error);
    if (parse_error) {
        throw std::invalid_argument("endpoint host must be an IP address");
    }
    if (!is_loopback(address)) {
        throw std::invalid_argument(
            "refusing a non-loopback endpoint: the benchmark stays on 127.0.0.1/::1");
    }
    endpoint.inet = boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
    return endpoint;
}

inline boost::asio::generic::stream_protocol::endpoint to_generic(const Endpoint& endpoint) {
    if (endpoint.is_unix) {
        return boost::asio::local::stream_protocol::endpoint(endpoint.path);
    }
    return endpoint.inet;
}

// Whole-number option values with bounds; throws with the option's name.
inline std::uint64_t parse_count(std::string_view name, std::string_view text, std::uint64_t min,
                                 std::uint64_t max) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        throw std::invalid_argument(std::string(name) + " needs a whole number in [" +
                                    std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return value;
}

inline double parse_seconds(std::string_view name, std::string_view text, double max) {
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(std::string(text), &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !(value > 0) || value > max) {
        throw std::invalid_argument(std::string(name) + " needs seconds in (0, " +
                                    std::to_string(max) + "]");
    }
    return value;
}

// Benchmark client number `index`: base + index, host byte order.
inline std::uint32_t parse_ipv4(std::string_view text) {
    in_addr address{};
    if (inet_pton(AF_INET, std::string(text).c_str(), &address) != 1) {
        throw std::invalid_argument("not an IPv4 address: " + std::string(text));
    }
    return ntohl(address.s_addr);
}

inline void append_ipv4(std::string& out, std::uint32_t address, char separator) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        char digits[4];
        const auto result =
            std::to_chars(digits, digits + sizeof digits, (address >> shift) & 0xffU);
        out.append(digits, result.ptr);
        if (shift != 0) {
            out.push_back(separator);
        }
    }
}

inline std::string ipv4_text(std::uint32_t address) {
    std::string out;
    append_ipv4(out, address, '.');
    return out;
}

// c-198-18-1-2.bench.test: the PTR of 198.18.1.2 and the name whose A record
// confirms it (run-bench.py writes both).
inline void append_client_name(std::string& out, std::uint32_t address) {
    out.append("c-");
    append_ipv4(out, address, '-');
    out.append(".bench.test");
}

// Latency summary over microsecond samples (sorted in place).
struct Summary {
    double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

inline Summary summarize(std::vector<std::uint32_t>& micros) {
    Summary summary;
    if (micros.empty()) {
        return summary;
    }
    std::sort(micros.begin(), micros.end());
    const auto at = [&](double q) {
        const auto rank =
            static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1) + 0.5);
        return static_cast<double>(micros[std::min(rank, micros.size() - 1)]) / 1000.0;
    };
    summary.p50_ms = at(0.50);
    summary.p90_ms = at(0.90);
    summary.p99_ms = at(0.99);
    summary.max_ms = static_cast<double>(micros.back()) / 1000.0;
    return summary;
}

}  // namespace bench
