// rdns-bench: a load generator that speaks the Postfix policy protocol the
// way Postfix's smtpd processes do: N persistent connections, one request
// outstanding on each, ~600-byte RCPT-stage requests carrying every attribute
// Postfix 3.7 sends. It stops by itself after --requests requests or
// --duration seconds, whichever comes first, and reports throughput, latency
// percentiles, errors and the mix of actions. Loopback targets only.
//
// One thread, one io_context: the generator costs as little CPU as it can,
// because on the benchmark machine it shares the cores with the server.

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Socket = asio::generic::stream_protocol::socket;

constexpr std::size_t kReplyLimit = 4096;  // a reply longer than this is malformed

struct Options {
    std::string server;
    std::size_t connections = 10;
    std::uint64_t requests = 100000;
    double duration_s = 10;
    bool cold = false;
    std::uint64_t clients = 100;          // warm: the set requests cycle through
    std::uint64_t client_range = 131072;  // addresses prepared in DNS (198.18.0.0/15)
    std::uint64_t client_offset = 0;      // first client used, so runs can use fresh ones
    std::uint32_t client_base = bench::parse_ipv4("198.18.0.0");
    std::string helo = "ptr";  // "ptr": the client's own (confirming) name
    std::uint64_t rcpts_per_instance = 1;
    std::uint64_t timeout_ms = 5000;
    bool json = false;
};

struct Stats {
    std::uint64_t ok = 0;
    std::uint64_t closed = 0;     // connection closed or reset with a request outstanding
    std::uint64_t timeouts = 0;   // no complete reply within --timeout-ms
    std::uint64_t malformed = 0;  // a reply that is not "action=...\n\n" or too long
    std::uint64_t connect_failures = 0;
    std::map<std::string, std::uint64_t> actions;
    std::vector<std::uint32_t> latency_us;
    std::uint64_t errors() const { return closed + timeouts + malformed + connect_failures; }
};

void append_number(std::string& out, std::uint64_t value) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, result.ptr);
}

void append_hex(std::string& out, std::uint64_t value, bool upper) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, value, 16);
    for (char* p = digits; p != result.ptr; ++p) {
        out.push_back(upper && *p >= 'a' ? static_cast<char>(*p - 'a' + 'A') : *p);
    }
}

class Bench;

// One persistent connection, like one smtpd process's policy client.
class Connection {
  public:
    Connection(Bench& bench, asio::io_context& io) : bench_(bench), socket_(io) {
        request_.reserve(1024);
    }
    void connect();
    void send_next();
    // Called by the watchdog: a request has been outstanding too long.
    void expire_if_late(Clock::time_point now, Clock::duration timeout);
    bool alive() const { return alive_; }

  private:
    void read_reply();
    void on_reply(std::size_t length);
    void fail(std::uint64_t Stats::*counter);

    Bench& bench_;
    Socket socket_;
    std::string request_;
    char reply_[kReplyLimit];
    std::size_t reply_length_ = 0;
    Clock::time_point sent_at_{};
    bool outstanding_ = false;
    bool timed_out_ = false;
    bool reconnecting_ = false;
    bool alive_ = true;
};

class Bench {
  public:
    Bench(const Options& options)
        : options_(options),
          target_(bench::to_generic(bench::parse_loopback_endpoint(options.server))),
          watchdog_(io_),
          run_tag_(make_run_tag()) {
        stats_.latency_us.reserve(std::min<std::uint64_t>(options.requests, 1U << 22));
    }

    void run() {
        for (std::size_t i = 0; i < options_.connections; ++i) {
            connections_.push_back(std::make_unique<Connection>(*this, io_));
        }
        active_ = connections_.size();
        pending_connects_ = connections_.size();
        for (auto& connection : connections_) {
            connection->connect();
        }
        arm_watchdog();
        io_.run();
    }

