// CachingLookup: the shared State is owned by the CachingLookup; the handler
// given to the upstream holds only a weak reference to it plus a strong one to
// its Flight (the waiters), so waiters are answered even if the CachingLookup
// is gone by then, and nothing dangles.
//
// Ordering on an upstream answer: the flight leaves the map and the answer
// enters the cache before any waiter runs, so a waiter that asks the same
// question again gets a cache hit (or a fresh flight), never this finished one.
#include "resolver/caching_lookup.hpp"

#include <boost/asio/post.hpp>
#include <exception>
#include <unordered_map>
#include <utility>
#include <vector>

namespace resolver {

namespace {

struct Flight {
    std::vector<Lookup::Handler> waiters;
    std::size_t next = 0;  // first waiter not yet handed the answer
    Answer answer;
};

// Hands the answer to waiters[next...], one call each. If one throws, the
// rest are posted as a continuation before the exception goes on to run().
void run_waiters(boost::asio::io_context& io, const std::shared_ptr<Flight>& flight) {
    auto& waiters = flight->waiters;
    while (flight->next < waiters.size()) {
        Lookup::Handler handler = std::move(waiters[flight->next]);
        ++flight->next;
        Answer answer = flight->next == waiters.size() ? std::move(flight->answer) : flight->answer;
        try {
            handler(std::move(answer));
        } catch (...) {
            if (flight->next < waiters.size()) {
                boost::asio::post(io, [&io, flight] { run_waiters(io, flight); });
            }
            throw;
        }
    }
}

Answer temperror(const char* why) {
    Answer answer;
    answer.status = Status::temperror;
    answer.error = why;
    return answer;
}

}  // namespace

struct CachingLookup::State {
    State(boost::asio::io_context& i, Lookup& u, CacheOptions options, std::size_t m,
          std::function<Clock::time_point()> c)
        : io(i), upstream(u), cache(options), max_waiters(m), clock(std::move(c)) {}

    void post(Handler handler, Answer answer) {
        boost::asio::post(io, [handler = std::move(handler), answer = std::move(answer)]() mutable {
            handler(std::move(answer));
        });
    }

    boost::asio::io_context& io;
    Lookup& upstream;
    Cache cache;
    std::size_t max_waiters;
    std::function<Clock::time_point()> clock;
    std::unordered_map<StoredKey, std::shared_ptr<Flight>, CacheKeyHash, CacheKeyEqual> flights;
    Stats stats;
};

CachingLookup::CachingLookup(boost::asio::io_context& io, Lookup& upstream, CacheOptions options,
                             std::size_t max_waiters, std::function<Clock::time_point()> clock)
    : state_(std::make_shared<State>(io, upstream, options, max_waiters,
                                     clock ? std::move(clock) : &Clock::now)) {}

CachingLookup::~CachingLookup() = default;

void CachingLookup::lookup(std::string_view name, RrType type, Handler handler) {
    if (!handler) {
        return;
    }
    State& s = *state_;
    const CacheKey key(name, type);
    if (!key.valid()) {
        ++s.stats.uncacheable;
        ++s.stats.upstream_lookups;
        s.upstream.lookup(name, type, std::move(handler));
        return;
    }
    if (auto hit = s.cache.find(key, s.clock())) {
        s.post(std::move(handler), std::move(*hit));
        return;
    }
    if (const auto it = s.flights.find(key); it != s.flights.end()) {
        auto& waiters = it->second->waiters;
        if (waiters.size() >= s.max_waiters) {
            ++s.stats.too_many_waiters;
            s.post(std::move(handler), temperror("too many waiters"));
            return;
        }
        ++s.stats.coalesced;
        waiters.push_back(std::move(handler));
        return;
    }

    const auto flight = std::make_shared<Flight>();
    flight->waiters.push_back(std::move(handler));
    const auto inserted =
        s.flights.try_emplace(StoredKey{std::string(key.name()), key.type()}, flight).first;
    // The map node, and so this key, lives until the answer below removes it.
    const StoredKey* stored = &inserted->first;
    ++s.stats.upstream_lookups;
    boost::asio::io_context* io = &s.io;
    try {
        s.upstream.lookup(name, type,
                          [weak = std::weak_ptr<State>(state_), flight, stored, io](Answer answer) {
                              if (const auto state = weak.lock()) {
                                  const auto life = state->cache.insert(
                                      CacheKey(stored->name, stored->type), answer, state->clock());
                                  // As on a hit: how long the cache serves it.
                                  if (life.count() > 0) {
                                      answer.lifetime = static_cast<std::uint32_t>(life.count());
                                  }
                                  // Erased by iterator: `stored` lives in the node being freed.
                                  state->flights.erase(state->flights.find(*stored));
                              }
                              flight->answer = std::move(answer);
                              run_waiters(*io, flight);
                          });
    } catch (...) {
        // The upstream could not even take the lookup (out of memory): answer
        // the waiters rather than leave them hanging on a flight that never lands.
        s.flights.erase(s.flights.find(*stored));
        flight->answer = temperror("internal error");
        boost::asio::post(s.io, [io, flight] { run_waiters(*io, flight); });
    }
}

std::size_t CachingLookup::capacity() const {
    return state_->cache.options().max_entries;
}

const CachingLookup::Stats& CachingLookup::stats() const {
    state_->stats.cache = state_->cache.stats();
    state_->stats.in_flight = state_->flights.size();
    return state_->stats;
}

}  // namespace resolver
