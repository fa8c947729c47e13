// Stack: the lookups every assessment runs on, built from the settings in
// exactly one place, for the daemon, `explain` and `test` alike:
//
//   Assessor --> [FactsCache] --> [CachingLookup: answer cache, coalescing]
//            --> [tap] --> UpstreamHealth --> Resolver (libunbound)
//
// plus the InstanceCache (the facts of each message).
//
// Contract:
// - Built at start-up on the io_context that will run it; the constructor
//   throws std::runtime_error naming what failed (a resolver option, the
//   Public Suffix List, a generic-PTR keyword).
// - Caches::on (the daemon) keeps answers, clients and messages as the
//   [cache] and [daemon] settings say; Caches::off (explain, `test`'s live
//   cases) keeps nothing, so every lookup is made fresh.
// - `tap`, when given, is put between the assessment's lookups and the
//   health watch (explain records every lookup and answer there).
// - Single-threaded, like everything on the loop; shutdown() cancels the
//   lookups in flight (their handlers still run, with temperror).
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "policyd/base/lru_index.hpp"
#include "policyd/checks/assessment.hpp"
#include "policyd/checks/instance_cache.hpp"
#include "policyd/config/settings.hpp"
#include "resolver/resolver.hpp"
#include "resolver/upstream_health.hpp"

namespace resolver {
class CachingLookup;
class LookupMeter;
}  // namespace resolver

namespace policyd {

// The assessment's limits from the settings, the Public Suffix List loaded,
// the generic-PTR vocabulary extended with the admin's words and the
// configuration's providers map.
AssessmentOptions assessment_options(const Config& config);

class Stack {
  public:
    enum class Caches { on, off };
    using Tap = std::function<std::unique_ptr<resolver::Lookup>(resolver::Lookup& upstream)>;

    Stack(boost::asio::io_context& io, const Config& config, Caches caches,
          resolver::UpstreamHealth::ChangeHandler on_health_change = {}, const Tap& tap = {});
    ~Stack();
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    [[nodiscard]] Assessor& assessor() { return *assessor_; }
    // The lookup the assessor asks (behind the caches, when they are on),
    // for a tool's own lookups of the same kind (doctor's blocklists).
    [[nodiscard]] resolver::Lookup& lookup() { return *lookup_; }
    [[nodiscard]] InstanceCache& instances() { return instances_; }
    [[nodiscard]] const resolver::UpstreamHealth& health() const { return health_; }
    [[nodiscard]] const AssessmentOptions& options() const { return options_; }
    // What went upstream (behind every cache): answers by type and outcome,
    // their latency, lookups in flight.
    [[nodiscard]] const resolver::LookupMeter& meter() const { return *meter_; }

    // The three caches, for metrics; a cache that is off (Caches::off, or
    // its size 0) reports zeros and capacity 0.
    struct CacheReport {
        std::string_view name;  // "answers", "clients", "messages"
        LruStats stats;
        std::size_t capacity = 0;
    };
    [[nodiscard]] std::array<CacheReport, 3> caches() const;
    // The answer cache's coalescing: handlers that joined a lookup in
    // flight, and those refused by cache.max_waiters.
    [[nodiscard]] std::uint64_t coalesced() const;
    [[nodiscard]] std::uint64_t waiters_refused() const;

    void shutdown();

  private:
    AssessmentOptions options_;
    resolver::Resolver resolver_;
    std::unique_ptr<resolver::LookupMeter> meter_;
    resolver::UpstreamHealth health_;
    std::unique_ptr<resolver::Lookup> tap_;
    resolver::Lookup* lookup_ = nullptr;
    std::unique_ptr<resolver::CachingLookup> cache_;
    std::shared_ptr<FactsCache> facts_;
    std::unique_ptr<Assessor> assessor_;
    InstanceCache instances_;
};

}  // namespace policyd
