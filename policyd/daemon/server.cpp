#include "policyd/daemon/server.hpp"

#include <signal.h>
#include <unistd.h>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <optional>
#include <stdexcept>
#include <utility>

#include "policyd/answer/responder.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/base/watchdog.hpp"
#include "policyd/config/stack.hpp"
#include "policyd/daemon/listeners.hpp"
#include "policyd/daemon/logging.hpp"
#include "policyd/daemon/metrics_http.hpp"
#include "policyd/daemon/systemd.hpp"
#include "policyd/metrics/alarms.hpp"
#include "policyd/metrics/metrics.hpp"
#include "policyd/protocol/codec.hpp"
#include "rules/rules.hpp"

namespace policyd {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;

namespace {

using Clock = std::chrono::steady_clock;

AlarmOptions alarm_options(const Settings& settings) {
    AlarmOptions options;
    options.window = std::chrono::seconds(settings.alarms_window_s);
    options.min_requests = static_cast<std::uint64_t>(settings.alarms_min_requests);
    options.internal_percent = static_cast<std::uint64_t>(settings.alarms_internal_percent);
    options.min_assessments = static_cast<std::uint64_t>(settings.alarms_min_clients);
    options.repeat = std::chrono::seconds(settings.alarms_repeat_s);
    return options;
}

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Adapts the callback-based Assessor to a coroutine. The completion handler
// of use_awaitable is move-only; Assessor takes a copyable std::function.
template <typename Token>
auto async_assess(Assessor& assessor, const IpAddress& client, std::string_view helo,
                  Token&& token) {
    return asio::async_initiate<Token, void(Facts)>(
        [&assessor, client, helo](auto handler) {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            assessor.assess(client, helo, [shared](Facts facts) { (*shared)(std::move(facts)); });
        },
        token);
}

}  // namespace

struct Server::Impl {
    asio::io_context& io;
    std::shared_ptr<const Config> config;
    Overrides overrides;
    // Text lines or journal entries ([log] target; policyd/daemon/logging.hpp).
    std::unique_ptr<DecisionLog> decision_log;
    // The resolver stack and the caches (policyd/config/stack.hpp).
    Stack stack;
    Responder responder;
    ProtocolLimits limits;
    std::chrono::seconds idle_timeout;
    std::chrono::seconds read_timeout;
    std::size_t max_connections;

    Listeners listeners{io,
                        [this](asio::ip::tcp::socket socket, std::string peer) {
                            start_connection(std::move(socket), std::move(peer));
                        },
                        [this](asio::local::stream_protocol::socket socket, std::string peer) {
                            start_connection(std::move(socket), std::move(peer));
                        }};
    // One per open connection: stop() wakes those that are waiting for
    // a request, and leaves alone those busy answering one.
    struct ConnectionHandle {
        std::function<void()> cancel_read;
        bool reading = false;
    };
    std::list<ConnectionHandle> connection_handles;
    std::size_t connections = 0;
    // The one read buffer of every connection. The loop runs on one thread
    // and a read's bytes are appended to its connection's buffer at once, so
    // a connection waits for input without a read buffer of its own: an idle
    // connection costs a third of what it did with 8 KiB in its coroutine
    // frame (docs/ROBUSTNESS.md, drill 4).
    std::array<char, 8192> read_chunk{};
    static constexpr unsigned kUnwaitedReads = 8;
    bool stopping = false;
    Notifier notifier{io};
    std::uint64_t requests = 0;  // answered, for the STATUS= line
    ServerCounters counters;     // for the metrics (policyd/metrics/metrics.hpp)
    // A site set up wrong (policyd/metrics/alarms.hpp), looked at every
    // kAlarmInterval and at once when a connection is refused.
    bool journal = journal_wanted(config->settings.log_target);
    AlarmWatch alarms{alarm_options(config->settings)};
    static constexpr std::chrono::seconds kAlarmInterval{5};
    asio::steady_timer alarm_timer{io};
    MetricsHttp metrics{io, [this] { return render_metrics_now(); }};
    asio::signal_set stop_signals{io, SIGTERM, SIGINT};
    asio::signal_set reload_signals{io, SIGHUP};
    asio::signal_set counter_signals{io, SIGUSR1};

