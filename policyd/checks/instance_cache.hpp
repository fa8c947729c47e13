// InstanceCache: the Facts of each message (Postfix's `instance`
// attribute), so every request about one message is judged on the same DNS
// evidence and costs no new lookups.
//
// Contract:
// - Single-threaded (the event loop); every method takes `now`, so tests
//   never sleep.
// - An entry is used only for the same client address and HELO name it was
//   made for: a reused or forged instance value never borrows another
//   client's facts.
// - Bounded: at most max_entries (least recently used go first), each for at
//   most ttl. max_entries == 0 disables the cache. An instance, client or
//   HELO value over 65,535 bytes (the protocol's line limit is lower), or
//   facts that do not fit the packed form (policyd/checks/facts_pack.hpp), are not
//   remembered.
// - find() restores the facts as inserted, except helo_changed (false).
// The decision is still made by the rule table for each request: the
// facts are fixed, the answer may differ only by attributes the rules look
// at (a RCPT to postmaster@ may be exempt when others are not).
//
// Cost: one hash node and one heap block (the three strings and the packed
// facts) per message; find and insert are one hash lookup each.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "policyd/base/byte_pack.hpp"
#include "policyd/base/lru_index.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

class InstanceCache {
  public:
    using Clock = std::chrono::steady_clock;

    InstanceCache(std::size_t max_entries, std::chrono::seconds ttl)
        : ttl_(ttl), index_(max_entries) {}
    InstanceCache(const InstanceCache&) = delete;
    InstanceCache& operator=(const InstanceCache&) = delete;

    // True, `facts` filled and `header_sent` as inserted, when the message
    // is remembered for this client and HELO name.
    bool find(std::string_view instance, std::string_view client, std::string_view helo,
              Clock::time_point now, Facts& facts, bool& header_sent);

    // `header_sent`: the message's Authentication-Results header was added
    // already (it is added once per message).
    void insert(std::string_view instance, std::string_view client, std::string_view helo,
                const Facts& facts, Clock::time_point now, bool header_sent);

    [[nodiscard]] std::size_t size() const { return index_.size(); }
    [[nodiscard]] const LruStats& stats() const noexcept { return index_.stats(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return index_.max_entries(); }

  private:
    // The instance and its hash, computed once per call: entries keep their
    // hash, so a bucket walk compares hashes and touches no entry's block.
    struct Key {
        std::string_view instance;
        std::size_t hash = 0;
    };
    static Key make_key(std::string_view instance) noexcept;

    struct Entry : LruNode {
        std::size_t hash = 0;
        // instance, client, HELO (lengths below), then the packed facts.
        ByteBlock data;
        std::uint16_t instance_length = 0;
        std::uint16_t client_length = 0;
        std::uint16_t helo_length = 0;
        bool header_sent = false;

        [[nodiscard]] std::string_view instance() const noexcept;
        [[nodiscard]] std::string_view client() const noexcept;
        [[nodiscard]] std::string_view helo() const noexcept;
        [[nodiscard]] const unsigned char* facts() const noexcept;
    };
    using Hash = StoredHash<Key, Entry>;
    struct Equal {
        using is_transparent = void;
        bool operator()(const Entry& a, const Entry& b) const noexcept {
            return a.hash == b.hash && a.instance() == b.instance();
        }
        bool operator()(const Key& a, const Entry& b) const noexcept {
            return a.hash == b.hash && a.instance == b.instance();
        }
        bool operator()(const Entry& a, const Key& b) const noexcept { return (*this)(b, a); }
    };
    std::chrono::seconds ttl_;
    LruIndex<Entry, Hash, Equal> index_;
};

}  // namespace policyd