    // Every connection is open (or failed): start the clock and the load.
    void connected() {
        if (--pending_connects_ != 0) {
            return;
        }
        started_ = Clock::now();
        deadline_ = started_ + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options_.duration_s));
        for (auto& connection : connections_) {
            if (connection->alive()) {
                connection->send_next();
            }
        }
    }

    // Claims the next request number, or says the run is over.
    bool claim(std::uint64_t& number) {
        if (issued_ >= options_.requests || Clock::now() >= deadline_) {
            return false;
        }
        number = issued_++;
        return true;
    }

    void connection_done() {
        if (--active_ == 0) {
            finished_ = Clock::now();
            watchdog_.cancel();
        }
    }

    void build_request(std::uint64_t number, std::string& out) const;

    const asio::generic::stream_protocol::endpoint& target() const { return target_; }
    Stats& stats() { return stats_; }
    const Options& options() const { return options_; }
    double elapsed_s() const {
        if (started_ == Clock::time_point{}) {
            return 0;
        }
        return std::chrono::duration<double>(finished_ - started_).count();
    }

  private:
    static std::string make_run_tag() {
        // Instances differ between runs so a daemon's per-message cache never
        // answers from an earlier run.
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
        std::string tag;
        append_hex(tag, static_cast<std::uint64_t>(micros) & 0xffffffffffULL, false);
        tag.push_back('.');
        append_hex(tag, static_cast<std::uint64_t>(getpid()), false);
        return tag;
    }

    void arm_watchdog() {
        // One coarse timer for all connections instead of one per request.
        watchdog_.expires_after(std::chrono::milliseconds(50));
        watchdog_.async_wait([this](const error_code& ec) {
            if (ec || active_ == 0) {
                return;
            }
            const auto now = Clock::now();
            const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
            for (auto& connection : connections_) {
                connection->expire_if_late(now, timeout);
            }
            arm_watchdog();
        });
    }

    Options options_;
    asio::io_context io_{1};
    asio::generic::stream_protocol::endpoint target_;
    asio::steady_timer watchdog_;
    std::string run_tag_;
    std::vector<std::unique_ptr<Connection>> connections_;
    std::size_t active_ = 0;
    std::size_t pending_connects_ = 0;
    std::uint64_t issued_ = 0;
    Clock::time_point started_{}, deadline_ = Clock::time_point::max(), finished_{};
    Stats stats_;
};

// The attributes Postfix 3.7's smtpd sends at RCPT (smtpd_check.c,
// check_policy_service), in its order, with values of realistic length.
void Bench::build_request(std::uint64_t number, std::string& out) const {
    const std::uint64_t index =
        options_.cold
            ? (options_.client_offset + number) % options_.client_range
            : (options_.client_offset + number % options_.clients) % options_.client_range;
    const std::uint32_t client = options_.client_base + static_cast<std::uint32_t>(index);
    const std::uint64_t message = number / options_.rcpts_per_instance;

    out.clear();
    out.append("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n");
    out.append("client_address=");
    bench::append_ipv4(out, client, '.');
    out.append("\nclient_name=unknown\nreverse_client_name=unknown\nhelo_name=");
    if (options_.helo == "ptr") {
        bench::append_client_name(out, client);
    } else {
        out.append(options_.helo);
    }
    out.append("\nsender=newsletter-bounces+");
    append_number(out, number);
    out.append("@lists.sender-example.org\nrecipient=firstname.lastname");
    append_number(out, number % 1000);
    out.append("@recipient-example.net\nrecipient_count=0\nqueue_id=4X");
    append_hex(out, 0x1000000000ULL + message, true);
    out.append("\ninstance=");
    out.append(run_tag_);
    out.push_back('.');
    append_hex(out, message, false);
    out.append(
        "\nsize=48213\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\n"
        "ccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint=\n"
        "encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\n"
        "encryption_keysize=256\nclient_port=");
    append_number(out, 1024 + number % 60000);
    out.append(
        "\npolicy_context=\nserver_address=192.0.2.25\nserver_port=25\n"
        "compatibility_level=3.6\nmail_version=3.7.11\n\n");
}

void Connection::connect() {
    socket_.async_connect(bench_.target(), [this](const error_code& ec) {
        if (ec) {
            ++bench_.stats().connect_failures;
            alive_ = false;
            bench_.connection_done();
            if (!reconnecting_) {
                bench_.connected();
            }
            return;
        }
        if (reconnecting_) {
            reconnecting_ = false;
            send_next();
        } else {
            bench_.connected();
        }
    });
}

void Connection::send_next() {
    std::uint64_t number = 0;
    if (!bench_.claim(number)) {
        error_code ignored;
        socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
        bench_.connection_done();
        return;
    }
    bench_.build_request(number, request_);
    reply_length_ = 0;
    outstanding_ = true;
    timed_out_ = false;
    sent_at_ = Clock::now();
    asio::async_write(socket_, asio::buffer(request_), [this](const error_code& ec, std::size_t) {
        if (ec) {
            fail(timed_out_ ? &Stats::timeouts : &Stats::closed);
            return;
        }
        read_reply();
    });
}