    Impl(asio::io_context& context, std::shared_ptr<const Config> snapshot, Overrides given)
        : io(context),
          config(std::move(snapshot)),
          overrides(std::move(given)),
          decision_log(make_decision_log(journal_wanted(config->settings.log_target))),
          stack(context, *config, Stack::Caches::on,
                [this](const resolver::HealthSnapshot& state) { health_changed(state); }),
          responder(
              stack.assessor(), stack.instances(), [this] { return stack.health().outage(); },
              config->settings.instance_cache_size > 0, decision_log.get()),
          limits(config->settings.protocol_limits()),
          idle_timeout(config->settings.idle_timeout_s),
          read_timeout(config->settings.read_timeout_s),
          max_connections(static_cast<std::size_t>(config->settings.max_connections)) {
        restart_interrupted_calls();
        counters.started_unix = unix_now();
        counters.last_good_config_unix = counters.started_unix;
        spdlog::info("public suffix list: {}", stack.options().psl->source());
    }

    std::string render_metrics_now() {
        counters.connections_open = connections;
        ++counters.scrapes;
        return render_metrics(MetricsSources{responder.tally(), stack, counters, *config, alarms,
                                             stack.health().outage()});
    }

    void report_alarms(Clock::time_point now) {
        for (const auto& event : alarms.evaluate(now)) {
            const AlarmSpec& spec = kAlarms[static_cast<std::size_t>(event.alarm)];
            const std::string_view kind = kAlarmEventWords[static_cast<std::size_t>(event.kind)];
            std::string text =
                "alarm " + std::string(spec.name) + " " + std::string(kind) + ": " + event.detail;
            if (event.kind != AlarmEvent::Kind::cleared) {
                text += ": " + std::string(spec.means) +
                        ". What to do: " + std::string(spec.remedy) + ".";
            }
            log_alarm(journal, spec.name, kind, text);
        }
    }

    void watch_alarms() {
        alarm_timer.expires_after(kAlarmInterval);
        alarm_timer.async_wait([this](error_code ec) {
            if (ec || stopping) {
                return;
            }
            report_alarms(Clock::now());
            watch_alarms();
        });
    }

    void count(SessionError error) { ++counters.session_errors[static_cast<std::size_t>(error)]; }

    // Boost 1.74's signal_set installs its handlers without SA_RESTART. A
    // signal that arrives while a log write() blocks (stderr is a full pipe
    // or journal stream under load) then makes it fail with EINTR, and the
    // logger drops the line: a reload under load lost decision records.
    // The loop's own calls are non-blocking and retry EINTR anyway.
    static void restart_interrupted_calls() {
        for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
            struct sigaction action {};
            if (::sigaction(signal, nullptr, &action) == 0) {
                action.sa_flags |= SA_RESTART;
                ::sigaction(signal, &action, nullptr);
            }
        }
    }

    // One line when an outage begins and one when it ends, never per request.
    void health_changed(const resolver::HealthSnapshot& state) {
        if (state.outage) {
            ++counters.outages_begun;
            spdlog::error(
                "dns outage begins: {} of {} upstream answers in the window were "
                "temperror",
                state.temperrors, state.answers);
        } else {
            spdlog::warn("dns outage ends: {} of {} upstream answers in the window were temperror",
                         state.temperrors, state.answers);
        }
    }

    // Serves one connection until the peer closes, a timeout, protocol
    // trouble or shutdown. In and Out are the same stream for sockets.
    template <typename In, typename Out>
    // The caller has already counted the connection in `connections`.
    awaitable<void> connection(In& in, Out& out, std::string peer) {
        auto handle = connection_handles.insert(connection_handles.end(), ConnectionHandle{[&in] {
                                                    error_code ignored;
                                                    in.cancel(ignored);
                                                }});
        SmtpSession smtp;
        try {
            co_await serve(in, out, peer, *handle, smtp);
        } catch (const std::exception& error) {
            // Internal trouble: no reply, log, disconnect (Postfix applies its
            // default_action).
            spdlog::error("connection {}: {}; closing connection", peer, error.what());
        }
        responder.end_session(smtp);
        connection_handles.erase(handle);
        --connections;
        if (stopping && connections == 0) {
            finish_stop();
        }
    }

