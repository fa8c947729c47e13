// Layout:
//   one byte per enumerated fact (kFactFields, in its order), then
//   budget_exhausted
//   u8 count of PTR names, then ceil(count / 8) bytes: bit i set when PTR
//   name i forward-confirmed (the verified names, in order)
//   per PTR name: u8 length + bytes
#include "policyd/checks/facts_pack.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace policyd {

namespace {

constexpr std::size_t kMaxField = 255;
constexpr std::size_t kFixedFields = kFactFields.size() + 1;

// A new Facts field must be packed here (and this size updated), or the
// caches would silently drop it.
static_assert(sizeof(void*) != 8 || sizeof(Facts) == 88,
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

std::size_t packed_size(const Facts& facts) {
    const std::size_t count = facts.ptr_names.size();
    if (count > kMaxField || !match_verified(facts, [](std::size_t) {})) {
        return 0;
    }
    std::size_t size = kFixedFields + 1 + bit_bytes(count);
    for (const auto& name : facts.ptr_names) {
        if (name.size() > kMaxField) {
            return 0;
        }
        size += 1 + name.size();
    }
    return size;
}

unsigned char* pack(const Facts& facts, unsigned char* out) {
    for (const auto& field : kFactFields) {
        *out++ = field.get(facts);
    }
    *out++ = facts.budget_exhausted ? 1 : 0;
    const std::size_t count = facts.ptr_names.size();
    *out++ = static_cast<unsigned char>(count);
    unsigned char* bits = out;
    std::memset(bits, 0, bit_bytes(count));
    match_verified(facts, [bits](std::size_t i) {
        bits[i / 8] = static_cast<unsigned char>(bits[i / 8] | (1U << (i % 8)));
    });
    out += bit_bytes(count);
    for (const auto& name : facts.ptr_names) {
        *out++ = static_cast<unsigned char>(name.size());
        out = std::copy(name.begin(), name.end(), out);
    }
    return out;
}

void unpack(const unsigned char* in, Facts& facts) {
    for (std::size_t i = 0; i < kFactFields.size(); ++i) {
        kFactFields[i].set(facts, in[i]);
    }
    facts.budget_exhausted = in[kFactFields.size()] != 0;
    facts.helo_changed = false;
    in += kFixedFields;
    const std::size_t count = *in++;
    const unsigned char* bits = in;
    in += bit_bytes(count);
    facts.ptr_names.resize(count);
    std::size_t verified = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t length = *in++;
        // NOLINTNEXTLINE: bytes to chars, as written by pack().
        facts.ptr_names[i].assign(reinterpret_cast<const char*>(in), length);
        in += length;
        if ((bits[i / 8] & (1U << (i % 8))) != 0) {
            ++verified;
        }
    }
    facts.verified_names.resize(verified);
    verified = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if ((bits[i / 8] & (1U << (i % 8))) != 0) {
            facts.verified_names[verified++] = facts.ptr_names[i];
        }
    }
}

}  // namespace policyd
