#include "policyd/checks/assessment.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "policyd/base/dns_name.hpp"
#include "policyd/checks/facts_cache.hpp"
#include "policyd/checks/helo.hpp"
#include "resolver/reverse_name.hpp"

namespace policyd {
namespace {

using resolver::Answer;
using resolver::RrType;
using resolver::Status;

// The DNSSEC status of a set of answers: bogus beats insecure beats secure;
// no answer at all cannot be secure.
struct DnssecTally {
    bool any = false;
    Dnssec value = Dnssec::secure;

    void add(const Answer& answer) {
        const Dnssec status = answer.bogus    ? Dnssec::bogus
                              : answer.secure ? Dnssec::secure
                                              : Dnssec::insecure;
        any = true;
        if (status == Dnssec::bogus || (status == Dnssec::insecure && value == Dnssec::secure)) {
            value = status;
        }
    }
    void add(const DnssecTally& other) {
        if (!other.any) {
            value = value == Dnssec::bogus ? Dnssec::bogus : Dnssec::insecure;
            return;
        }
        any = true;
        if (other.value == Dnssec::bogus ||
            (other.value == Dnssec::insecure && value == Dnssec::secure)) {
            value = other.value;
        }
    }
    [[nodiscard]] Dnssec result() const { return any ? value : Dnssec::insecure; }
};

// Collects A and AAAA answers for one name.
struct ForwardState {
    std::string name;
    ForwardEvidence evidence;
    DnssecTally dnssec;
    int pending = 0;  // lookups not answered yet

    void add(const Answer& answer, const IpAddress& client) {
        --pending;
        dnssec.add(answer);
        switch (answer.status) {
            case Status::ok:
                for (const auto& address : answer.addresses) {
                    evidence.any_address = true;
                    if (same_address(address, client)) {
                        evidence.confirmed = true;
                    } else if (same_network(address, client)) {
                        evidence.near = true;
                    }
                }
                break;
            case Status::nxdomain:
            case Status::nodata:
                break;
            case Status::temperror:
                evidence.temperror = true;
                break;
        }
    }

    // The budget ran out: what never answered could not be told.
    void cut_off() {
        if (pending > 0) {
            evidence.temperror = true;
            dnssec.add(DnssecTally{});  // what did not answer was not validated
        }
    }
};

// One assessment in progress. Shared by the resolver callbacks it starts;
// the last one to finish, or the budget timer, hands the Facts to the caller.
// Answers that arrive after that are dropped.
struct Job : std::enable_shared_from_this<Job> {
    resolver::Lookup& resolver;
    AssessmentOptions options;
    IpAddress client;
    Facts facts;
    Assessor::Handler done;
    std::shared_ptr<FactsCache> cache;  // null: facts are not kept
    std::string helo_sent;              // the cache key's HELO part, as sent
    // When the first answer used stops being valid: the facts may be reused
    // until then. Taken when each answer arrives, so the time the other
    // lookups took is not added on top.
    std::chrono::steady_clock::time_point reusable_until =
        std::chrono::steady_clock::time_point::max();
    boost::asio::steady_timer budget;
    int outstanding = 0;
    bool finished = false;
    bool ptr_answered = false;
    Status ptr_status = Status::temperror;
    DnssecTally ptr_dnssec;
    std::vector<ForwardState> ptr_forward;
    ForwardState helo_forward;
    // Only an address of the client's own family can confirm it: that
    // family is asked; the other only when a fact value needs it.
    RrType own_family = RrType::a;
    RrType other_family = RrType::aaaa;
    bool mx_pending = false;  // the HELO name's MX was asked and not answered
    // One per configured blocklist, in its order; asked or not.
    struct BlocklistState {
        bool asked = false;
        bool answered = false;
        Listing listing;
    };
    std::vector<BlocklistState> lists;
    bool ptr_lists_started = false;

    Job(boost::asio::io_context& io, resolver::Lookup& r, AssessmentOptions o, const IpAddress& c,
        Assessor::Handler d, std::shared_ptr<FactsCache> k)
        : resolver(r),
          options(std::move(o)),
          client(c),
          done(std::move(d)),
          cache(std::move(k)),
          budget(io) {}

