// Layout:
//   one byte per enumerated fact (kFactFields, in its order), then
//   budget_exhausted
//   u8 count of PTR names, then ceil(count / 8) bytes: bit i set when PTR
//   name i forward-confirmed (the verified names, in order)
//   per PTR name: u8 length + bytes
//   u8 count of listings, then per listing: u8 length + bytes
#include "policyd/checks/facts_pack.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace policyd {

namespace {

// A new Facts member that is not an enumerated fact (those are packed by
// walking kFactFields) must be packed here, or the caches would silently drop
// it; a new enumerated fact only changes this size.
static_assert(sizeof(void*) != 8 || sizeof(Facts) == 144,
              "Facts changed: update pack() and unpack() in policyd/checks/facts_pack.cpp");

std::size_t bit_bytes(std::size_t names) {
    return (names + 7) / 8;
}

// Calls mark(i) for each PTR name i that is the next verified name; true
// when every verified name was matched so.
template <typename Mark>
bool match_verified(const Facts& facts, Mark mark) {
    std::size_t next = 0;
    for (std::size_t i = 0; i < facts.ptr_names.size() && next < facts.verified_names.size(); ++i) {
        if (facts.ptr_names[i] == facts.verified_names[next]) {
            mark(i);
            ++next;
        }
    }
    return next == facts.verified_names.size();
}

}  // namespace

bool packable(const Facts& facts) {
    return fits_field(facts.ptr_names.size()) &&
           std::all_of(facts.ptr_names.begin(), facts.ptr_names.end(),
                       [](const std::string& name) { return fits_field(name.size()); }) &&
           fits_field(facts.listings.size()) &&
           std::all_of(facts.listings.begin(), facts.listings.end(),
                       [](const std::string& listing) { return fits_field(listing.size()); }) &&
           match_verified(facts, [](std::size_t) {});
}

void pack(const Facts& facts, ByteWriter& out) {
    for (const auto& field : kFactFields) {
        out.u8(field.get(facts));
    }
    out.u8(facts.budget_exhausted ? 1 : 0);
    const std::size_t count = facts.ptr_names.size();
    out.u8(static_cast<std::uint8_t>(count));
    std::array<std::uint8_t, (kMaxFieldBytes + 7) / 8> bits{};
    match_verified(facts, [&bits](std::size_t i) {
        bits[i / 8] = static_cast<std::uint8_t>(bits[i / 8] | (1U << (i % 8)));
    });
    out.bytes(bits.data(), bit_bytes(count));
    for (const auto& name : facts.ptr_names) {
        out.field(name);
    }
    out.u8(static_cast<std::uint8_t>(facts.listings.size()));
    for (const auto& listing : facts.listings) {
        out.field(listing);
    }
}

void unpack(ByteReader& in, Facts& facts) {
    for (const auto& field : kFactFields) {
        field.set(facts, in.u8());
    }
    facts.budget_exhausted = in.u8() != 0;
    facts.helo_changed = false;
    const std::size_t count = in.u8();
    const std::string_view bits = in.bytes(bit_bytes(count));
    const auto verified = [&bits](std::size_t i) {
        return (static_cast<unsigned char>(bits[i / 8]) & (1U << (i % 8))) != 0;
    };
    facts.ptr_names.resize(count);
    std::size_t verified_count = 0;
    for (std::size_t i = 0; i < count; ++i) {
        facts.ptr_names[i].assign(in.field());
        verified_count += verified(i) ? 1 : 0;
    }
    facts.verified_names.resize(verified_count);
    verified_count = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (verified(i)) {
            facts.verified_names[verified_count++] = facts.ptr_names[i];
        }
    }
    facts.listings.resize(in.u8());
    for (auto& listing : facts.listings) {
        listing.assign(in.field());
    }
}

}  // namespace policyd
