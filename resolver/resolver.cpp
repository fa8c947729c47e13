// Resolver: libunbound (threaded async mode) driven from the Asio event loop.
//
// Ownership of one lookup (a Pending):
// - It lives in Impl::pending_ from lookup() until libunbound can no longer
//   call back with it: the callback ran, ub_cancel() succeeded, or the context
//   was deleted. Whoever removes it from the map frees it, so it is freed
//   exactly once.
// - Its handler is delivered at most once: by the callback (the answer), the
//   timer (timeout) or shutdown(), whichever comes first; the others find the
//   handler already moved out. A lookup that timed out but could not be
//   cancelled stays in the map without a handler until libunbound answers.
// - Asio handlers (timer, descriptor) hold a weak lifetime token and the lookup
//   id, never a Pending*, because a wait that already completed is not
//   cancelled by cancel() and may run after the Pending or the Resolver died.
#include "resolver/resolver.hpp"

#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "policyd/base/address.hpp"
#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"
#include "resolver/answer_wire.hpp"

namespace resolver {

std::optional<Forwarder> parse_forwarder(std::string_view text, std::string& why) {
    const auto at = text.rfind('@');
    const auto address = policyd::parse_ip(text.substr(0, at));
    if (!address) {
        why = "not an IP address";
        return std::nullopt;
    }
    Forwarder forwarder{*address};
    if (at != std::string_view::npos) {
        const auto port_text = text.substr(at + 1);
        if (port_text.empty() ||
            !std::all_of(port_text.begin(), port_text.end(), policyd::is_digit)) {
            why = "bad port";
            return std::nullopt;
        }
        const auto port = policyd::parse_port(port_text);
        if (!port || *port == 0) {
            why = "port out of range";
            return std::nullopt;
        }
        forwarder.port = *port;
    }
    return forwarder;
}

std::string_view to_string(RrType type) {
    switch (type) {
        case RrType::a:
            return "A";
        case RrType::aaaa:
            return "AAAA";
        case RrType::ptr:
            return "PTR";
        case RrType::mx:
            return "MX";
    }
    return "?";
}

std::string_view to_string(Status status) {
    switch (status) {
        case Status::ok:
            return "ok";
        case Status::nxdomain:
            return "nxdomain";
        case Status::nodata:
            return "nodata";
        case Status::temperror:
            return "temperror";
    }
    return "unknown";
}

Outcome outcome_of(const Answer& answer) {
    constexpr int kServFail = 2;
    constexpr int kRefused = 5;
    switch (answer.status) {
        case Status::ok:
            return Outcome::ok;
        case Status::nxdomain:
            return Outcome::nxdomain;
        case Status::nodata:
            return Outcome::nodata;
        case Status::temperror:
            break;
    }
    if (answer.bogus) {
        return Outcome::bogus;
    }
    if (answer.error == kTimeoutError) {
        return Outcome::timeout;
    }
    if (answer.rcode == kServFail) {
        return Outcome::servfail;
    }
    return answer.rcode == kRefused ? Outcome::refused : Outcome::error;
}

namespace {

// Any trust anchor set, by our options or the admin's libunbound file.
bool has_trust_anchor(ub_ctx* ctx) {
    for (const char* option :
         {"trust-anchor-file", "auto-trust-anchor-file", "trust-anchor", "trusted-keys-file"}) {
        char* value = nullptr;
        if (ub_ctx_get_option(ctx, option, &value) == 0 && value != nullptr) {
            const bool set = *value != '\0';
            std::free(value);  // NOLINT(cppcoreguidelines-no-malloc): libunbound's allocation
            if (set) {
                return true;
            }
        }
    }
    return false;
}

constexpr int kClassIn = 1;
// The text form of a query name is at most kMaxName characters plus an
// optional final dot.
constexpr std::size_t kMaxQueryName = policyd::kMaxName + 1;

// The text for ub_ctx_set_fwd, or throws naming the forwarder.
std::string checked_forwarder(const std::string& text) {
    std::string why;
    if (!parse_forwarder(text, why)) {
        throw std::runtime_error("forwarder \"" + text + "\": " + why +
                                 " (expected IP or IP@PORT)");
    }
    return text;
}

// Throws naming the file and the reason when it cannot be accessed in `mode`.
void require_access(const std::string& path, int mode, const std::string& what) {
    if (access(path.c_str(), mode) != 0) {
        throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
    }
}

}  // namespace

struct Resolver::Impl {
    struct Pending {
        Pending(Impl* o, std::uint64_t i, RrType t, Handler h)
            : owner(o), id(i), type(t), handler(std::move(h)), timer(o->io_) {}
        Impl* owner;
        std::uint64_t id;
        RrType type;
        Handler handler;  // empty once delivered
        boost::asio::steady_timer timer;
        int async_id = 0;
    };

