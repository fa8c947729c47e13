// LruIndex: a bounded hash index with least-recently-used eviction and an
// expiry time per entry: the one mechanism under the three caches (the
// resolver's answer cache, the facts cache and the instance cache), which
// differ only in their entries and keys.
//
// Contract:
// - Entry derives from LruNode (the intrusive list hook and the expiry
//   time). Hash and Equal are transparent: each takes an Entry and every
//   Key type the cache searches with (a key built on the stack, so a
//   lookup allocates nothing).
// - find(key, now) returns the live entry, made most recently used, or
//   null; an entry found expired (now >= expires) is erased first. With an
//   `accept` test, a live entry it refuses is a miss left where it is.
// - insert(entry) replaces an equal entry, evicts the least recently used
//   ones to stay within max_entries, and returns the stored entry; with
//   max_entries == 0 it stores nothing and returns null.
// - Entries never move (std::unordered_set nodes), so the LRU list links
//   them in place and pointers stay valid until the entry is erased.
//   Only mutable members of a stored entry may be changed.
// - stats() counts what happened; every method takes `now` where time
//   matters, so tests never sleep. Single-threaded: one owner.
#pragma once

#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <utility>

namespace policyd {

struct LruStats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;     // not present, or present but expired
    std::uint64_t inserts = 0;    // stored (a replacement included)
    std::uint64_t evictions = 0;  // dropped to stay within max_entries
    std::uint64_t expired = 0;    // found expired and dropped
    std::size_t size = 0;         // entries held now
};

struct LruNode
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
    mutable std::chrono::steady_clock::time_point expires;
};

// The Hash of entries that keep the hash their key was given (computed
// once per call), so a bucket walk compares hashes and touches no entry's
// heap block.
template <typename Key, typename Entry>
struct StoredHash {
    using is_transparent = void;
    std::size_t operator()(const Key& key) const noexcept { return key.hash; }
    std::size_t operator()(const Entry& entry) const noexcept { return entry.hash; }
};

template <typename Entry, typename Hash, typename Equal>
class LruIndex {
  public:
    using Clock = std::chrono::steady_clock;

    explicit LruIndex(std::size_t max_entries) : max_entries_(max_entries) {}
    ~LruIndex() { lru_.clear(); }  // the list must not outlive the nodes it links
    LruIndex(const LruIndex&) = delete;
    LruIndex& operator=(const LruIndex&) = delete;

    template <typename Key>
    const Entry* find(const Key& key, Clock::time_point now) {
        return find(key, now, [](const Entry&) { return true; });
    }

    // The same, but an entry that `accept` refuses (it belongs to another
    // client, say) is a miss and is neither touched nor erased.
    template <typename Key, typename Accept>
    const Entry* find(const Key& key, Clock::time_point now, const Accept& accept) {
        const auto it = set_.find(key);
        if (it == set_.end() || (now < it->expires && !accept(*it))) {
            ++stats_.misses;
            return nullptr;
        }
        if (now >= it->expires) {
            ++stats_.misses;
            ++stats_.expired;
            erase(it);
            return nullptr;
        }
        ++stats_.hits;
        lru_.splice(lru_.begin(), lru_, lru_.iterator_to(linked(*it)));
        return &*it;
    }

    const Entry* insert(Entry&& entry) {
        if (max_entries_ == 0) {
            return nullptr;
        }
        if (const auto old = set_.find(entry); old != set_.end()) {
            erase(old);
        }
        // Room first, so the set never exceeds max_entries even briefly.
        while (set_.size() >= max_entries_ && !lru_.empty()) {
            erase(set_.find(lru_.back()));
            ++stats_.evictions;
        }
        const auto it = set_.insert(std::move(entry)).first;
        lru_.push_front(linked(*it));
        ++stats_.inserts;
        stats_.size = set_.size();
        return &*it;
    }

    // Drops the entry of `key`, if there is one.
    template <typename Key>
    void erase(const Key& key) {
        if (const auto it = set_.find(key); it != set_.end()) {
            erase(it);
        }
    }

    // A lookup the cache could not even make (a key it cannot store).
    void count_miss() noexcept { ++stats_.misses; }

    [[nodiscard]] std::size_t size() const noexcept { return set_.size(); }
    [[nodiscard]] std::size_t max_entries() const noexcept { return max_entries_; }
    [[nodiscard]] const LruStats& stats() const noexcept { return stats_; }

  private:
    using Set = std::unordered_set<Entry, Hash, Equal>;
    using List = boost::intrusive::list<Entry, boost::intrusive::constant_time_size<false>>;

    // The set hands out const elements; only the hook (and the mutable
    // members) ever change through this.
    static Entry& linked(const Entry& entry) {
        return const_cast<Entry&>(entry);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    }

    void erase(typename Set::iterator it) noexcept {
        lru_.erase(lru_.iterator_to(linked(*it)));
        set_.erase(it);
        stats_.size = set_.size();
    }

    std::size_t max_entries_;
    Set set_;
    List lru_;
    LruStats stats_;
};

}  // namespace policyd
