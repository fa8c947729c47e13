// Assessment: gathers the DNS evidence for one request and derives its Facts.
//
// Contract:
// - Runs on the io_context thread of its Resolver; assess() never completes
//   synchronously (every DNS answer arrives through the loop; a request that
//   needs no lookup still completes through a post()).
// - Only what the verdict needs is asked, in the client's own address
//   family (A for an IPv4 client, AAAA for IPv6): the PTR and the HELO
//   name's own-family lookup start together; then the own-family lookup of
//   every PTR name (at most max_ptr_names), concurrently. The other family
//   is asked for the HELO name only when its own-family answer is NODATA,
//   to tell helo_forward fail (addresses, none the client's) from none (no
//   address at all). Only a HELO name that exists with no address at all
//   (NODATA for both) is asked for its MX (helo_mx). So a new client whose
//   HELO is its PTR name costs two upstream queries (the two own-family
//   lookups of one name coalesce).
//   Each lookup has the resolver's deadline, and the whole assessment has
//   its own budget: when it runs out, the Facts are delivered with every
//   unanswered lookup counted as temperror (and budget_exhausted set); late
//   answers are dropped.
// - Postfix's client_name / reverse_client_name are never used: they come
//   from the system resolver under Postfix's own rules.
// - A lookup that could not be completed makes its fact temperror, never
//   fail or pass.
// - The caller must ensure client is a parsed address (callers refuse
//   requests whose client_address does not parse).
// - With a FactsCache, every assessment's Facts are offered to it with the
//   shortest remaining lifetime of the answers they rest on (0 when any
//   lookup failed or was cut off), and find_cached() answers a client seen
//   before synchronously, without any lookup.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "policyd/base/address.hpp"
#include "policyd/checks/alignment.hpp"
#include "policyd/checks/blocklists.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/checks/generic_ptr.hpp"
#include "policyd/checks/providers.hpp"
#include "resolver/resolver.hpp"

namespace policyd {

struct AssessmentOptions {
    std::size_t max_ptr_names = 10;
    // The whole assessment answers within this time; lookups still
    // outstanding then count as temperror (never fail).
    std::chrono::milliseconds budget{6000};
    // For HELO/PTR alignment; null leaves the fact n/a.
    std::shared_ptr<const PublicSuffixList> psl;
    // For the generic-PTR fact; null leaves it n/a.
    std::shared_ptr<const GenericPtrClassifier> generic;
    // For helo_provider (with psl); null leaves it n/a.
    std::shared_ptr<const MailProviders> mail_providers;
    // [[dnsbl]]: asked with the PTR (client), with the HELO's own-family
    // lookup (helo), and once the PTR names are forward-confirmed (ptr);
    // null or empty leaves client_dnsbl, ptr_rhsbl and helo_rhsbl n/a.
    std::shared_ptr<const Blocklists> blocklists;
};

// The facts the HELO text and the client address alone tell (the kFactFields
// entries that are not from_dns), set in `facts`; the assessment starts
// with them.
void derive_text_facts(std::string_view helo_name, const IpAddress& client, Facts& facts);

class FactsCache;

class Assessor {
  public:
    using Handler = std::function<void(Facts)>;

    Assessor(boost::asio::io_context& io, resolver::Lookup& resolver, AssessmentOptions options,
             std::shared_ptr<FactsCache> cache = nullptr)
        : io_(io), resolver_(resolver), options_(std::move(options)), cache_(std::move(cache)) {}

    // True and `facts` filled when the FactsCache holds live facts for the
    // client and HELO name; never looks anything up.
    bool find_cached(const IpAddress& client, std::string_view helo_name,
                     std::chrono::steady_clock::time_point now, Facts& facts);

    void assess(const IpAddress& client, std::string_view helo_name, Handler done);

  private:
    boost::asio::io_context& io_;
    resolver::Lookup& resolver_;
    AssessmentOptions options_;
    std::shared_ptr<FactsCache> cache_;
};

// Pure derivations, exposed for unit tests.
// iprev from the PTR answer's status, the number of usable PTR names and,
// per name, what its A and AAAA answers showed. HELO forward from the HELO
// name's A and AAAA answers.
struct ForwardEvidence {
    bool confirmed = false;  // some A/AAAA record equals the client
    bool temperror = false;  // some A/AAAA lookup failed temporarily
    bool any_address = false;
    bool near = false;  // some record is in the client's /24 or /64 (not the client)
};
Iprev derive_iprev(resolver::Status ptr_status, std::size_t ptr_names,
                   const std::vector<ForwardEvidence>& forward);
HeloForward derive_helo_forward(const ForwardEvidence& evidence);
// helo_mx from the HELO name's MX answer (a null MX, RFC 7505, reads as none).
HeloMx derive_helo_mx(resolver::Status mx_status);

}  // namespace policyd
