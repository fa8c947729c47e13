// Unit tests of policyd/base/lru_index.hpp, the bounded LRU index under the
// three caches: hits and misses, expiry, replacement, eviction order,
// max_entries == 0, heterogeneous keys, and entries that never move.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "policyd/base/lru_index.hpp"

using namespace std::chrono_literals;
using policyd::LruIndex;
using policyd::LruNode;

namespace {

struct Entry : LruNode {
    std::string key;
    mutable int value = 0;
};
struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
        return std::hash<std::string_view>{}(key);
    }
    std::size_t operator()(const Entry& entry) const {
        return (*this)(std::string_view(entry.key));
    }
};
struct Equal {
    using is_transparent = void;
    bool operator()(const Entry& a, const Entry& b) const { return a.key == b.key; }
    bool operator()(std::string_view a, const Entry& b) const { return a == b.key; }
    bool operator()(const Entry& a, std::string_view b) const { return a.key == b; }
};
using Index = LruIndex<Entry, Hash, Equal>;
const auto t0 = std::chrono::steady_clock::time_point{} + 1000h;

Entry make(std::string key, int value, std::chrono::seconds life = 60s) {
    Entry entry;
    entry.key = std::move(key);
    entry.value = value;
    entry.expires = t0 + life;
    return entry;
}

}  // namespace

TEST_CASE("LruIndex finds live entries, drops expired ones and counts both", "[lru]") {
    Index index(10);
    const Entry* stored = index.insert(make("a", 1, 30s));
    REQUIRE(stored != nullptr);
    CHECK(index.find(std::string_view("a"), t0) == stored);  // a string_view key, no copy
    CHECK(index.find(std::string_view("b"), t0) == nullptr);
    CHECK(index.find(std::string_view("a"), t0 + 29s) == stored);
    // Expired from the instant of its expiry on, and then gone.
    CHECK(index.find(std::string_view("a"), t0 + 30s) == nullptr);
    CHECK(index.size() == 0);
    const auto& stats = index.stats();
    CHECK(stats.hits == 2);
    CHECK(stats.misses == 2);
    CHECK(stats.expired == 1);
    CHECK(stats.inserts == 1);
    CHECK(stats.size == 0);
}

TEST_CASE("LruIndex replaces an equal entry and evicts the least recently used", "[lru]") {
    Index index(3);
    index.insert(make("a", 1));
    index.insert(make("b", 2));
    index.insert(make("c", 3));
    index.insert(make("a", 10));  // a replacement: no eviction
    CHECK(index.size() == 3);
    CHECK(index.stats().evictions == 0);
    CHECK(index.find(std::string_view("a"), t0)->value == 10);
    // Used order now (most recent first): a, c, b. Touch b: b, a, c.
    CHECK(index.find(std::string_view("b"), t0) != nullptr);
    index.insert(make("d", 4));  // evicts c
    CHECK(index.find(std::string_view("c"), t0) == nullptr);
    CHECK(index.stats().evictions == 1);
    const Entry* a = index.find(std::string_view("a"), t0);
    index.insert(make("e", 5));  // evicts b (a was touched after it)
    CHECK(index.find(std::string_view("b"), t0) == nullptr);
    // Entries never move: a pointer stays good until its entry goes.
    CHECK(index.find(std::string_view("a"), t0) == a);
    CHECK(index.size() == 3);
    index.erase(std::string_view("a"));
    index.erase(std::string_view("nothing"));
    CHECK(index.size() == 2);
    CHECK(index.stats().size == 2);
}

TEST_CASE("LruIndex with max_entries 0 stores nothing", "[lru]") {
    Index index(0);
    CHECK(index.insert(make("a", 1)) == nullptr);
    CHECK(index.size() == 0);
    CHECK(index.find(std::string_view("a"), t0) == nullptr);
}

TEST_CASE("LruIndex: an entry the caller refuses is a miss and stays where it was", "[lru]") {
    Index index(2);
    index.insert(make("a", 1));
    index.insert(make("b", 2));  // used order: b, a
    const auto refuse = [](const Entry&) { return false; };
    CHECK(index.find(std::string_view("a"), t0, refuse) == nullptr);
    CHECK(index.stats().misses == 1);
    CHECK(index.stats().hits == 0);
    // Not touched: "a" is still the least recently used and goes first.
    index.insert(make("c", 3));
    CHECK(index.find(std::string_view("a"), t0) == nullptr);
    CHECK(index.find(std::string_view("b"), t0) != nullptr);
    const auto accept = [](const Entry& entry) { return entry.value == 3; };
    CHECK(index.find(std::string_view("c"), t0, accept) != nullptr);
    index.count_miss();
    CHECK(index.stats().misses == 3);
}