    Impl(boost::asio::io_context& io, const ResolverOptions& options);
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void configure(const ResolverOptions& options);
    void arm();
    void lookup(std::string_view name, RrType type, Handler handler);
    void on_result(Pending* pending, int err, ub_result* result) noexcept;
    void on_timeout(std::uint64_t id);
    void abandon(Pending& pending, const char* why) noexcept;
    void shutdown() noexcept;
    void deliver(Pending& pending, Answer answer);
    void deliver_later(Handler handler, Answer answer);

    static void callback(void* mydata, int err, ub_result* result) noexcept;

    boost::asio::io_context& io_;
    std::chrono::milliseconds timeout_;
    std::size_t max_records_;
    ub_ctx* ctx_ = nullptr;
    boost::asio::posix::stream_descriptor descriptor_;
    std::unordered_map<std::uint64_t, std::unique_ptr<Pending>> pending_;
    std::uint64_t next_id_ = 1;
    std::size_t waiting_ = 0;  // pendings whose handler has not been delivered
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

Resolver::Impl::Impl(boost::asio::io_context& io, const ResolverOptions& options)
    : io_(io), timeout_(options.timeout), max_records_(options.max_records), descriptor_(io) {
    if (options.timeout.count() <= 0) {
        throw std::runtime_error("resolver timeout must be positive");
    }
    if (options.max_records == 0) {
        throw std::runtime_error("resolver max_records must be positive");
    }
    ctx_ = ub_ctx_create();
    if (ctx_ == nullptr) {
        throw std::runtime_error("libunbound: could not create a context");
    }
    try {
        configure(options);
        descriptor_.assign(ub_fd(ctx_));
    } catch (...) {
        if (descriptor_.is_open()) {
            descriptor_.release();
        }
        ub_ctx_delete(ctx_);
        ctx_ = nullptr;
        throw;
    }
    arm();
}

Resolver::Impl::~Impl() {
    shutdown();
}

void Resolver::Impl::configure(const ResolverOptions& options) {
    const auto check = [](int err, const std::string& what) {
        if (err != 0) {
            throw std::runtime_error(what + ": " + ub_strerror(err));
        }
    };
    // Threads, not a forked process: the answers come back over a pipe whose
    // read end (ub_fd) we watch. Every option must be set before the first
    // query, which finalises the context.
    check(ub_ctx_async(ctx_, 1), "libunbound async mode");
    if (!options.unbound_config.empty()) {
        check(ub_ctx_config(ctx_, options.unbound_config.c_str()),
              "unbound config " + options.unbound_config);
    }
    switch (options.upstream) {
        case ResolverOptions::Upstream::system:
            check(ub_ctx_resolvconf(ctx_, nullptr), "reading /etc/resolv.conf");
            break;
        case ResolverOptions::Upstream::forward:
            if (options.forwarders.empty()) {
                throw std::runtime_error("upstream \"forward\" needs at least one forwarder");
            }
            for (const auto& forwarder : options.forwarders) {
                check(ub_ctx_set_fwd(ctx_, checked_forwarder(forwarder).c_str()),
                      "forwarder \"" + forwarder + "\"");
            }
            break;
        case ResolverOptions::Upstream::recursive:
            break;
    }
    // A local resolver (127.0.0.1, systemd-resolved's 127.0.0.53) or a loopback
    // forwarder is the normal case; libunbound would refuse to send to it.
    // Set after the config file so that file cannot turn it back on.
    check(ub_ctx_set_option(ctx_, "do-not-query-localhost:", "no"), "do-not-query-localhost");
    // libunbound rotates the order of records between lookups by default.
    // The assessment keeps the first max_ptr_names names (and the resolver
    // the first max_records records), so rotation would make a host with
    // many PTR names pass on one lookup and fail on the next. Keep the order
    // the zone serves.
    check(ub_ctx_set_option(ctx_, "rrset-roundrobin:", "no"), "rrset-roundrobin");
    // libunbound only remembers anchor file names here and reads them when the
    // context is finalised, where a failure is a bare "initialization
    // failure"; checking access first names the file and the reason.
    if (!options.trust_anchor_file.empty()) {
        require_access(options.trust_anchor_file, R_OK, "trust anchor file");
        check(ub_ctx_add_ta_file(ctx_, options.trust_anchor_file.c_str()),
              "trust anchor file " + options.trust_anchor_file);
    }
    if (!options.auto_trust_anchor_file.empty()) {
        // RFC 5011 updates are written back into this file.
        require_access(options.auto_trust_anchor_file, R_OK | W_OK, "auto trust anchor file");
        check(ub_ctx_add_ta_autr(ctx_, options.auto_trust_anchor_file.c_str()),
              "auto trust anchor file " + options.auto_trust_anchor_file);
    }
    // Without a trust anchor the validator module validates nothing, yet
    // every answer passes through it: run the iterator alone then. An
    // anchor the unbound_config file sets counts as one.
    if (!has_trust_anchor(ctx_)) {
        check(ub_ctx_set_option(ctx_, "module-config:", "iterator"), "module-config");
    }
    // Finalise now, not at the first query: a bad anchor or config then stops
    // the start-up instead of failing every lookup. libunbound has no public
    // finalise; removing a zone that does not exist finalises and changes
    // nothing. No option can be set after this.
    std::string anchors;
    for (const auto* file : {&options.trust_anchor_file, &options.auto_trust_anchor_file}) {
        if (!file->empty()) {
            anchors += (anchors.empty() ? " (trust anchors: " : ", ") + *file;
        }
    }
    if (!anchors.empty()) {
        anchors += ")";
    }
    check(ub_ctx_zone_remove(ctx_, "rdns-policyd-finalise.invalid."),
          "libunbound rejected the configuration" + anchors + "; its log above says why");
    for (const auto& record : options.local_data) {
        // libunbound reports a record it cannot parse as UB_NOMEM.
        if (ub_ctx_data_add(ctx_, record.c_str()) != 0) {
            throw std::runtime_error("local_data \"" + record +
                                     "\": not a valid record (expected e.g. "
                                     "\"host.example. 300 IN A 192.0.2.1\")");
        }
    }
}

void Resolver::Impl::arm() {
    descriptor_.async_wait(
        boost::asio::posix::stream_descriptor::wait_read,
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired() || ctx_ == nullptr) {
                return;  // cancelled, or the Resolver is gone or shut down
            }
            // Runs the C callbacks for every answer waiting in the pipe.
            ub_process(ctx_);
            arm();
        });
}

