// Resolver: libunbound driven from the Asio event loop.
//
// Contract:
// - One Resolver per io_context; every member function is called on the
//   io_context's thread, and every handler runs there too.
// - lookup() never completes synchronously: the handler is always invoked
//   later, through the io_context, exactly once, with an Answer (a timeout,
//   a resolver error and shutdown included; those are Status::temperror).
// - Each lookup has a deadline (ResolverOptions::timeout); libunbound has
//   none of its own, so the Resolver cancels the query (ub_cancel) and answers
//   temperror "timeout".
// - Answers are hostile data: at most max_records names/addresses are kept;
//   names are lower-cased and lose their trailing dot.
// - The constructor throws std::runtime_error with a message naming the bad
//   option (unreadable unbound config, bad forwarder, unreadable or invalid
//   trust anchor, malformed local_data record) at start-up: it forces
//   libunbound to read its configuration then, so no option can be changed
//   afterwards and no bad anchor surfaces later as failing lookups.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resolver {

enum class RrType : std::uint16_t { a = 1, ptr = 12, mx = 15, aaaa = 28 };

enum class Status {
    ok,         // NOERROR with data of the asked type
    nxdomain,   // the name does not exist
    nodata,     // the name exists, no record of that type
    temperror,  // SERVFAIL, REFUSED, timeout, resolver error, shutdown
};

std::string_view to_string(Status status);
std::string_view to_string(RrType type);  // "A", "PTR", "MX", "AAAA"

// Every type the resolver asks, for listings (metrics name each one).
inline constexpr std::array<RrType, 4> kRrTypes{RrType::ptr, RrType::a, RrType::aaaa, RrType::mx};

// Answer::error of a lookup the Resolver's own deadline cut off.
inline constexpr std::string_view kTimeoutError = "timeout";

struct Answer {
    Status status = Status::temperror;
    int rcode = 0;          // DNS rcode as received (0 when none arrived)
    std::uint32_t ttl = 0;  // the answer's TTL as libunbound reported it
    // NXDOMAIN/NODATA: min(SOA TTL, SOA MINIMUM) of the authority section's
    // SOA (RFC 2308 section 5); 0 when there is none.
    std::uint32_t negative_ttl = 0;
    // Seconds this answer may still be relied on. The Resolver sets what the
    // TTLs allow: ttl for data, negative_ttl (else ttl) for NXDOMAIN and
    // NODATA, 0 for temperror. A cache in front of it (resolver/cache.hpp)
    // sets how long it still keeps the answer: the TTL clamped to its
    // [min_ttl, max_ttl] (or its negative and temperror limits), less the
    // time since it was stored, rounded up. ttl and negative_ttl stay as
    // received. The assessment keeps facts no longer than their answers'.
    std::uint32_t lifetime = 0;
    std::string canonical_name;  // after following CNAMEs (lower case, no dot)
    // PTR targets, or MX exchanges, lowest preference first (lower case, no
    // trailing dot; a null MX, RFC 7505's ".", gives no name: NODATA).
    std::vector<std::string> names;
    std::vector<boost::asio::ip::address> addresses;  // A / AAAA data
    std::string error;    // why, for temperror ("timeout", "SERVFAIL", ...)
    bool secure = false;  // DNSSEC-validated
    bool bogus = false;   // DNSSEC validation failed
};

// What became of one lookup, for metrics: the Status, with temperror told
// apart by its cause (the rcode the upstream sent, our deadline, DNSSEC, or
// anything else: a resolver error, shutdown, a name that cannot be asked).
enum class Outcome : std::uint8_t {
    ok,
    nxdomain,
    nodata,
    servfail,
    refused,
    timeout,
    bogus,
    error
};
inline constexpr std::array<std::string_view, 8> kOutcomeWords{
    "ok", "nxdomain", "nodata", "servfail", "refused", "timeout", "bogus", "error"};
Outcome outcome_of(const Answer& answer);

// A forwarder as the configuration writes it: "IP" or "IP@PORT", IPv6
// included ("2001:db8::53@5353": the port follows the last '@'); the port is
// 1..65535, 53 when not given. The one parser of forwarders: the settings
// validate with it and the Resolver configures libunbound with it.
struct Forwarder {
    boost::asio::ip::address address;
    std::uint16_t port = 53;
};
// nullopt with `why` ("not an IP address", "bad port", "port out of range").
std::optional<Forwarder> parse_forwarder(std::string_view text, std::string& why);

struct ResolverOptions {
    enum class Upstream {
        system,     // the nameservers of /etc/resolv.conf
        forward,    // the forwarders below
        recursive,  // full recursion from the root hints
    };
    Upstream upstream = Upstream::system;
    std::vector<std::string> forwarders;  // "IP" or "IP@PORT"
    std::string unbound_config;           // libunbound config file, applied first; "" = none
    // DNSSEC validation: off unless a trust anchor is given. A fixed anchor
    // file (Debian's dns-root-data: /usr/share/dns/root.key) or an RFC 5011
    // auto-updated one (must be writable); with both empty, answers are
    // neither secure nor bogus.
    std::string trust_anchor_file;
    std::string auto_trust_anchor_file;
    // Records the admin pins (libunbound local-data syntax, e.g.
    // "mail.internal.example. 300 IN A 192.0.2.25"); answered locally.
    std::vector<std::string> local_data;
    std::chrono::milliseconds timeout{3000};
    std::size_t max_records = 32;
};

// What the assessment needs from a resolver: one asynchronous lookup with
// the guarantees listed at the top of this file. Resolver implements it on
// libunbound; layers in front of it (cache, coalescing) implement it too.
class Lookup {
  public:
    using Handler = std::function<void(Answer)>;

    virtual ~Lookup() = default;
    virtual void lookup(std::string_view name, RrType type, Handler handler) = 0;
};

class Resolver final : public Lookup {
  public:
    Resolver(boost::asio::io_context& io, const ResolverOptions& options);
    ~Resolver() override;
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    void lookup(std::string_view name, RrType type, Handler handler) override;

    // Cancels every outstanding lookup (their handlers get temperror
    // "shutdown") and stops watching libunbound's descriptor. Idempotent;
    // the destructor calls it.
    void shutdown();

    // Lookups issued and not yet answered (for tests and metrics).
    [[nodiscard]] std::size_t in_flight() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace resolver
