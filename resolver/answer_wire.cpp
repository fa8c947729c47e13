// Reading libunbound's answers into an Answer (resolver/resolver.hpp).
//
// Everything in a ub_result came off the network: the records, the answer
// packet (for the SOA of a negative answer) and the validator's reason text
// are hostile data. Every read here is bounds-checked, names that could
// never be host names are dropped, and at most max_records records are kept.
// Pure functions, so the fuzz target (tests/fuzz/fuzz_dns_answer.cpp) can
// feed them whatever a hostile server could send.
#include "resolver/answer_wire.hpp"

#include <unbound.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"

namespace resolver {

namespace {

constexpr int kRcodeNoError = 0;
constexpr int kRcodeNxDomain = 3;
// RFC 1035 limits: a wire-format name is at most 255 octets, labels as in
// policyd/base/dns_name.hpp.
constexpr std::size_t kMaxWireName = 255;
using policyd::kMaxLabel;

std::string rcode_name(int rcode) {
    static constexpr std::array<std::string_view, 11> names = {
        "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
    if (rcode >= 0 && static_cast<std::size_t>(rcode) < names.size()) {
        return std::string(names[static_cast<std::size_t>(rcode)]);
    }
    return "RCODE" + std::to_string(rcode);
}

std::uint16_t read16(const unsigned char* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t read32(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

// Moves pos past a wire name (possibly ending in a compression pointer) that
// must end before `end`; false when it is malformed.
bool skip_name(const unsigned char* packet, std::size_t end, std::size_t& pos) {
    for (std::size_t labels = 0; labels <= kMaxWireName / 2; ++labels) {
        if (pos >= end) {
            return false;
        }
        const unsigned label = packet[pos];
        if (label == 0) {
            ++pos;
            return true;
        }
        if ((label & 0xC0U) == 0xC0U) {
            pos += 2;
            return pos <= end;
        }
        if ((label & 0xC0U) != 0) {
            return false;
        }
        pos += 1 + label;
    }
    return false;
}

// why_bogus quotes names and records from the answer: hostile data headed
// for the log, so bounded and reduced to printable ASCII.
constexpr std::size_t kMaxWhyBogus = 256;

std::string printable_prefix(std::string_view text, std::size_t limit) {
    std::string out(text.substr(0, limit));
    std::replace_if(
        out.begin(), out.end(), [](unsigned char c) { return c < 0x20 || c >= 0x7f; }, '?');
    return out;
}

Answer convert_result(int err, const ub_result* result, RrType type, std::size_t max_records) {
    if (err != 0 || result == nullptr) {
        return make_error(ub_strerror(err != 0 ? err : UB_SERVFAIL));
    }
    Answer answer;
    answer.rcode = result->rcode;
    answer.ttl = result->ttl > 0 ? static_cast<std::uint32_t>(result->ttl) : 0;
    answer.secure = result->secure != 0;
    answer.bogus = result->bogus != 0;
    if (result->canonname != nullptr) {
        answer.canonical_name = policyd::normalise_name(result->canonname);
    } else if (result->qname != nullptr) {
        answer.canonical_name = policyd::normalise_name(result->qname);
    }
    if (answer.bogus) {
        // libunbound hands back the data that failed validation with the
        // rcode the server sent (NOERROR, NXDOMAIN): none of it may be used.
        answer.status = Status::temperror;
        answer.error = "DNSSEC bogus";
        if (result->why_bogus != nullptr && *result->why_bogus != '\0') {
            answer.error += ": " + printable_prefix(result->why_bogus, kMaxWhyBogus);
        }
        return answer;
    }
    if (result->rcode == kRcodeNxDomain) {
        answer.status = Status::nxdomain;
        answer.negative_ttl = negative_ttl_of(result->answer_packet, result->answer_len);
        return answer;
    }
    if (result->rcode != kRcodeNoError) {
        answer.status = Status::temperror;
        answer.error = rcode_name(result->rcode);
        return answer;
    }
    // MX exchanges with their preference, put in order (lowest first) below.
    std::vector<std::pair<std::uint16_t, std::string>> exchanges;
    if (result->havedata != 0 && result->data != nullptr && result->len != nullptr) {
        for (std::size_t i = 0; result->data[i] != nullptr; ++i) {
            if (answer.names.size() + answer.addresses.size() >= max_records) {
                break;
            }
            const auto* bytes = reinterpret_cast<const unsigned char*>(result->data[i]);
            const int raw_len = result->len[i];
            if (raw_len <= 0) {
                continue;
            }
            const auto len = static_cast<std::size_t>(raw_len);
            switch (type) {
                case RrType::ptr: {
                    std::string name = decode_wire_name(bytes, len);
                    if (!name.empty()) {
                        answer.names.push_back(std::move(name));
                    }
                    break;
                }
                case RrType::mx: {
                    // RFC 1035 3.3.9: a 16-bit preference, then the exchange.
                    constexpr std::size_t kPreference = 2;
                    if (len > kPreference) {
                        std::string name = decode_wire_name(bytes + kPreference, len - kPreference);
                        if (!name.empty()) {
                            const auto preference =
                                static_cast<std::uint16_t>((bytes[0] << 8U) | bytes[1]);
                            exchanges.emplace_back(preference, name);
                            answer.names.push_back(std::move(name));
                        }
                    }
                    break;
                }
                case RrType::a:
                    if (len == 4) {
                        boost::asio::ip::address_v4::bytes_type b{};
                        std::copy_n(bytes, b.size(), b.begin());
                        answer.addresses.emplace_back(boost::asio::ip::address_v4(b));
                    }
                    break;
                case RrType::aaaa:
                    if (len == 16) {
                        boost::asio::ip::address_v6::bytes_type b{};
                        std::copy_n(bytes, b.size(), b.begin());
                        answer.addresses.emplace_back(boost::asio::ip::address_v6(b));
                    }
                    break;
            }
        }
    }
    // RFC 5321 5.1: the lowest preference is tried first; equal ones keep
    // the order they came in (the resolver's own shuffle).
    if (!exchanges.empty()) {
        std::stable_sort(exchanges.begin(), exchanges.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t i = 0; i < exchanges.size(); ++i) {
            answer.names[i] = std::move(exchanges[i].second);
        }
    }
    // Data that was all malformed is reported as "no usable record", not as an
    // ok answer with nothing in it, which a caller could take for a pass.
    answer.status = answer.names.empty() && answer.addresses.empty() ? Status::nodata : Status::ok;
    if (answer.status == Status::nodata) {
        answer.negative_ttl = negative_ttl_of(result->answer_packet, result->answer_len);
    }
    return answer;
}

}  // namespace

// Decodes an uncompressed wire-format name (the whole rdata) into dotted,
// lower-case text without the final dot. Returns "" (record skipped) for
// malformed data, a compression pointer, the root name, or a label with a
// byte that no DNS name in text form has (policyd::is_dns_name: letters,
// digits, '-', '_'). Such a PTR target can never be a host name, and every
// consumer of PTR names relies on that: a name like "x);iprev=pass.evil"
// would otherwise close the comment of our Authentication-Results header
// and append a forged result, or reach the rule table and the log.
std::string decode_wire_name(const unsigned char* data, std::size_t len) {
    if (data == nullptr || len == 0 || len > kMaxWireName) {
        return {};
    }
    std::string out;
    std::size_t pos = 0;
    while (pos < len) {
        const std::size_t label = data[pos];
        ++pos;
        if (label == 0) {
            // The root label must end the rdata exactly.
            return pos == len ? out : std::string();
        }
        if (label > kMaxLabel || label > len - pos) {
            return {};  // compression pointer (0xC0) or extended label, or truncated
        }
        if (!out.empty()) {
            out.push_back('.');
        }
        for (std::size_t i = 0; i < label; ++i) {
            const unsigned char c = data[pos + i];
            const char ch = static_cast<char>(c);
            if (!(policyd::is_alpha(ch) || policyd::is_digit(ch) || ch == '-' || ch == '_')) {
                return {};
            }
            out.push_back(policyd::ascii_lower(static_cast<char>(c)));
        }
        pos += label;
    }
    return {};  // no root label
}

// RFC 2308 section 5: a negative answer lives for min(SOA TTL, SOA MINIMUM)
// of the SOA in the authority section. 0 when the packet is malformed or has
// no SOA there. Every read is bounds-checked: the packet is hostile data.
std::uint32_t negative_ttl_of(const void* data, int data_len) {
    constexpr std::size_t kHeader = 12;
    constexpr std::size_t kRrFixed = 10;  // type, class, TTL, rdlength
    constexpr std::uint16_t kTypeSoa = 6;
    constexpr std::size_t kSoaNumbers = 20;        // serial, refresh, retry, expire, minimum
    constexpr std::uint32_t kMaxTtl = 0x7fffffff;  // RFC 2181 section 8: larger means 0
    if (data == nullptr || data_len < static_cast<int>(kHeader)) {
        return 0;
    }
    const auto* packet = static_cast<const unsigned char*>(data);
    const auto len = static_cast<std::size_t>(data_len);
    std::size_t pos = kHeader;
    for (unsigned i = 0, n = read16(packet + 4); i < n; ++i) {
        if (!skip_name(packet, len, pos) || len - pos < 4) {
            return 0;
        }
        pos += 4;  // qtype, qclass
    }
    const unsigned answers = read16(packet + 6);
    const unsigned authority = read16(packet + 8);
    for (unsigned i = 0; i < answers + authority; ++i) {
        if (!skip_name(packet, len, pos) || len - pos < kRrFixed) {
            return 0;
        }
        const std::uint16_t type = read16(packet + pos);
        const std::uint32_t ttl = read32(packet + pos + 4);
        const std::size_t rdlength = read16(packet + pos + 8);
        pos += kRrFixed;
        if (len - pos < rdlength) {
            return 0;
        }
        const std::size_t rdata_end = pos + rdlength;
        if (i >= answers && type == kTypeSoa) {
            std::size_t at = pos;
            const bool mname = skip_name(packet, rdata_end, at);
            const bool rname = mname && skip_name(packet, rdata_end, at);
            if (!rname || rdata_end - at < kSoaNumbers) {
                return 0;
            }
            const std::uint32_t minimum = read32(packet + at + 16);
            const std::uint32_t lowest = std::min(ttl, minimum);
            return lowest > kMaxTtl ? 0 : lowest;
        }
        pos = rdata_end;
    }
    return 0;
}

Answer make_error(std::string error) {
    Answer answer;
    answer.status = Status::temperror;
    answer.error = std::move(error);
    return answer;
}

// The answer with the lifetime its TTLs allow (Answer::lifetime).
Answer convert(int err, const ub_result* result, RrType type, std::size_t max_records) {
    Answer answer = convert_result(err, result, type, max_records);
    switch (answer.status) {
        case Status::ok:
            answer.lifetime = answer.ttl;
            break;
        case Status::nxdomain:
        case Status::nodata:
            answer.lifetime = answer.negative_ttl != 0 ? answer.negative_ttl : answer.ttl;
            break;
        case Status::temperror:
            answer.lifetime = 0;
            break;
    }
    return answer;
}

}  // namespace resolver
