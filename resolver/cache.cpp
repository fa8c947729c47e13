// Cache: compact entries in the shared LruIndex (policyd/base/lru_index.hpp),
// found with a stack-held key.
//
// An entry keeps its answer packed into the same heap block as its key name,
// because a full Answer (136 bytes of strings and vectors, plus a heap block
// per string) would triple the memory of a million cached clients:
//
//   name bytes (name_length)
//   u8 length + canonical name   (length 0 and kCanonicalIsKey: the key)
//   u8 length + error text
//   u8 count, then per PTR name:  u8 length + bytes
//   u8 count, then per address:   u8 length (4 or 16) + bytes
//
// Answers that do not fit (a string or count above 255, an IPv6 scope id, an
// rcode above 65535) are not cached rather than cached altered.
#include "resolver/cache.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

namespace resolver {

namespace {

// A new Answer field must be packed below (and this number updated), or the
// cache would silently drop it.
static_assert(sizeof(void*) != 8 || sizeof(Answer) == 136,
              "Answer changed: update pack() and unpack() in resolver/cache.cpp");

constexpr std::uint8_t kSecure = 1;
constexpr std::uint8_t kBogus = 2;
constexpr std::uint8_t kCanonicalIsKey = 4;
constexpr std::uint8_t kNegativeTtl = 8;
constexpr std::size_t kMaxField = 255;

using Block = std::unique_ptr<unsigned char[]>;  // NOLINT: sized at run time

struct Packed {
    Block data;
    std::uint8_t flags = 0;
};

// Returns an empty block when the answer does not fit the format.
Packed pack(std::string_view name, const Answer& answer) {
    Packed out;
    const bool canonical_is_key = answer.canonical_name == name;
    const std::string_view canonical =
        canonical_is_key ? std::string_view() : std::string_view(answer.canonical_name);
    if (canonical.size() > kMaxField || answer.error.size() > kMaxField ||
        answer.names.size() > kMaxField || answer.addresses.size() > kMaxField) {
        return out;
    }
    std::size_t size = name.size() + 1 + canonical.size() + 1 + answer.error.size() + 2;
    for (const auto& target : answer.names) {
        if (target.size() > kMaxField) {
            return out;
        }
        size += 1 + target.size();
    }
    for (const auto& address : answer.addresses) {
        if (address.is_v6() && address.to_v6().scope_id() != 0) {
            return out;
        }
        size += 1 + (address.is_v4() ? 4 : 16);
    }
    out.data = std::make_unique<unsigned char[]>(size);  // NOLINT: see Block
    unsigned char* p = out.data.get();
    const auto put_bytes = [&p](const void* bytes, std::size_t length) {
        if (length != 0) {
            std::memcpy(p, bytes, length);
            p += length;
        }
    };
    const auto put_field = [&](std::string_view text) {
        *p++ = static_cast<unsigned char>(text.size());
        put_bytes(text.data(), text.size());
    };
    put_bytes(name.data(), name.size());
    put_field(canonical);
    put_field(answer.error);
    *p++ = static_cast<unsigned char>(answer.names.size());
    for (const auto& target : answer.names) {
        put_field(target);
    }
    *p++ = static_cast<unsigned char>(answer.addresses.size());
    for (const auto& address : answer.addresses) {
        if (address.is_v4()) {
            const auto bytes = address.to_v4().to_bytes();
            *p++ = static_cast<unsigned char>(bytes.size());
            put_bytes(bytes.data(), bytes.size());
        } else {
            const auto bytes = address.to_v6().to_bytes();
            *p++ = static_cast<unsigned char>(bytes.size());
            put_bytes(bytes.data(), bytes.size());
        }
    }
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
    // NOLINTNEXTLINE: the block holds bytes; the name part is plain chars.
    return {reinterpret_cast<const char*>(data.get()), name_length};
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
    const Entry* found = key.valid() ? index_.find(key, now) : nullptr;
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
    const unsigned char* p = entry.data.get() + entry.name_length;
    const auto field = [&p]() {
        const std::size_t length = *p++;
        // NOLINTNEXTLINE: bytes to chars, as written by pack().
        std::string_view text(reinterpret_cast<const char*>(p), length);
        p += length;
        return text;
    };
    answer.canonical_name = (entry.flags & kCanonicalIsKey) != 0 ? entry.name() : field();
    if ((entry.flags & kCanonicalIsKey) != 0) {
        ++p;  // the empty length byte written for it
    }
    answer.error = field();
    const std::size_t names = *p++;
    answer.names.reserve(names);
    for (std::size_t i = 0; i < names; ++i) {
        answer.names.emplace_back(field());
    }
    const std::size_t addresses = *p++;
    answer.addresses.reserve(addresses);
    for (std::size_t i = 0; i < addresses; ++i) {
        const std::size_t length = *p++;
        if (length == 4) {
            boost::asio::ip::address_v4::bytes_type bytes{};
            std::copy_n(p, bytes.size(), bytes.begin());
            answer.addresses.emplace_back(boost::asio::ip::address_v4(bytes));
        } else {
            boost::asio::ip::address_v6::bytes_type bytes{};
            std::copy_n(p, bytes.size(), bytes.begin());
            answer.addresses.emplace_back(boost::asio::ip::address_v6(bytes));
        }
        p += length;
    }
    // Rounded up: a live entry never claims a TTL of 0, which a caller
    // could read as "do not keep".
    const auto remaining = std::chrono::ceil<std::chrono::seconds>(entry.expires - now).count();
    answer.ttl = static_cast<std::uint32_t>(
        std::min<long long>(remaining, std::numeric_limits<std::uint32_t>::max()));
    answer.negative_ttl = (entry.flags & kNegativeTtl) != 0 ? answer.ttl : 0;
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