    template <typename In, typename Out>
    awaitable<void> serve(In& in, Out& out, const std::string& peer, ConnectionHandle& handle,
                          SmtpSession& smtp) {
        Watchdog watchdog(in.get_executor(), [&in, &out] {
            error_code ignored;
            in.cancel(ignored);
            out.cancel(ignored);
        });
        std::string buffer;
        Clock::time_point request_deadline;  // the request in `buffer` must be whole by then
        std::string reply;
        Request request;
        unsigned unwaited = 0;  // reads since the others last had their turn
        // Replies are written at once where the socket takes them (below),
        // and input is read where it is waiting, else awaited.
        error_code ec;
        out.non_blocking(true, ec);
        if (!ec) {
            in.non_blocking(true, ec);
        }
        if (ec) {
            spdlog::warn("connection {}: cannot make the connection non-blocking: {}", peer,
                         ec.message());
            co_return;
        }
        for (;;) {
            // Answer every complete request already buffered, in order.
            for (;;) {
                const ParseResult parsed = parse_request(buffer, limits, request);
                if (parsed.status == ParseStatus::incomplete) {
                    break;
                }
                if (parsed.status == ParseStatus::error) {
                    const auto* known =
                        std::find(kProtocolErrors.begin(), kProtocolErrors.end(), parsed.error);
                    if (known != kProtocolErrors.end()) {
                        ++counters.protocol_errors[static_cast<std::size_t>(
                            known - kProtocolErrors.begin())];
                    }
                    spdlog::warn("connection {}: {} ({}); closing connection", peer,
                                 to_string(parsed.error), parsed.detail);
                    co_return;
                }
                buffer.erase(0, parsed.consumed);
                // A pipelined next request's bytes are here already: its
                // time starts now.
                request_deadline = Clock::now() + read_timeout;
                reply.clear();
                // Answered without a coroutine frame of its own unless the
                // facts need DNS.
                const auto pending = responder.begin(request, config, smtp);
                if (!pending) {
                    count(SessionError::bad_client_address);
                    spdlog::warn(
                        "connection {}: client_address \"{}\" is not an IP address; closing "
                        "connection",
                        peer, sanitized(request.get(Attr::client_address)));
                    co_return;
                }
                if (pending->needs_dns) {
                    smtp.facts = co_await async_assess(stack.assessor(), pending->client,
                                                       request.get(Attr::helo_name), use_awaitable);
                }
                responder.finish(request, smtp, *pending, reply);
                ++requests;
                alarms.request(!request.get(Attr::sasl_username).empty(),
                               is_internal(pending->client),
                               pending->source == FactsSource::dns
                                   ? std::optional<bool>(smtp.facts.iprev == Iprev::permerror)
                                   : std::nullopt,
                               pending->started);
                if (!co_await send(out, reply, watchdog, read_timeout, ec)) {
                    count(SessionError::reply_not_taken);
                    spdlog::warn("connection {}: cannot send reply: {}; closing connection", peer,
                                 watchdog.expired() ? "timed out" : ec.message());
                    co_return;
                }
            }
            if (stopping && buffer.empty()) {
                co_return;
            }
            // Whatever has arrived is read at once; only when nothing has
            // does the connection wait, without a buffer, for more.
            bool waited = false;     // the others have had their turn since
            bool timed_out = false;  // the wait ended by the deadline
            std::size_t n = 0;
            for (;;) {
                n = in.read_some(asio::buffer(read_chunk), ec);
                if (ec == asio::error::interrupted) {
                    continue;
                }
                if (ec != asio::error::would_block && ec != asio::error::try_again) {
                    break;
                }
                // Idle between requests: Postfix's own max idle is 300 s. In
                // the middle of a request: it must arrive whole by the
                // deadline its first byte set, however the peer trickles.
                if (buffer.empty()) {
                    watchdog.arm(Clock::now(), idle_timeout);
                } else {
                    watchdog.arm_until(request_deadline);
                }
                handle.reading = true;
                co_await in.async_wait(In::wait_read, asio::redirect_error(use_awaitable, ec));
                handle.reading = false;
                watchdog.disarm();
                if (ec) {
                    timed_out = watchdog.expired();
                    break;
                }
                waited = true;
            }
            if (ec) {
                if (timed_out) {
                    if (!buffer.empty()) {
                        count(SessionError::stalled_request);
                    }
                    spdlog::info("connection {}: {}; closing connection", peer,
                                 buffer.empty() ? "idle timeout" : "stalled in a request");
                } else if (!buffer.empty() && ec == asio::error::eof) {
                    count(SessionError::closed_mid_request);
                    spdlog::warn("connection {}: connection closed in the middle of a request",
                                 peer);
                } else if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                    spdlog::warn("connection {}: read failed: {}", peer, ec.message());
                }
                co_return;
            }
            if (buffer.empty()) {
                request_deadline = Clock::now() + read_timeout;
            }
            buffer.append(read_chunk.data(), n);
            // A peer whose input never runs dry (one that pipelines, or
            // floods) is read kUnwaitedReads times in a row at most, then
            // every other connection has its turn. Not after every read:
            // a continuation per request measured 8-14 % more CPU.
            unwaited = waited ? 1 : unwaited + 1;
            if (unwaited >= kUnwaitedReads) {
                unwaited = 0;
                co_await asio::defer(in.get_executor(), use_awaitable);
            }
        }
    }

    // Writes the reply. A reply almost always fits the socket buffer, so it
    // is sent at once (the stream is non-blocking); only what the socket
    // does not take goes through async_write, under the read timeout.
    // Returns false, with `ec` set, when it could not be sent.
    template <typename Out>
    static awaitable<bool> send(Out& out, const std::string& reply, Watchdog& watchdog,
                                std::chrono::seconds timeout, error_code& ec) {
        std::size_t sent = out.write_some(asio::buffer(reply), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again ||
            ec == asio::error::interrupted) {
            ec.clear();
            sent = 0;
        }
        if (!ec && sent < reply.size()) {
            watchdog.arm(Clock::now(), timeout);
            co_await asio::async_write(out, asio::buffer(reply.data() + sent, reply.size() - sent),
                                       asio::redirect_error(use_awaitable, ec));
            watchdog.disarm();
        }
        co_return !ec;
    }

    template <typename Socket>
    void start_connection(Socket socket, std::string peer) {
        if (stopping) {
            return;
        }
        if (connections >= max_connections) {
            // The connections-refused alarm says so once (then hourly), not
            // a line per connection: a flood of them must not become a
            // flood of log lines. The first refusal raises it at once.
            ++counters.connections_refused;
            const auto now = Clock::now();
            alarms.refused(now);
            if (!alarms.active(Alarm::connections_refused)) {
                report_alarms(now);
            }
            return;  // closing the socket makes Postfix apply its default_action
        }
        // Counted now, not when the coroutine first runs: co_spawn starts it
        // on a later turn of the loop, and connections accepted on two
        // listeners in the same turn must not both slip under the limit.
        ++connections;
        ++counters.connections_accepted;
        auto owned = std::make_shared<Socket>(std::move(socket));
        asio::co_spawn(
            io,
            [this, owned, peer]() -> awaitable<void> { co_await connection(*owned, *owned, peer); },
            asio::detached);
    }

    void stop() {
        if (stopping) {
            return;
        }
        stopping = true;
        notifier.stopping();
        spdlog::info("stopping: no new connections; finishing requests in progress");
        listeners.close();
        // Idle connections are waiting in a read: wake them so they see
        // `stopping`. A connection in the middle of a request answers it first.
        for (auto& handle : connection_handles) {
            if (handle.reading) {
                handle.cancel_read();
            }
        }
        if (connections == 0) {
            finish_stop();
        }
    }

    void finish_stop() {
        notifier.stop_watchdog();
        error_code ignored;
        stop_signals.cancel(ignored);
        reload_signals.cancel(ignored);
        counter_signals.cancel(ignored);
        alarm_timer.cancel();
        log_counters();
        metrics.close();
        stack.shutdown();
    }

    // The STATUS= line systemctl status shows.
    [[nodiscard]] std::string status() const {
        return std::to_string(connections) + " connections open, " + std::to_string(requests) +
               " requests answered, " + std::to_string(config->rules->size()) + " rules, DNS " +
               (stack.health().outage() ? "outage" : "ok");
    }

    void reload() {
        notifier.reloading();
        apply_reload();
        // Whatever the outcome: the running configuration serves.
        notifier.ready(status());
    }

    void apply_reload() {
        std::vector<std::string> errors;
        auto fresh = load_config(config->path, overrides, errors);
        if (!fresh) {
            for (const auto& error : errors) {
                spdlog::error("reload: {}", error);
            }
            spdlog::error("reload of {} failed; keeping the running configuration", config->path);
            ++counters.reloads_failed;
            counters.last_reload_ok = false;
            return;
        }
        // Settings that shape listeners, the resolver and open connections are
        // fixed at start-up; say so rather than half-apply them.
        const Settings& next = fresh->settings;
        const auto fixed = restart_only_changes(config->settings, next);
        if (!fixed.empty()) {
            std::string names;
            for (const auto& name : fixed) {
                names += (names.empty() ? "" : ", ") + name;
            }
            spdlog::warn("reload: {} changed in {}; they take effect at the next restart", names,
                         config->path);
        }
        spdlog::set_level(spdlog::level::from_str(next.log_level));
        log_counters();  // the new table starts counting from zero
        config = std::make_shared<const Config>(std::move(*fresh));
        ++counters.reloads_succeeded;
        counters.last_reload_ok = true;
        counters.last_good_config_unix = unix_now();
        spdlog::info("reloaded {}: {} rules", config->path, config->rules->size());
    }

    void wait_stop_signal() {
        stop_signals.async_wait([this](error_code ec, int signal) {
            if (!ec) {
                spdlog::info("received {}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
                stop();
            }
        });
    }

    // One line per rule: how often it decided and how often it matched in
    // shadow (or dry-run) mode, since this table was loaded.
    void log_counters() const {
        for (const auto& counter : config->rules->counters()) {
            spdlog::info("rule counters: rule={} decided={} shadow_matched={}", counter.id,
                         counter.decided, counter.shadow_matched);
        }
    }

    void wait_counter_signal() {
        counter_signals.async_wait([this](error_code ec, int /*signal*/) {
            if (!ec) {
                log_counters();
                wait_counter_signal();
            }
        });
    }

    void wait_reload_signal() {
        reload_signals.async_wait([this](error_code ec, int /*signal*/) {
            if (ec) {
                return;
            }
            spdlog::info("received SIGHUP: reloading {}", config->path);
            reload();
            wait_reload_signal();
        });
    }
};