    void used(const Answer& answer) {
        // How long facts resting on this answer may be reused: its
        // resolver::Answer::lifetime, and never for a temporary error (even
        // one the answer cache keeps for a few seconds). A cached answer's
        // lifetime is rounded up to a whole second: count one less.
        const std::chrono::seconds life{answer.status == Status::temperror ? 0 : answer.lifetime};
        const auto until = life > std::chrono::seconds{1}
                               ? std::chrono::steady_clock::now() + life - std::chrono::seconds{1}
                               : std::chrono::steady_clock::time_point::min();
        reusable_until = std::min(reusable_until, until);
    }

    void start(std::string_view helo_name) {
        if (cache) {
            helo_sent = helo_name;
        }
        if (client.is_v6()) {
            own_family = RrType::aaaa;
            other_family = RrType::a;
        }
        derive_text_facts(helo_name, client, facts);
        budget.expires_after(options.budget);
        budget.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (!ec) {
                self->cut_off();
            }
        });
        ++outstanding;  // held by start() itself until every lookup is issued
        lookup_ptr();
        if (options.blocklists) {
            lists.resize(options.blocklists->size());
            for (std::size_t i = 0; i < lists.size(); ++i) {
                const Blocklist& list = (*options.blocklists)[i];
                if (list.target == BlocklistTarget::client) {
                    lookup_list(i, {});
                } else if (list.target == BlocklistTarget::helo &&
                           facts.helo_syntax == HeloSyntax::fqdn && options.psl) {
                    lookup_list(i, options.psl->org_domain(helo_name));
                }
            }
        }
        if (facts.helo_syntax == HeloSyntax::fqdn) {
            helo_forward.name = normalise_name(helo_name);
            lookup_helo(own_family);
        }
        release();
    }

    void lookup_ptr() {
        ++outstanding;
        resolver.lookup(
            resolver::reverse_name(client), RrType::ptr,
            [self = shared_from_this()](Answer answer) { self->on_ptr(std::move(answer)); });
    }

    void on_ptr(Answer answer) {
        if (finished) {
            return;
        }
        ptr_answered = true;
        used(answer);
        ptr_status = answer.status;
        ptr_dnssec.add(answer);
        if (answer.status == Status::ok) {
            for (auto& name : answer.names) {
                if (facts.ptr_names.size() >= options.max_ptr_names) {
                    break;
                }
                facts.ptr_names.push_back(std::move(name));
            }
            ptr_forward.resize(facts.ptr_names.size());
            // iprev needs only the client's family: an A record never
            // confirms an IPv6 client, nor an AAAA an IPv4 one, and a
            // temporary failure of the other family changes no verdict.
            for (std::size_t i = 0; i < facts.ptr_names.size(); ++i) {
                ptr_forward[i].name = facts.ptr_names[i];
                lookup_forward(i, own_family);
            }
        }
        release();
    }

    void lookup_forward(std::size_t index, RrType type) {
        ++outstanding;
        ++ptr_forward[index].pending;
        resolver.lookup(ptr_forward[index].name, type,
                        [self = shared_from_this(), index](const Answer& answer) {
                            if (self->finished) {
                                return;
                            }
                            self->used(answer);
                            self->ptr_forward[index].add(answer, self->client);
                            self->release();
                        });
    }

    void lookup_helo(RrType type) {
        ++outstanding;
        ++helo_forward.pending;
        resolver.lookup(helo_forward.name, type,
                        [self = shared_from_this(), type](const Answer& answer) {
                            if (self->finished) {
                                return;
                            }
                            self->used(answer);
                            self->helo_forward.add(answer, self->client);
                            // No record of the client's family: helo_forward
                            // is fail when the name has addresses of the
                            // other family, none when it has no address at
                            // all. Only NODATA leaves that open (NXDOMAIN is
                            // the whole name). A name with no address at all
                            // may still have an MX (helo_mx).
                            if (answer.status == Status::nxdomain) {
                                self->facts.helo_mx = HeloMx::none;
                            } else if (answer.status == Status::nodata) {
                                if (type == self->own_family) {
                                    self->lookup_helo(self->other_family);
                                } else {
                                    self->lookup_mx();
                                }
                            }
                            self->release();
                        });
    }