void Connection::read_reply() {
    socket_.async_read_some(asio::buffer(reply_ + reply_length_, kReplyLimit - reply_length_),
                            [this](const error_code& ec, std::size_t n) {
                                if (ec) {
                                    fail(timed_out_ ? &Stats::timeouts : &Stats::closed);
                                    return;
                                }
                                const std::size_t scan_from =
                                    reply_length_ == 0 ? 0 : reply_length_ - 1;
                                reply_length_ += n;
                                const std::string_view seen(reply_, reply_length_);
                                const auto end = seen.find("\n\n", scan_from);
                                if (end == std::string_view::npos) {
                                    if (reply_length_ == kReplyLimit) {
                                        fail(&Stats::malformed);
                                        return;
                                    }
                                    read_reply();
                                    return;
                                }
                                if (end + 2 != reply_length_) {
                                    fail(&Stats::malformed);  // more than one reply to one request
                                    return;
                                }
                                on_reply(end);
                            });
}

void Connection::on_reply(std::size_t length) {
    const auto latency = Clock::now() - sent_at_;
    outstanding_ = false;
    const std::string_view reply(reply_, length);
    if (!reply.starts_with("action=") || reply.find('\n') != std::string_view::npos) {
        fail(&Stats::malformed);
        return;
    }
    std::string_view action = reply.substr(7);
    action = action.substr(0, action.find(' '));
    Stats& stats = bench_.stats();
    ++stats.ok;
    ++stats.actions[std::string(action)];
    stats.latency_us.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
    send_next();
}

// A failed request costs the connection, as it does in Postfix: close, count,
// reconnect (a failed reconnect ends this connection).
void Connection::fail(std::uint64_t Stats::*counter) {
    ++(bench_.stats().*counter);
    outstanding_ = false;
    error_code ignored;
    socket_.close(ignored);
    reconnecting_ = true;
    connect();  // async_connect reopens the closed socket
}

void Connection::expire_if_late(Clock::time_point now, Clock::duration timeout) {
    if (outstanding_ && !timed_out_ && now - sent_at_ > timeout) {
        timed_out_ = true;
        error_code ignored;
        socket_.close(ignored);  // the pending operation completes with an error
    }
}

void print_report(Bench& bench) {
    const Options& options = bench.options();
    Stats& stats = bench.stats();
    const double elapsed = bench.elapsed_s();
    const double rate = elapsed > 0 ? static_cast<double>(stats.ok) / elapsed : 0;
    const bench::Summary latency = bench::summarize(stats.latency_us);
    const std::string mode =
        options.cold ? "cold" : "warm (" + std::to_string(options.clients) + " clients)";
    if (options.json) {
        std::printf(
            "{\"server\":\"%s\",\"connections\":%zu,\"mode\":\"%s\",\"clients\":%llu,"
            "\"elapsed_s\":%.3f,\"ok\":%llu,\"errors\":%llu,\"closed\":%llu,\"timeouts\":%llu,"
            "\"malformed\":%llu,\"connect_failures\":%llu,\"req_per_s\":%.1f,"
            "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"actions\":{",
            options.server.c_str(), options.connections, options.cold ? "cold" : "warm",
            static_cast<unsigned long long>(options.cold ? options.client_range : options.clients),
            elapsed, static_cast<unsigned long long>(stats.ok),
            static_cast<unsigned long long>(stats.errors()),
            static_cast<unsigned long long>(stats.closed),
            static_cast<unsigned long long>(stats.timeouts),
            static_cast<unsigned long long>(stats.malformed),
            static_cast<unsigned long long>(stats.connect_failures), rate, latency.p50_ms,
            latency.p90_ms, latency.p99_ms, latency.max_ms);
        bool first = true;
        for (const auto& [action, count] : stats.actions) {
            // Action words are the reply's first token; escape nothing but
            // quotes and backslashes, which a policy server should not send.
            std::string word;
            for (char c : action) {
                if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
                    word.push_back('?');
                } else {
                    word.push_back(c);
                }
            }
            std::printf("%s\"%s\":%llu", first ? "" : ",", word.c_str(),
                        static_cast<unsigned long long>(count));
            first = false;
        }
        std::printf("}}\n");
        return;
    }
    std::printf("rdns-bench: %s, %zu connections, %s, %.2f s\n", options.server.c_str(),
                options.connections, mode.c_str(), elapsed);
    std::printf(
        "answers:    %llu ok, %llu errors (closed %llu, timeout %llu, malformed %llu, "
        "connect %llu)\n",
        static_cast<unsigned long long>(stats.ok), static_cast<unsigned long long>(stats.errors()),
        static_cast<unsigned long long>(stats.closed),
        static_cast<unsigned long long>(stats.timeouts),
        static_cast<unsigned long long>(stats.malformed),
        static_cast<unsigned long long>(stats.connect_failures));
    std::printf("throughput: %.0f req/s\n", rate);
    std::printf("latency:    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n", latency.p50_ms,
                latency.p90_ms, latency.p99_ms, latency.max_ms);
    std::printf("actions:   ");
    for (const auto& [action, count] : stats.actions) {
        std::printf(" %s=%llu", action.c_str(), static_cast<unsigned long long>(count));
    }
    std::printf("\n");
}

