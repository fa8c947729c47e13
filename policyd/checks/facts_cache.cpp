// FactsCache: small entries in the shared LruIndex (policyd/base/lru_index.hpp),
// found with a key that borrows the HELO name. Each entry's HELO name and
// packed facts (policyd/checks/facts_pack.hpp) share one heap block.
#include "policyd/checks/facts_cache.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

#include "policyd/checks/facts_pack.hpp"

namespace policyd {

namespace {

constexpr std::size_t kMaxHelo = 65535;

std::size_t hash_of(const std::array<std::uint8_t, 16>& address, bool v6,
                    std::string_view helo) noexcept {
    // NOLINTNEXTLINE: hash the address bytes as a string.
    const std::string_view bytes(reinterpret_cast<const char*>(address.data()), v6 ? 16 : 4);
    const std::size_t a = std::hash<std::string_view>{}(bytes);
    const std::size_t h = std::hash<std::string_view>{}(helo);
    constexpr std::size_t kMix = 0x9e3779b97f4a7c15ULL;
    return a ^ (h + kMix + (a << 6U) + (a >> 2U));
}

}  // namespace

FactsCache::Key FactsCache::make_key(const IpAddress& client, std::string_view helo) noexcept {
    Key key;
    if (helo.size() > kMaxHelo) {
        return key;
    }
    const IpAddress address = normalise(client);
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        std::copy(bytes.begin(), bytes.end(), key.address.begin());
    } else {
        key.address = address.to_v6().to_bytes();
        key.v6 = true;
    }
    key.helo = helo;
    key.hash = hash_of(key.address, key.v6, helo);
    key.valid = true;
    return key;
}

std::string_view FactsCache::Entry::helo() const noexcept {
    return block_text(data, 0, helo_length);
}

bool FactsCache::Equal::operator()(const Entry& a, const Entry& b) const noexcept {
    return a.hash == b.hash && a.v6 == b.v6 && a.address == b.address && a.helo() == b.helo();
}

bool FactsCache::Equal::operator()(const Key& a, const Entry& b) const noexcept {
    return a.hash == b.hash && a.v6 == b.v6 && a.address == b.address && a.helo == b.helo();
}

FactsCache::FactsCache(std::size_t max_entries, std::chrono::seconds max_lifetime)
    : max_lifetime_(max_lifetime), index_(max_entries) {}

bool FactsCache::find(const IpAddress& client, std::string_view helo, Clock::time_point now,
                      Facts& facts) {
    const Key key = make_key(client, helo);
    if (!key.valid) {
        index_.count_miss();
        return false;
    }
    const Entry* entry = index_.find(key, now);
    if (entry == nullptr) {
        return false;
    }
    ByteReader in(entry->data.get());
    in.skip(entry->helo_length);
    unpack(in, facts);
    return true;
}

void FactsCache::insert(const IpAddress& client, std::string_view helo, const Facts& facts,
                        Clock::time_point now, std::chrono::seconds lifetime) {
    const Key key = make_key(client, helo);
    if (!key.valid || index_.max_entries() == 0) {
        return;
    }
    lifetime = std::min(lifetime, max_lifetime_);
    if (lifetime <= std::chrono::seconds{0} || !packable(facts)) {
        // Not storable; older facts for the pair must not outlive these.
        index_.erase(key);
        return;
    }
    Entry fresh;
    fresh.data = pack_block([&](ByteWriter& out) {
        out.bytes(helo);
        pack(facts, out);
    });
    fresh.address = key.address;
    fresh.v6 = key.v6;
    fresh.hash = key.hash;
    fresh.helo_length = static_cast<std::uint16_t>(helo.size());
    fresh.expires = now + lifetime;
    index_.insert(std::move(fresh));
}

}  // namespace policyd
