#include "policyd/instance_cache.hpp"

namespace policyd {

const Facts* InstanceCache::find(std::string_view instance, std::string_view client,
                                 std::string_view helo, Clock::time_point now) {
    const auto found = index_.find(instance);
    if (found == index_.end()) {
        return nullptr;
    }
    const auto entry = found->second;
    if (now >= entry->expires) {
        erase(entry);
        return nullptr;
    }
    if (entry->client != client || entry->helo != helo) {
        return nullptr;
    }
    order_.splice(order_.begin(), order_, entry);
    return &entry->facts;
}

void InstanceCache::insert(std::string_view instance, std::string_view client,
                           std::string_view helo, const Facts& facts, Clock::time_point now) {
    if (max_entries_ == 0 || instance.empty()) {
        return;
    }
    if (const auto found = index_.find(instance); found != index_.end()) {
        erase(found->second);
    }
    while (index_.size() >= max_entries_) {
        erase(std::prev(order_.end()));
    }
    order_.push_front(
        Entry{std::string(instance), std::string(client), std::string(helo), facts, now + ttl_});
    index_.emplace(order_.front().instance, order_.begin());
}

bool InstanceCache::claim_header(std::string_view instance) {
    const auto found = index_.find(instance);
    if (found == index_.end() || found->second->header_claimed) {
        return false;
    }
    found->second->header_claimed = true;
    return true;
}

void InstanceCache::erase(Order::iterator entry) {
    index_.erase(entry->instance);
    order_.erase(entry);
}

}  // namespace policyd
