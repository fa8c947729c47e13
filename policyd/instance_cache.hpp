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
//   most ttl. max_entries == 0 disables the cache.
// The decision is still made by the rule table for each request: the
// facts are fixed, the answer may differ only by attributes the rules look
// at (a RCPT to postmaster@ may be exempt when others are not).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policyd/facts.hpp"

namespace policyd {

class InstanceCache {
  public:
    using Clock = std::chrono::steady_clock;

    InstanceCache(std::size_t max_entries, std::chrono::seconds ttl)
        : max_entries_(max_entries), ttl_(ttl) {}

    // The remembered facts, or nullptr. The pointer is valid until the next
    // insert().
    const Facts* find(std::string_view instance, std::string_view client, std::string_view helo,
                      Clock::time_point now);

    void insert(std::string_view instance, std::string_view client, std::string_view helo,
                const Facts& facts, Clock::time_point now);

    // True exactly once per remembered message: the first caller may add the
    // message's Authentication-Results header, later ones must not. False
    // when the message is not remembered.
    bool claim_header(std::string_view instance);

    [[nodiscard]] std::size_t size() const { return index_.size(); }

  private:
    struct Entry {
        std::string instance;
        std::string client;
        std::string helo;
        Facts facts;
        Clock::time_point expires;
        bool header_claimed = false;
    };
    using Order = std::list<Entry>;  // most recently used first

    void erase(Order::iterator entry);

    std::size_t max_entries_;
    std::chrono::seconds ttl_;
    Order order_;
    std::unordered_map<std::string_view, Order::iterator> index_;  // views into Entry::instance
};

}  // namespace policyd
