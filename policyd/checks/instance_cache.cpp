// InstanceCache: entries keyed by the instance string (found by string_view,
// nothing built to search) in the shared LruIndex (policyd/base/lru_index.hpp);
// each entry is one node and one block.
#include "policyd/checks/instance_cache.hpp"

#include <cstring>
#include <functional>
#include <utility>

#include "policyd/checks/facts_pack.hpp"

namespace policyd {

namespace {
constexpr std::size_t kMaxValue = 65535;
}  // namespace

std::string_view InstanceCache::Entry::instance() const noexcept {
    return block_text(data, 0, instance_length);
}

std::string_view InstanceCache::Entry::client() const noexcept {
    return block_text(data, instance_length, client_length);
}

std::string_view InstanceCache::Entry::helo() const noexcept {
    return block_text(data, instance_length + client_length, helo_length);
}

const unsigned char* InstanceCache::Entry::facts() const noexcept {
    return data.get() + instance_length + client_length + helo_length;
}

InstanceCache::Key InstanceCache::make_key(std::string_view instance) noexcept {
    return Key{instance, std::hash<std::string_view>{}(instance)};
}

bool InstanceCache::find(std::string_view instance, std::string_view client, std::string_view helo,
                         Clock::time_point now, Facts& facts, bool& header_sent) {
    // A reused or forged instance value is a miss: it neither borrows nor
    // keeps alive another client's entry.
    const Entry* entry = index_.find(make_key(instance), now, [&](const Entry& candidate) {
        return candidate.client() == client && candidate.helo() == helo;
    });
    if (entry == nullptr) {
        return false;
    }
    ByteReader in(entry->facts());
    unpack(in, facts);
    header_sent = entry->header_sent;
    return true;
}

void InstanceCache::insert(std::string_view instance, std::string_view client,
                           std::string_view helo, const Facts& facts, Clock::time_point now,
                           bool header_sent) {
    if (index_.max_entries() == 0 || instance.empty()) {
        return;
    }
    const Key key = make_key(instance);
    if (!packable(facts) || instance.size() > kMaxValue || client.size() > kMaxValue ||
        helo.size() > kMaxValue) {
        index_.erase(key);
        return;
    }
    Entry fresh;
    fresh.data = pack_block([&](ByteWriter& out) {
        out.bytes(instance);
        out.bytes(client);
        out.bytes(helo);
        pack(facts, out);
    });
    fresh.instance_length = static_cast<std::uint16_t>(instance.size());
    fresh.client_length = static_cast<std::uint16_t>(client.size());
    fresh.helo_length = static_cast<std::uint16_t>(helo.size());
    fresh.expires = now + ttl_;
    fresh.hash = key.hash;
    fresh.header_sent = header_sent;
    index_.insert(std::move(fresh));
}

}  // namespace policyd