    // Asked only for a HELO name that exists without any address.
    void lookup_mx() {
        ++outstanding;
        mx_pending = true;
        resolver.lookup(helo_forward.name, RrType::mx,
                        [self = shared_from_this()](const Answer& answer) {
                            if (self->finished) {
                                return;
                            }
                            self->used(answer);
                            self->mx_pending = false;
                            self->facts.helo_mx = derive_helo_mx(answer.status);
                            self->release();
                        });
    }

    // One blocklist's lookup of `domain` (or of the client address).
    void lookup_list(std::size_t index, const std::string& domain) {
        const Blocklist& list = (*options.blocklists)[index];
        const std::string name = blocklist_query(list, client, domain);
        if (name.empty()) {
            return;  // nothing to ask: n/a
        }
        lists[index].asked = true;
        ++outstanding;
        resolver.lookup(name, RrType::a, [self = shared_from_this(), index](const Answer& answer) {
            if (self->finished) {
                return;
            }
            self->used(answer);
            self->lists[index].answered = true;
            self->lists[index].listing = read_listing((*self->options.blocklists)[index], answer);
            self->release();
        });
    }

    // Once the PTR names are forward-confirmed: the check = "ptr" lists,
    // on the first verified name's organisational domain. True when any
    // lookup started (the assessment then waits for them).
    bool start_ptr_lists() {
        ptr_lists_started = true;
        if (!options.blocklists || !options.psl) {
            return false;
        }
        const auto verified =
            std::find_if(ptr_forward.begin(), ptr_forward.end(),
                         [](const ForwardState& s) { return s.evidence.confirmed; });
        if (verified == ptr_forward.end()) {
            return false;
        }
        const std::string domain = options.psl->org_domain(verified->name);
        const int before = outstanding;
        for (std::size_t i = 0; i < lists.size(); ++i) {
            if ((*options.blocklists)[i].target == BlocklistTarget::ptr) {
                lookup_list(i, domain);
            }
        }
        return outstanding != before;
    }

    void release() {
        if (--outstanding == 0) {
            ++outstanding;  // held while the last stage starts
            const bool more = !ptr_lists_started && start_ptr_lists();
            if (--outstanding == 0 && !more) {
                finish();
            }
        }
    }

    void cut_off() {
        if (finished) {
            return;
        }
        if (!ptr_answered) {
            ptr_status = Status::temperror;
        }
        for (auto& state : ptr_forward) {
            state.cut_off();
        }
        helo_forward.cut_off();
        if (mx_pending) {
            facts.helo_mx = HeloMx::temperror;
        }
        for (auto& list : lists) {
            if (list.asked && !list.answered) {
                list.listing = Listing{ListingStatus::temperror, {}};
                list.answered = true;
            }
        }
        facts.budget_exhausted = true;
        reusable_until = std::chrono::steady_clock::time_point::min();
        finish();
    }

    // client_dnsbl, ptr_rhsbl, helo_rhsbl and the listings, from the lists
    // that were asked.
    void derive_blocklists() {
        if (!options.blocklists) {
            return;
        }
        for (std::size_t i = 0; i < lists.size(); ++i) {
            const Blocklist& list = (*options.blocklists)[i];
            DnsblResult& fact = list.target == BlocklistTarget::client ? facts.client_dnsbl
                                : list.target == BlocklistTarget::ptr  ? facts.ptr_rhsbl
                                                                       : facts.helo_rhsbl;
            if (!lists[i].asked) {
                continue;
            }
            switch (lists[i].listing.status) {
                case ListingStatus::listed:
                    fact = DnsblResult::listed;
                    facts.listings.push_back(list.name + ":" + lists[i].listing.label);
                    break;
                case ListingStatus::temperror:
                    if (fact != DnsblResult::listed) {
                        fact = DnsblResult::temperror;
                    }
                    break;
                case ListingStatus::not_listed:
                    if (fact == DnsblResult::na) {
                        fact = DnsblResult::not_listed;
                    }
                    break;
            }
        }
    }

