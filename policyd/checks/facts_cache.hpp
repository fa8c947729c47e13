// FactsCache: the complete DNS assessment (Facts) of recent clients, keyed
// by (client address, HELO name as sent), so a client seen before is judged
// with one hash lookup and no DNS lookup at all.
//
// Contract:
// - TTL-honest: an entry lives for the lifetime it is inserted with, which
//   the assessment sets to the shortest remaining lifetime of the DNS
//   answers the facts rest on (so it never outlives any of them), capped by
//   max_lifetime. Facts that rest on a temporary error or a cut-off lookup
//   are inserted with lifetime 0, which stores nothing (and drops an older
//   entry of the key).
// - find() fills `facts` exactly as they were inserted, except helo_changed,
//   which belongs to the SMTP session and is always false here.
// - Bounded: at most max_entries (least recently used go first);
//   max_entries == 0 turns the cache off. Facts that do not fit the packed
//   form unaltered (policyd/checks/facts_pack.hpp), or a HELO name over 65,535
//   bytes, are not stored.
// - Every method takes `now`, so tests never sleep. Single-threaded (the
//   event loop).
//
// Memory: one hash node (~72 bytes) and one heap block (the HELO name, 10
// bytes of facts, one bit per PTR name, and each PTR name with a length
// byte) per entry, plus a bucket pointer: 157 bytes for a client with one
// PTR name (unit test "facts cache memory per client", `[.memory]`).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "policyd/base/address.hpp"
#include "policyd/base/byte_pack.hpp"
#include "policyd/base/lru_index.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

using FactsCacheStats = LruStats;

class FactsCache {
  public:
    using Clock = std::chrono::steady_clock;

    FactsCache(std::size_t max_entries, std::chrono::seconds max_lifetime);
    FactsCache(const FactsCache&) = delete;
    FactsCache& operator=(const FactsCache&) = delete;

    // True and `facts` filled when live facts are held for the pair.
    bool find(const IpAddress& client, std::string_view helo, Clock::time_point now, Facts& facts);

    void insert(const IpAddress& client, std::string_view helo, const Facts& facts,
                Clock::time_point now, std::chrono::seconds lifetime);

    [[nodiscard]] const FactsCacheStats& stats() const noexcept { return index_.stats(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return index_.max_entries(); }

  private:
    // The address as 16 bytes (IPv4 in the first four) plus its family.
    struct Key {
        std::array<std::uint8_t, 16> address{};
        bool v6 = false;
        std::string_view helo;
        std::size_t hash = 0;  // computed once per call; entries keep theirs
        bool valid = false;
    };
    static Key make_key(const IpAddress& client, std::string_view helo) noexcept;

    struct Entry : LruNode {
        std::size_t hash = 0;
        // The HELO name (helo_length bytes), then the packed facts.
        ByteBlock data;
        std::array<std::uint8_t, 16> address{};
        bool v6 = false;
        std::uint16_t helo_length = 0;

        [[nodiscard]] std::string_view helo() const noexcept;
    };
    using Hash = StoredHash<Key, Entry>;
    struct Equal {
        using is_transparent = void;
        bool operator()(const Entry& a, const Entry& b) const noexcept;
        bool operator()(const Key& a, const Entry& b) const noexcept;
        bool operator()(const Entry& a, const Key& b) const noexcept { return (*this)(b, a); }
    };
    std::chrono::seconds max_lifetime_;
    LruIndex<Entry, Hash, Equal> index_;
};

}  // namespace policyd