void Resolver::Impl::callback(void* mydata, int err, ub_result* result) noexcept {
    // Take ownership of the result first so that it is freed on every path.
    const std::unique_ptr<ub_result, void (*)(ub_result*)> owned(result, &ub_resolve_free);
    auto* pending = static_cast<Pending*>(mydata);
    if (pending == nullptr) {
        return;
    }
    pending->owner->on_result(pending, err, owned.get());  // noexcept
}

void Resolver::Impl::on_result(Pending* pending, int err, ub_result* result) noexcept {
    // libunbound no longer knows this query: the Pending is ours to free, on
    // every path out of here (owned's destructor).
    auto node = pending_.extract(pending->id);
    if (node.empty()) {
        return;  // cannot happen while the invariant in the file header holds
    }
    const std::unique_ptr<Pending> owned = std::move(node.mapped());
    try {
        owned->timer.cancel();
        if (owned->handler) {
            deliver(*owned, convert(err, result, owned->type, max_records_));
        }  // else already answered "timeout"
    } catch (...) {
        abandon(*owned, "internal error");
    }
}

void Resolver::Impl::abandon(Pending& pending, const char* why) noexcept {
    try {
        if (pending.handler) {
            deliver(pending, make_error(why));
        }
    } catch (...) {
        // Out of memory even for that: the handler is lost, nothing else.
        if (pending.handler) {
            pending.handler = nullptr;
            --waiting_;
        }
    }
}

