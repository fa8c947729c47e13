// Reading DNS answers (resolver/answer_wire.hpp): libunbound's result, with
// its records, the whole answer packet (for a negative answer's SOA TTL),
// the canonical name and the validator's reason, all as a hostile server
// could shape them. The input fills a ub_result: flags, the rcode, up to 40
// records, the reason and canonical name texts, then the packet.
//
// Invariants: an ok answer holds at least one and at most max_records
// names or addresses of the asked type; names are lower-case DNS names
// (policyd::is_dns_name: nothing that could end a header comment); a
// temperror says why and may not be reused (lifetime 0); an error text is
// printable; a negative TTL never exceeds 2^31 - 1.
#include <unbound.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "policyd/base/dns_name.hpp"
#include "resolver/answer_wire.hpp"

namespace {

constexpr std::size_t kMaxRecords = 8;

void check_name(const std::string& name) {
    fuzz::require(policyd::is_dns_name(name), "a name is a DNS name");
    for (const char c : name) {
        fuzz::require(!(c >= 'A' && c <= 'Z'), "a name is lower case");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input input(data, size);
    static constexpr std::array<resolver::RrType, 4> kTypes{
        resolver::RrType::a, resolver::RrType::aaaa, resolver::RrType::ptr, resolver::RrType::mx};
    const resolver::RrType type = kTypes[input.byte() % kTypes.size()];
    // Flags: 0x01 a canonical name, 0x10 no result at all, 0x20 havedata,
    // 0x40 secure (with 0x01: bogus), 0x80 a libunbound error. Then the
    // rcode, 0..31, so the names past NOTZONE are reached too.
    const std::uint8_t flags = input.byte();
    const int rcode = input.byte() & 0x1f;
    const int err = (flags & 0x80U) != 0 ? UB_SERVFAIL : 0;

    std::vector<std::string> records(input.byte() % 41);
    for (auto& record : records) {
        record = std::string(input.piece());
    }
    std::vector<char*> record_data;
    std::vector<int> record_len;
    for (auto& record : records) {
        record_data.push_back(record.data());
        record_len.push_back(static_cast<int>(record.size()));
    }
    record_data.push_back(nullptr);
    record_len.push_back(0);
    std::string why_bogus(input.piece());
    std::string canonname(input.piece());
    std::string qname = "fuzz.example";
    std::string packet(input.rest());

    ub_result result{};
    result.qname = qname.data();
    result.qtype = static_cast<int>(type);
    result.qclass = 1;
    result.data = record_data.data();
    result.len = record_len.data();
    result.canonname = (flags & 0x01U) != 0 ? canonname.data() : nullptr;
    result.rcode = rcode;
    result.havedata = (flags & 0x20U) != 0 ? 1 : 0;
    result.nxdomain = result.rcode == 3 ? 1 : 0;
    result.secure = (flags & 0x40U) != 0 ? 1 : 0;
    result.bogus = (flags & 0x40U) != 0 && (flags & 0x01U) != 0 ? 1 : 0;
    result.why_bogus = why_bogus.data();
    result.answer_packet = packet.data();
    result.answer_len = static_cast<int>(packet.size());
    result.ttl = static_cast<int>(flags) * 7;

    const resolver::Answer answer = resolver::convert(
        err, (flags & 0x10U) != 0 && err == 0 ? nullptr : &result, type, kMaxRecords);
    const std::size_t kept = answer.names.size() + answer.addresses.size();
    fuzz::require(kept <= kMaxRecords, "at most max_records are kept");
    switch (answer.status) {
        case resolver::Status::ok:
            fuzz::require(kept > 0, "an ok answer has data");
            break;
        case resolver::Status::temperror:
            fuzz::require(!answer.error.empty(), "a temperror says why");
            fuzz::require(answer.lifetime == 0, "a temperror is never reused");
            break;
        case resolver::Status::nxdomain:
        case resolver::Status::nodata:
            fuzz::require(kept == 0, "a negative answer has no data");
            break;
    }
    for (const auto& name : answer.names) {
        fuzz::require(type == resolver::RrType::ptr || type == resolver::RrType::mx,
                      "names only for PTR and MX");
        check_name(name);
    }
    for (const auto& address : answer.addresses) {
        fuzz::require(address.is_v4() == (type == resolver::RrType::a),
                      "addresses of the asked family");
    }
    for (const char c : answer.error) {
        const auto byte = static_cast<unsigned char>(c);
        fuzz::require(byte >= 0x20 && byte < 0x7f, "the error text is printable");
    }
    fuzz::require(answer.negative_ttl <= 0x7fffffffU, "a negative TTL is at most 2^31 - 1");
    const std::uint32_t from_packet =
        resolver::negative_ttl_of(packet.data(), static_cast<int>(packet.size()));
    fuzz::require(from_packet <= 0x7fffffffU, "a packet's negative TTL is at most 2^31 - 1");
    if (!records.empty()) {
        const auto& first = records.front();
        const std::string decoded = resolver::decode_wire_name(
            reinterpret_cast<const unsigned char*>(first.data()), first.size());
        if (!decoded.empty()) {
            check_name(decoded);
        }
    }
    return 0;
}
