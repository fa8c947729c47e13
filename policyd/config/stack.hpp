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

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>

#include "policyd/checks/assessment.hpp"
#include "policyd/checks/instance_cache.hpp"
#include "policyd/config/settings.hpp"
#include "resolver/resolver.hpp"
#include "resolver/upstream_health.hpp"

namespace resolver {
class CachingLookup;
}

namespace policyd {

// The assessment's limits from the settings, the Public Suffix List loaded
// and the generic-PTR vocabulary extended with the admin's words.
AssessmentOptions assessment_options(const Settings& settings);

class Stack {
  public:
    enum class Caches { on, off };
    using Tap = std::function<std::unique_ptr<resolver::Lookup>(resolver::Lookup& upstream)>;

    Stack(boost::asio::io_context& io, const Settings& settings, Caches caches,
          resolver::UpstreamHealth::ChangeHandler on_health_change = {}, const Tap& tap = {});
    ~Stack();
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    [[nodiscard]] Assessor& assessor() { return *assessor_; }
    [[nodiscard]] InstanceCache& instances() { return instances_; }
    [[nodiscard]] const resolver::UpstreamHealth& health() const { return health_; }
    [[nodiscard]] const AssessmentOptions& options() const { return options_; }

    void shutdown();

  private:
    AssessmentOptions options_;
    resolver::Resolver resolver_;
    resolver::UpstreamHealth health_;
    std::unique_ptr<resolver::Lookup> tap_;
    std::unique_ptr<resolver::CachingLookup> cache_;
    std::unique_ptr<Assessor> assessor_;
    InstanceCache instances_;
};

}  // namespace policyd
