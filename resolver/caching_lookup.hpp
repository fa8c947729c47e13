// CachingLookup: a Lookup in front of another Lookup (normally the libunbound
// Resolver) that answers from a Cache and merges identical lookups in flight.
//
// Contract (on top of the Lookup contract in resolver.hpp):
// - One io_context thread calls lookup() and runs every handler.
// - Cache hit: the cached Answer (lifetime = its remaining lifetime in the
//   cache; ttl and negative_ttl as received) is delivered
//   through boost::asio::post, never from inside lookup().
// - Miss, same key (case-insensitive name, type) already asked upstream: the
//   handler waits for that answer ("coalesced"); no second upstream lookup.
//   At most max_waiters handlers wait on one key; any beyond get temperror
//   "too many waiters" through post (not cached).
// - Miss otherwise: exactly one upstream lookup; its Answer is inserted into
//   the cache (temperror only per CacheOptions::temperror_ttl), then handed
//   to every waiter in order, each by its own call. When it was stored, its
//   lifetime is the one the cache gave it, as on a later hit; otherwise the
//   upstream's. A waiter that throws
//   does not cost the others their answer: the rest are posted and the
//   exception propagates out of the io_context's run() as usual.
// - A name the cache cannot key (empty, longer than 253 characters) goes
//   upstream uncached and uncoalesced; the upstream judges it.
// - Destroying the CachingLookup with lookups in flight is safe: their
//   waiters are still answered when the upstream answers (the upstream must
//   outlive them, as always); the answer is then simply not cached.
// - Time comes from `clock` (injected by tests).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "resolver/cache.hpp"
#include "resolver/resolver.hpp"

namespace resolver {

class CachingLookup final : public Lookup {
  public:
    struct Stats {
        CacheStats cache;
        std::uint64_t upstream_lookups = 0;  // lookups started on the upstream
        std::uint64_t coalesced = 0;         // handlers that joined one in flight
        std::uint64_t too_many_waiters = 0;  // handlers refused by max_waiters
        std::uint64_t uncacheable = 0;       // names passed through unkeyed
        std::size_t in_flight = 0;           // keys being asked upstream now
    };

    CachingLookup(boost::asio::io_context& io, Lookup& upstream, CacheOptions options,
                  std::size_t max_waiters = 1000,
                  std::function<Clock::time_point()> clock = &Clock::now);
    ~CachingLookup() override;
    CachingLookup(const CachingLookup&) = delete;
    CachingLookup& operator=(const CachingLookup&) = delete;

    void lookup(std::string_view name, RrType type, Handler handler) override;

    [[nodiscard]] const Stats& stats() const;
    // The answer cache's max_entries.
    [[nodiscard]] std::size_t capacity() const;

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace resolver
