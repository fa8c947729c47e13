// Cache: compact entries in the shared LruIndex (policyd/base/lru_index.hpp),
// found with a stack-held key.
//
// An entry keeps its answer packed into the same heap block as its key name,
// because a full Answer (144 bytes of strings and vectors, plus a heap block
// per string) would triple the memory of a million cached clients:
//
//   name bytes (name_length)
//   u32 ttl, then u32 negative_ttl when kNegativeTtl (as received)
//   u8 length + canonical name   (length 0 and kCanonicalIsKey: the key)
//   u8 length + error text
//   u8 count, then per PTR name:  u8 length + bytes
//   u8 count, then per address:   u8 length (4 or 16) + bytes
//
// Answers that do not fit (a string or count above 255, an IPv6 scope id, an
// rcode above 65535) are not cached rather than cached altered. The block
// is written and read with policyd/base/byte_pack.hpp.
#include "resolver/cache.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "policyd/base/byte_pack.hpp"

namespace resolver {

namespace {

// A new Answer field must be packed below (and this number updated), or the
// cache would silently drop it.
static_assert(sizeof(void*) != 8 || sizeof(Answer) == 144,
              "Answer changed: update pack() and unpack() in resolver/cache.cpp");

constexpr std::uint8_t kSecure = 1;
constexpr std::uint8_t kBogus = 2;
constexpr std::uint8_t kCanonicalIsKey = 4;
constexpr std::uint8_t kNegativeTtl = 8;

struct Packed {
    policyd::ByteBlock data;
    std::uint8_t flags = 0;
};

// Returns an empty block when the answer does not fit the format.
Packed pack(std::string_view name, const Answer& answer) {
    using policyd::fits_field;
    Packed out;
    const bool canonical_is_key = answer.canonical_name == name;
    const std::string_view canonical =
        canonical_is_key ? std::string_view() : std::string_view(answer.canonical_name);
    if (!fits_field(canonical.size()) || !fits_field(answer.error.size()) ||
        !fits_field(answer.names.size()) || !fits_field(answer.addresses.size()) ||
        std::any_of(answer.names.begin(), answer.names.end(),
                    [](const std::string& target) { return !fits_field(target.size()); }) ||
        std::any_of(answer.addresses.begin(), answer.addresses.end(), [](const auto& address) {
            return address.is_v6() && address.to_v6().scope_id() != 0;
        })) {
        return out;
    }
    out.data = policyd::pack_block([&](policyd::ByteWriter& w) {
        w.bytes(name);
        w.u32(answer.ttl);
        if (answer.negative_ttl != 0) {
            w.u32(answer.negative_ttl);
        }
        w.field(canonical);
        w.field(answer.error);
        w.u8(static_cast<std::uint8_t>(answer.names.size()));
        for (const auto& target : answer.names) {
            w.field(target);
        }
        w.u8(static_cast<std::uint8_t>(answer.addresses.size()));
        for (const auto& address : answer.addresses) {
            if (address.is_v4()) {
                const auto bytes = address.to_v4().to_bytes();
                w.u8(static_cast<std::uint8_t>(bytes.size()));
                w.bytes(bytes.data(), bytes.size());
            } else {
                const auto bytes = address.to_v6().to_bytes();
                w.u8(static_cast<std::uint8_t>(bytes.size()));
                w.bytes(bytes.data(), bytes.size());
            }
        }
    });
    out.flags = static_cast<std::uint8_t>(
        (answer.secure ? kSecure : 0) | (answer.bogus ? kBogus : 0) |
        (canonical_is_key ? kCanonicalIsKey : 0) | (answer.negative_ttl != 0 ? kNegativeTtl : 0));
    return out;
}

}  // namespace

CacheKey::CacheKey(std::string_view name, RrType type) noexcept : type_(type) {
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    if (name.empty() || name.size() > kMaxName) {
        return;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        buffer_[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    length_ = name.size();
    valid_ = true;
}

std::size_t CacheKeyHash::hash(std::string_view name, RrType type) noexcept {
    // Fibonacci-multiplied type so that a name's A, AAAA and PTR entries do
    // not land in neighbouring buckets of one another.
    constexpr std::size_t kMix = 0x9e3779b97f4a7c15ULL;
    return std::hash<std::string_view>{}(name) ^ (static_cast<std::size_t>(type) * kMix);
}

std::string_view Cache::Entry::name() const noexcept {
    return policyd::block_text(data, 0, name_length);
}

Cache::Cache(CacheOptions options) : options_(options), index_(options.max_entries) {}

std::chrono::seconds Cache::lifetime(const Answer& answer) const noexcept {
    using std::chrono::seconds;
    const auto limit = [](seconds value) { return std::max(value, seconds{0}); };
    switch (answer.status) {
        case Status::ok:
            // max_ttl wins over min_ttl should the settings cross.
            return limit(
                std::min(std::max(seconds{answer.ttl}, options_.min_ttl), options_.max_ttl));
        case Status::nxdomain:
        case Status::nodata: {
            seconds base = options_.min_ttl;
            if (answer.negative_ttl != 0) {
                base = seconds{answer.negative_ttl};
            } else if (answer.ttl != 0) {
                base = seconds{answer.ttl};
            }
            return limit(std::min(base, options_.negative_max_ttl));
        }
        case Status::temperror:
            return limit(options_.temperror_ttl);
    }
    return seconds{0};
}

std::optional<Answer> Cache::find(std::string_view name, RrType type, Clock::time_point now) {
    return find(CacheKey(name, type), now);
}

std::optional<Answer> Cache::find(const CacheKey& key, Clock::time_point now) {
    if (!key.valid()) {
        index_.count_miss();
        return std::nullopt;
    }
    const Entry* found = index_.find(key, now);
    if (found == nullptr) {
        return std::nullopt;
    }
    const Entry& entry = *found;

    std::optional<Answer> out(std::in_place);
    Answer& answer = *out;
    answer.status = static_cast<Status>(entry.status);
    answer.rcode = entry.rcode;
    answer.secure = (entry.flags & kSecure) != 0;
    answer.bogus = (entry.flags & kBogus) != 0;
    // The block was written by pack() for exactly this layout.
    policyd::ByteReader in(entry.data.get());
    in.skip(entry.name_length);
    answer.ttl = in.u32();
    answer.negative_ttl = (entry.flags & kNegativeTtl) != 0 ? in.u32() : 0;
    const std::string_view canonical = in.field();
    answer.canonical_name = (entry.flags & kCanonicalIsKey) != 0 ? entry.name() : canonical;
    answer.error = in.field();
    const std::size_t names = in.u8();
    answer.names.reserve(names);
    for (std::size_t i = 0; i < names; ++i) {
        answer.names.emplace_back(in.field());
    }
    const std::size_t addresses = in.u8();
    answer.addresses.reserve(addresses);
    for (std::size_t i = 0; i < addresses; ++i) {
        const std::string_view bytes = in.field();
        if (bytes.size() == 4) {
            boost::asio::ip::address_v4::bytes_type v4{};
            std::copy_n(bytes.begin(), v4.size(), v4.begin());
            answer.addresses.emplace_back(boost::asio::ip::address_v4(v4));
        } else {
            boost::asio::ip::address_v6::bytes_type v6{};
            std::copy_n(bytes.begin(), v6.size(), v6.begin());
            answer.addresses.emplace_back(boost::asio::ip::address_v6(v6));
        }
    }
    // Rounded up: a live entry never claims a lifetime of 0, which a caller
    // could read as "do not keep".
    const auto remaining = std::chrono::ceil<std::chrono::seconds>(entry.expires - now).count();
    answer.lifetime = static_cast<std::uint32_t>(
        std::min<long long>(remaining, std::numeric_limits<std::uint32_t>::max()));
    return out;
}

std::chrono::seconds Cache::insert(std::string_view name, RrType type, const Answer& answer,
                                   Clock::time_point now) {
    return insert(CacheKey(name, type), answer, now);
}

std::chrono::seconds Cache::insert(const CacheKey& key, const Answer& answer,
                                   Clock::time_point now) {
    if (!key.valid() || options_.max_entries == 0) {
        return std::chrono::seconds{0};
    }
    const auto life = lifetime(answer);
    Packed packed;
    if (life > std::chrono::seconds{0} && answer.rcode >= 0 &&
        answer.rcode <= std::numeric_limits<std::uint16_t>::max()) {
        packed = pack(key.name(), answer);
    }
    if (!packed.data) {
        // Not storable; an older answer for the key must not outlive this one.
        index_.erase(key);
        return std::chrono::seconds{0};
    }
    Entry fresh;
    fresh.type = key.type();
    fresh.name_length = static_cast<std::uint8_t>(key.name().size());
    fresh.data = std::move(packed.data);
    fresh.status = static_cast<std::uint8_t>(answer.status);
    fresh.rcode = static_cast<std::uint16_t>(answer.rcode);
    fresh.flags = packed.flags;
    fresh.expires = now + life;
    index_.insert(std::move(fresh));
    return life;
}

}  // namespace resolver
