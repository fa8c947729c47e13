// Cache: a bounded, TTL-honest store of resolver Answers, keyed by
// (name, RR type). Pure logic: no I/O, no clock of its own.
//
// Contract:
// - Keys compare case-insensitively (ASCII) and ignore one trailing dot. A
//   name longer than 253 characters (254 with the dot), or empty, is never
//   stored and never found.
// - Lifetime of an entry inserted at `now`:
//     ok                 answer.ttl clamped to [min_ttl, max_ttl]
//     nxdomain, nodata   answer.negative_ttl (the SOA-derived TTL), else
//                        answer.ttl, else min_ttl; at most negative_max_ttl
//     temperror          temperror_ttl; 0 = temperrors are not stored
//   An entry is live while now < inserted + lifetime and expired from that
//   instant on.
// - find() returns a copy of the stored Answer, ttl and negative_ttl as
//   received, whose lifetime is the remaining lifetime in whole seconds,
//   rounded up, so a live entry never reports 0. An expired entry found is
//   removed.
// - insert() replaces any entry of the same key. At most max_entries entries
//   are held; inserting beyond that evicts the least recently used (found or
//   inserted) entry. max_entries == 0 disables the cache. An answer that
//   is not stored (lifetime 0, or one that does not fit the packed form
//   unaltered: a string or count above 255, an IPv6 scope id, an rcode
//   outside 0..65535) removes any older entry of its key instead.
// - Every method takes `now`, so tests never sleep. Not thread-safe: one
//   owner (the io_context thread).
//
// Cost: find() normalises the name into a stack buffer and does one hash
// lookup; its only allocations build the Answer it returns. insert() makes
// one heap block per entry. The index and its LRU order are the shared
// policyd/base/lru_index.hpp (two list pointers in each entry).
//
// Memory per entry on x86-64 (glibc malloc; measured over a million entries
// by the hidden test "cache memory per entry" in tests/unit/test_cache.cpp):
// the hash node is 48 bytes (64 with malloc's overhead), a bucket pointer 8,
// and one block holding the key name and the packed answer (name length +
// ~8 bytes with the TTL as received, + 4 for a negative TTL, + 1 + length
// per PTR name, + 5 or 17 per address). Measured: an IPv4 PTR entry with one
// 23-character name 141 bytes, an A entry 123, an NXDOMAIN entry 123; an
// IPv6 reverse name (72 characters) adds ~48. An IPv4 client (PTR + A)
// thus costs ~265 bytes, ~390 when its AAAA is asked too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "policyd/base/byte_pack.hpp"
#include "policyd/base/dns_name.hpp"
#include "policyd/base/lru_index.hpp"
#include "resolver/resolver.hpp"

namespace resolver {

using Clock = std::chrono::steady_clock;

struct CacheOptions {
    std::size_t max_entries = 100000;
    std::chrono::seconds min_ttl{30};
    std::chrono::seconds max_ttl{86400};
    std::chrono::seconds negative_max_ttl{900};
    std::chrono::seconds temperror_ttl{5};
};

using CacheStats = policyd::LruStats;

// A (name, type) key, lower-cased and without its trailing dot, held in a
// fixed buffer so that building one never allocates. valid() is false for a
// name the cache does not store (empty or too long).
class CacheKey {
  public:
    static constexpr std::size_t kMaxName = policyd::kMaxName;

    CacheKey(std::string_view name, RrType type) noexcept;

    [[nodiscard]] bool valid() const noexcept { return valid_; }
    [[nodiscard]] std::string_view name() const noexcept { return {buffer_, length_}; }
    [[nodiscard]] RrType type() const noexcept { return type_; }

  private:
    char buffer_[kMaxName];  // NOLINT: a fixed array keeps the key off the heap
    std::size_t length_ = 0;
    RrType type_;
    bool valid_ = false;
};

// The stored key of a map whose lookups take CacheKey (heterogeneous
// lookup: no std::string is built to search).
struct StoredKey {
    std::string name;
    RrType type;
};

struct CacheKeyHash {
    using is_transparent = void;
    std::size_t operator()(const CacheKey& key) const noexcept {
        return hash(key.name(), key.type());
    }
    std::size_t operator()(const StoredKey& key) const noexcept { return hash(key.name, key.type); }
    static std::size_t hash(std::string_view name, RrType type) noexcept;
};

struct CacheKeyEqual {
    using is_transparent = void;
    bool operator()(const StoredKey& a, const StoredKey& b) const noexcept {
        return a.type == b.type && a.name == b.name;
    }
    bool operator()(const CacheKey& a, const StoredKey& b) const noexcept {
        return a.type() == b.type && a.name() == b.name;
    }
    bool operator()(const StoredKey& a, const CacheKey& b) const noexcept { return (*this)(b, a); }
};

class Cache {
  public:
    explicit Cache(CacheOptions options);
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    std::optional<Answer> find(std::string_view name, RrType type, Clock::time_point now);
    std::optional<Answer> find(const CacheKey& key, Clock::time_point now);
    // Returns the lifetime the answer was stored for; 0 when it was not.
    std::chrono::seconds insert(std::string_view name, RrType type, const Answer& answer,
                                Clock::time_point now);
    std::chrono::seconds insert(const CacheKey& key, const Answer& answer, Clock::time_point now);

    // How long an answer would be kept (0: not stored), per the table above.
    [[nodiscard]] std::chrono::seconds lifetime(const Answer& answer) const noexcept;

    [[nodiscard]] const CacheStats& stats() const noexcept { return index_.stats(); }
    [[nodiscard]] const CacheOptions& options() const noexcept { return options_; }

  private:
    // One entry: a small fixed part in the hash node, and one heap block
    // holding the key name followed by the packed answer (see cache.cpp).
    // Only the key part (name, type) is immutable; the rest is mutable
    // because std::unordered_set hands out const elements.
    struct Entry : policyd::LruNode {
        policyd::ByteBlock data;
        std::uint16_t rcode = 0;
        RrType type = RrType::a;
        std::uint8_t name_length = 0;
        std::uint8_t status = 0;
        std::uint8_t flags = 0;

        [[nodiscard]] std::string_view name() const noexcept;
    };
    struct EntryHash : CacheKeyHash {
        using CacheKeyHash::operator();
        std::size_t operator()(const Entry& entry) const noexcept {
            return hash(entry.name(), entry.type);
        }
    };
    struct EntryEqual {
        using is_transparent = void;
        bool operator()(const Entry& a, const Entry& b) const noexcept {
            return a.type == b.type && a.name() == b.name();
        }
        bool operator()(const CacheKey& a, const Entry& b) const noexcept {
            return a.type() == b.type && a.name() == b.name();
        }
        bool operator()(const Entry& a, const CacheKey& b) const noexcept { return (*this)(b, a); }
    };
    CacheOptions options_;
    policyd::LruIndex<Entry, EntryHash, EntryEqual> index_;
};

}  // namespace resolver
