#include "policyd/config/stack.hpp"

#include <chrono>
#include <utility>

#include "policyd/checks/facts_cache.hpp"
#include "policyd/config/providers_file.hpp"
#include "resolver/caching_lookup.hpp"
#include "resolver/lookup_meter.hpp"

namespace policyd {
namespace {

resolver::CacheOptions cache_options(const Settings& settings) {
    resolver::CacheOptions options;
    options.max_entries = static_cast<std::size_t>(settings.cache_size);
    options.min_ttl = std::chrono::seconds(settings.cache_min_ttl_s);
    options.max_ttl = std::chrono::seconds(settings.cache_max_ttl_s);
    options.negative_max_ttl = std::chrono::seconds(settings.cache_negative_max_ttl_s);
    options.temperror_ttl = std::chrono::seconds(settings.cache_temperror_ttl_s);
    return options;
}

resolver::HealthOptions health_options(const Settings& settings) {
    resolver::HealthOptions options;
    options.window = std::chrono::seconds(settings.outage_window_s);
    options.threshold_percent = static_cast<unsigned>(settings.outage_threshold_percent);
    options.min_lookups = static_cast<std::uint64_t>(settings.outage_min_lookups);
    return options;
}

}  // namespace

AssessmentOptions assessment_options(const Config& config) {
    const Settings& settings = config.settings;
    const ProviderMap& providers = config.providers ? *config.providers : *shipped_providers();
    AssessmentOptions options;
    options.max_ptr_names = static_cast<std::size_t>(settings.max_ptr_names);
    options.budget = std::chrono::milliseconds(settings.budget_ms);
    options.psl = PublicSuffixList::load_default();
    auto vocabulary = GenericPtrVocabulary::defaults();
    vocabulary.generic_keywords.insert(vocabulary.generic_keywords.end(),
                                       settings.generic_ptr_keywords.begin(),
                                       settings.generic_ptr_keywords.end());
    vocabulary.static_keywords.insert(vocabulary.static_keywords.end(),
                                      settings.static_ptr_keywords.begin(),
                                      settings.static_ptr_keywords.end());
    vocabulary.provider_keywords.insert(vocabulary.provider_keywords.end(),
                                        settings.provider_ptr_keywords.begin(),
                                        settings.provider_ptr_keywords.end());
    vocabulary.hosting = providers.hosting;
    vocabulary.access = providers.access;
    options.generic =
        std::make_shared<const GenericPtrClassifier>(std::move(vocabulary), options.psl);
    options.mail_providers = std::make_shared<const MailProviders>(providers.mail);
    options.blocklists = config.blocklists;
    return options;
}

Stack::Stack(boost::asio::io_context& io, const Config& config, Caches caches,
             resolver::UpstreamHealth::ChangeHandler on_health_change, const Tap& tap)
    : options_(assessment_options(config)),
      resolver_(io, config.settings.resolver_options()),
      // The meter and the health watch see only what really goes upstream:
      // they sit behind every cache.
      meter_(std::make_unique<resolver::LookupMeter>(resolver_)),
      health_(*meter_, health_options(config.settings), std::move(on_health_change)),
      instances_(
          caches == Caches::on ? static_cast<std::size_t>(config.settings.instance_cache_size) : 0,
          std::chrono::seconds(config.settings.instance_ttl_s)) {
    resolver::Lookup* lookup = &health_;
    if (tap) {
        tap_ = tap(*lookup);
        lookup = tap_.get();
    }
    if (caches == Caches::on) {
        cache_ = std::make_unique<resolver::CachingLookup>(
            io, *lookup, cache_options(config.settings),
            static_cast<std::size_t>(config.settings.max_waiters));
        lookup = cache_.get();
        facts_ =
            std::make_shared<FactsCache>(static_cast<std::size_t>(config.settings.cache_clients),
                                         std::chrono::seconds(config.settings.cache_max_ttl_s));
    }
    lookup_ = lookup;
    assessor_ = std::make_unique<Assessor>(io, *lookup, options_, facts_);
}

Stack::~Stack() = default;

std::array<Stack::CacheReport, 3> Stack::caches() const {
    std::array<CacheReport, 3> report{};
    report[0].name = "answers";
    report[1].name = "clients";
    report[2].name = "messages";
    if (cache_) {
        report[0].stats = cache_->stats().cache;
        report[0].capacity = cache_->capacity();
    }
    if (facts_) {
        report[1].stats = facts_->stats();
        report[1].capacity = facts_->capacity();
    }
    report[2].stats = instances_.stats();
    report[2].capacity = instances_.capacity();
    return report;
}

std::uint64_t Stack::coalesced() const {
    return cache_ ? cache_->stats().coalesced : 0;
}

std::uint64_t Stack::waiters_refused() const {
    return cache_ ? cache_->stats().too_many_waiters : 0;
}

void Stack::shutdown() {
    resolver_.shutdown();
}

}  // namespace policyd