void Resolver::Impl::on_timeout(std::uint64_t id) {
    const auto it = pending_.find(id);
    if (it == pending_.end() || !it->second->handler) {
        return;  // answered in the meantime
    }
    deliver(*it->second, make_error(std::string(kTimeoutError)));
    // After a successful ub_cancel the callback is never called; otherwise it
    // will be, and frees the Pending then.
    if (ctx_ != nullptr && ub_cancel(ctx_, it->second->async_id) == 0) {
        pending_.erase(it);
    }
}

void Resolver::Impl::deliver(Pending& pending, Answer answer) {
    Handler handler = std::move(pending.handler);
    pending.handler = nullptr;
    --waiting_;
    deliver_later(std::move(handler), std::move(answer));
}

void Resolver::Impl::deliver_later(Handler handler, Answer answer) {
    boost::asio::post(io_, [handler = std::move(handler), answer = std::move(answer)]() mutable {
        handler(std::move(answer));
    });
}

void Resolver::Impl::lookup(std::string_view name, RrType type, Handler handler) {
    if (!handler) {
        return;
    }
    if (ctx_ == nullptr) {
        deliver_later(std::move(handler), make_error("shutdown"));
        return;
    }
    if (name.empty() || name.size() > kMaxQueryName || name.find('\0') != std::string_view::npos) {
        deliver_later(std::move(handler), make_error("invalid name"));
        return;
    }
    const std::string text(name);
    const std::uint64_t id = next_id_++;
    auto owned = std::make_unique<Pending>(this, id, type, std::move(handler));
    Pending* pending = owned.get();
    pending_.emplace(id, std::move(owned));
    ++waiting_;
    const int err = ub_resolve_async(ctx_, text.c_str(), static_cast<int>(type), kClassIn, pending,
                                     &Impl::callback, &pending->async_id);
    if (err != 0) {
        // libunbound will not call back: deliver and free here.
        deliver(*pending, make_error(std::string("resolver: ") + ub_strerror(err)));
        pending_.erase(id);
        return;
    }
    // Found again rather than trusted: the Pending is only ours while it is
    // in the map, whatever libunbound did inside the call.
    if (pending_.find(id) == pending_.end()) {
        return;
    }
    pending->timer.expires_after(timeout_);
    pending->timer.async_wait(
        [this, id, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired()) {
                return;
            }
            on_timeout(id);
        });
}

void Resolver::Impl::shutdown() noexcept {
    if (ctx_ == nullptr) {
        return;
    }
    for (auto& [id, pending] : pending_) {
        try {
            pending->timer.cancel();
        } catch (...) {
            // Its handler checks the lifetime token and the map; both will be gone.
        }
        abandon(*pending, "shutdown");
        ub_cancel(ctx_, pending->async_id);
    }
    try {
        boost::system::error_code ignored;
        descriptor_.cancel(ignored);
        // The descriptor belongs to libunbound, which closes it in ub_ctx_delete.
        descriptor_.release();
    } catch (...) {
        // Deregistering from the reactor failed; the context must go anyway.
    }
    ub_ctx_delete(ctx_);
    ctx_ = nullptr;
    // No callback can come after ub_ctx_delete, so every Pending can go.
    pending_.clear();
    waiting_ = 0;
}

Resolver::Resolver(boost::asio::io_context& io, const ResolverOptions& options)
    : impl_(std::make_unique<Impl>(io, options)) {}

Resolver::~Resolver() = default;

void Resolver::lookup(std::string_view name, RrType type, Handler handler) {
    impl_->lookup(name, type, std::move(handler));
}

void Resolver::shutdown() {
    impl_->shutdown();
}

std::size_t Resolver::in_flight() const {
    return impl_->waiting_;
}

}  // namespace resolver