Server::Server(asio::io_context& io, std::shared_ptr<const Config> config, Overrides overrides)
    : impl_(std::make_unique<Impl>(io, std::move(config), std::move(overrides))) {}

Server::~Server() = default;

namespace {

// Serves one configured endpoint on `target` (the policy Listeners or the
// MetricsHttp): with the socket systemd passed for it, else bound here.
template <typename Target>
void serve_endpoint(Target& target, const std::string& text, std::vector<PassedSocket>& passed,
                    const Settings& settings) {
    std::string why;
    const auto endpoint = parse_endpoint(text, why);
    if (!endpoint) {
        throw std::runtime_error(why);
    }
    const std::string canonical = to_string(*endpoint);
    const auto match = std::find_if(passed.begin(), passed.end(), [&](const auto& socket) {
        return socket.fd >= 0 && socket.endpoint == canonical;
    });
    if (match != passed.end()) {
        target.adopt(match->fd, match->endpoint, match->unix_socket);
        match->fd = -1;
        return;
    }
    target.listen(*endpoint, settings);
}

}  // namespace

void Server::listen() {
    auto& impl = *impl_;
    // Sockets systemd passed serve the endpoints they match; the others are
    // bound here. A passed socket daemon.listen does not name is served too
    // (the socket unit is the admin's word: the shipped one adds Postfix's
    // private/ socket, which the daemon could not bind itself), and said so.
    auto passed = passed_sockets();
    for (const auto& text : impl.config->settings.listen) {
        serve_endpoint(impl.listeners, text, passed, impl.config->settings);
    }
    if (const auto& text = impl.config->settings.metrics_listen; !text.empty()) {
        serve_endpoint(impl.metrics, text, passed, impl.config->settings);
    }
    for (auto& socket : passed) {
        if (socket.fd < 0) {
            continue;
        }
        if (socket.endpoint.empty()) {
            spdlog::warn(
                "systemd passed descriptor {}, which is not a listening stream socket; "
                "closing it",
                socket.fd);
            ::close(socket.fd);
            continue;
        }
        spdlog::info("{} was passed by systemd but is not in daemon.listen; serving it anyway",
                     socket.endpoint);
        impl.listeners.adopt(socket.fd, socket.endpoint, socket.unix_socket);
    }
    spdlog::info("ready: {} rules from {}", impl.config->rules->size(), impl.config->path);
    impl.notifier.ready(impl.status());
    impl.notifier.start_watchdog([&impl] { return impl.status(); });
    impl.watch_alarms();
}

void Server::serve_stdio() {
    auto& impl = *impl_;
    // dup() so that closing our descriptors never closes the process's own
    // stdin/stdout under the logger's feet.
    auto in = std::make_shared<asio::posix::stream_descriptor>(impl.io, ::dup(STDIN_FILENO));
    auto out = std::make_shared<asio::posix::stream_descriptor>(impl.io, ::dup(STDOUT_FILENO));
    ++impl.connections;
    asio::co_spawn(
        impl.io,
        [&impl, in, out]() -> awaitable<void> {
            co_await impl.connection(*in, *out, "stdio");
            // spawn(8) mode serves exactly one peer.
            impl.stop();
        },
        asio::detached);
}

void Server::handle_signals() {
    impl_->wait_stop_signal();
    impl_->wait_reload_signal();
    impl_->wait_counter_signal();
}

void Server::reload() {
    impl_->reload();
}

void Server::stop() {
    impl_->stop();
}

}  // namespace policyd