    void finish() {
        finished = true;
        budget.cancel();
        std::vector<ForwardEvidence> forward;
        forward.reserve(ptr_forward.size());
        for (const auto& state : ptr_forward) {
            forward.push_back(state.evidence);
            if (state.evidence.confirmed) {
                facts.verified_names.push_back(state.name);
            }
        }
        facts.iprev = derive_iprev(ptr_status, facts.ptr_names.size(), forward);
        DnssecTally iprev_dnssec = ptr_dnssec;
        for (const auto& state : ptr_forward) {
            // A pass rests on the confirming names only.
            if (facts.iprev != Iprev::pass || state.evidence.confirmed) {
                iprev_dnssec.add(state.dnssec);
            }
        }
        facts.iprev_dnssec = iprev_dnssec.result();
        facts.helo_dnssec = helo_forward.dnssec.result();
        facts.helo_forward = facts.helo_syntax == HeloSyntax::fqdn
                                 ? derive_helo_forward(helo_forward.evidence)
                                 : HeloForward::na;
        if (const std::string_view name = representative_ptr(facts); !name.empty()) {
            if (options.generic) {
                facts.generic_ptr = options.generic->classify(name, client);
            }
            if (options.psl) {
                facts.ptr_tld = options.psl->known_tld(name) ? PtrTld::known : PtrTld::unknown;
            }
        }
        if (facts.helo_syntax == HeloSyntax::fqdn && options.psl) {
            facts.helo_ptr_alignment =
                align_helo_ptr(helo_forward.name, facts.verified_names, *options.psl);
            if (options.mail_providers) {
                facts.helo_provider =
                    judge_helo_provider(helo_forward.name, facts.verified_names, facts.iprev,
                                        *options.mail_providers, *options.psl);
            }
        }
        derive_blocklists();
        if (cache) {
            const auto now = FactsCache::Clock::now();
            const auto lifetime =
                reusable_until > now
                    ? std::chrono::floor<std::chrono::seconds>(reusable_until - now)
                    : std::chrono::seconds{0};
            cache->insert(client, helo_sent, facts, now, lifetime);
        }
        auto handler = std::move(done);
        handler(std::move(facts));
    }
};

}  // namespace

void derive_text_facts(std::string_view helo_name, const IpAddress& client, Facts& facts) {
    facts.helo_syntax = classify_helo(helo_name);
    facts.helo_literal = match_helo_literal(helo_name, client);
    facts.helo_literal_form = helo_literal_form(helo_name);
}

Iprev derive_iprev(Status ptr_status, std::size_t ptr_names,
                   const std::vector<ForwardEvidence>& forward) {
    switch (ptr_status) {
        case Status::temperror:
            return Iprev::temperror;
        case Status::nxdomain:
        case Status::nodata:
            return Iprev::permerror;
        case Status::ok:
            break;
    }
    // A PTR answer whose every name was unusable counts as no PTR.
    if (ptr_names == 0) {
        return Iprev::permerror;
    }
    bool temperror = false;
    for (const auto& evidence : forward) {
        if (evidence.confirmed) {
            return Iprev::pass;
        }
        temperror = temperror || evidence.temperror;
    }
    // Could not confirm, but a forward lookup we could not finish might have.
    return temperror ? Iprev::temperror : Iprev::fail;
}

HeloMx derive_helo_mx(Status mx_status) {
    switch (mx_status) {
        case Status::ok:
            return HeloMx::present;
        case Status::nxdomain:
        case Status::nodata:
            return HeloMx::none;
        case Status::temperror:
            break;
    }
    return HeloMx::temperror;
}

HeloForward derive_helo_forward(const ForwardEvidence& evidence) {
    if (evidence.confirmed) {
        return HeloForward::pass;
    }
    if (evidence.temperror) {
        return HeloForward::temperror;
    }
    if (evidence.near) {
        return HeloForward::same_network;
    }
    if (!evidence.any_address) {
        return HeloForward::none;
    }
    return HeloForward::fail;
}

bool Assessor::find_cached(const IpAddress& client, std::string_view helo_name,
                           std::chrono::steady_clock::time_point now, Facts& facts) {
    return cache_ && cache_->find(client, helo_name, now, facts);
}

void Assessor::assess(const IpAddress& client, std::string_view helo_name, Handler done) {
    auto job =
        std::make_shared<Job>(io_, resolver_, options_, normalise(client), std::move(done), cache_);
    // Every path ends in a resolver answer (the PTR lookup is always made),
    // and the resolver never answers synchronously, so neither does this.
    job->start(helo_name);
}

}  // namespace policyd