const char* const kUsage =
    "Usage: rdns-bench --server 127.0.0.1:PORT|unix:PATH [OPTIONS]\n"
    "  --connections N        persistent connections, one request outstanding on each (10)\n"
    "  --requests N           stop after N requests (100000)\n"
    "  --duration S           stop after S seconds (10); whichever bound comes first\n"
    "  --clients N            warm: requests cycle through N client addresses (100)\n"
    "  --cold                 every request a new client, cycling through --client-range\n"
    "  --client-range N       client addresses prepared in DNS (131072 = 198.18.0.0/15)\n"
    "  --client-offset N      index of the first client used (fresh clients per run)\n"
    "  --client-base IPV4     first prepared client address (198.18.0.0)\n"
    "  --helo NAME|ptr        HELO name; ptr = the client's own forward-confirmed name (ptr)\n"
    "  --rcpts-per-instance N requests that share one Postfix 'instance' (1)\n"
    "  --timeout-ms N         a request unanswered this long is an error (5000)\n"
    "  --json                 print one JSON object instead of the text report\n"
    "Exit status: 0 no errors, 1 some request failed, 64 bad command line.\n";

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) {
                throw std::invalid_argument(std::string(arg) + " needs a value");
            }
            return argv[++i];
        };
        if (arg == "--server") {
            options.server = std::string(value());
        } else if (arg == "--connections") {
            options.connections = bench::parse_count(arg, value(), 1, 10000);
        } else if (arg == "--requests") {
            options.requests = bench::parse_count(arg, value(), 1, 100000000);
        } else if (arg == "--duration") {
            options.duration_s = bench::parse_seconds(arg, value(), 3600);
        } else if (arg == "--clients") {
            options.clients = bench::parse_count(arg, value(), 1, 16777216);
        } else if (arg == "--cold") {
            options.cold = true;
        } else if (arg == "--client-range") {
            options.client_range = bench::parse_count(arg, value(), 1, 16777216);
        } else if (arg == "--client-offset") {
            options.client_offset = bench::parse_count(arg, value(), 0, 16777216);
        } else if (arg == "--client-base") {
            options.client_base = bench::parse_ipv4(value());
        } else if (arg == "--helo") {
            options.helo = std::string(value());
        } else if (arg == "--rcpts-per-instance") {
            options.rcpts_per_instance = bench::parse_count(arg, value(), 1, 1000);
        } else if (arg == "--timeout-ms") {
            options.timeout_ms = bench::parse_count(arg, value(), 1, 600000);
        } else if (arg == "--json") {
            options.json = true;
        } else if (arg == "--help") {
            std::cout << kUsage;
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown option " + std::string(arg));
        }
    }
    if (options.server.empty()) {
        throw std::invalid_argument("--server is required");
    }
    if (options.helo.empty() || options.helo.find_first_of("\n\r") != std::string::npos) {
        throw std::invalid_argument("--helo must be one non-empty line");
    }
    if (static_cast<std::uint64_t>(options.client_base) + options.client_range > 0xffffffffULL) {
        throw std::invalid_argument("--client-base + --client-range leaves IPv4");
    }
    return options;
}

int run(int argc, char** argv) {
    Options options;
    std::unique_ptr<Bench> bench;
    try {
        options = parse_options(argc, argv);
        bench = std::make_unique<Bench>(options);  // refuses non-loopback targets
    } catch (const std::exception& e) {
        std::cerr << "rdns-bench: " << e.what() << "\n" << kUsage;
        return 64;
    }
    try {
        bench->run();
    } catch (const std::exception& e) {
        std::cerr << "rdns-bench: " << e.what() << "\n";
        return 1;
    }
    print_report(*bench);
    return bench->stats().errors() == 0 ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {  // reporting ran out of memory, or worse
        std::cerr << "rdns-bench: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "rdns-bench: unexpected exception\n";
    }
    return 1;
}
