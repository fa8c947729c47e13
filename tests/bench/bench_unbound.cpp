// bench-unbound: the cold-path baseline of DESIGN.md "What fast means":
// libunbound alone doing forward-confirmed reverse DNS for new clients as
// fast as it can. One check = PTR of the client, then the A of every PTR
// name (at most 10), concurrently, like the daemon's iprev: the clients are
// IPv4, and only an A record can confirm one. With --with-helo the A of the
// HELO name (the client's own name) starts together with the PTR, which is
// the daemon's exact query pattern. --both-families asks AAAA too, wherever
// A is asked: what the daemon asked until it asked only the client's family.
//
// At most --inflight checks are outstanding; the run stops after --checks
// checks or --duration seconds. libunbound is configured as the daemon
// configures it: async with a thread, the same --unbound-config file, the
// same --forwarder, do-not-query-localhost off. Forwarders must be loopback.

#include <poll.h>
#include <unbound.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTypeA = 1, kTypePtr = 12, kTypeAaaa = 28, kClassIn = 1;
constexpr std::size_t kMaxPtrNames = 10;

struct Options {
    std::string forwarder;
    std::string unbound_config;
    std::uint64_t checks = 100000;
    double duration_s = 10;
    std::uint64_t inflight = 100;
    std::uint64_t client_range = 131072;
    std::uint64_t client_offset = 0;
    std::uint32_t client_base = bench::parse_ipv4("198.18.0.0");
    bool with_helo = false;
    bool both_families = false;
    bool json = false;
};

struct Totals {
    std::uint64_t checks = 0, pass = 0, fail = 0, permerror = 0, temperror = 0;
    std::uint64_t queries = 0;
    std::vector<std::uint32_t> latency_us;
};

struct Check;
class Runner;

// What one libunbound callback belongs to.
struct Query {
    Runner* runner;
    Check* check;
    enum Kind { ptr, forward, helo } kind;
};

struct Check {
    std::uint32_t client = 0;
    Clock::time_point started;
    int outstanding = 0;  // queries not yet answered
    bool ptr_answered = false;
    bool ptr_error = false, ptr_none = false;
    bool confirmed = false, forward_error = false;
    std::vector<Query> queries;  // stable storage for callback arguments
};

class Runner {
  public:
    Runner(ub_ctx* ctx, const Options& options, Totals& totals)
        : ctx_(ctx), options_(options), totals_(totals) {}

    int run() {
        const auto deadline =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options_.duration_s));
        started_ = Clock::now();
        // Drain bound: once the load stops, in-flight checks get this long.
        const auto drain_limit = std::chrono::seconds(10);
        Clock::time_point stop_at = Clock::time_point::max();
        for (;;) {
            const auto now = Clock::now();
            const bool may_start = issued_ < options_.checks && now < deadline;
            if (!may_start && stop_at == Clock::time_point::max()) {
                stop_at = now + drain_limit;
            }
            while (may_start && in_flight_ < options_.inflight && issued_ < options_.checks) {
                if (start_check() != 0) {
                    return 1;
                }
            }
            if (in_flight_ == 0 && !may_start) {
                break;
            }
            if (now >= stop_at) {
                std::cerr << "bench-unbound: " << in_flight_
                          << " checks unanswered after the drain limit\n";
                break;
            }
            pollfd fd{ub_fd(ctx_), POLLIN, 0};
            if (poll(&fd, 1, 100) > 0) {
                if (ub_process(ctx_) != 0) {
                    std::cerr << "bench-unbound: ub_process failed\n";
                    return 1;
                }
            }
        }
        finished_ = Clock::now();
        return 0;
    }

    double elapsed_s() const { return std::chrono::duration<double>(finished_ - started_).count(); }

  private:
    int start_check() {
        const std::uint64_t index = (options_.client_offset + issued_) % options_.client_range;
        ++issued_;
        ++in_flight_;
        auto check = std::make_unique<Check>();
        check->client = options_.client_base + static_cast<std::uint32_t>(index);
        check->started = Clock::now();
        check->queries.reserve(2 * kMaxPtrNames + 3);
        Check* raw = check.release();

        std::string reverse;
        for (int shift = 0; shift <= 24; shift += 8) {
            reverse += std::to_string((raw->client >> shift) & 0xffU) + ".";
        }
        reverse += "in-addr.arpa.";
        if (!submit(raw, reverse, kTypePtr, Query::ptr)) {
            return 1;
        }
        if (options_.with_helo) {
            std::string name;
            bench::append_client_name(name, raw->client);
            if (!submit(raw, name, kTypeA, Query::helo) ||
                (options_.both_families && !submit(raw, name, kTypeAaaa, Query::helo))) {
                return 1;
            }
        }
        return 0;
    }

    bool submit(Check* check, const std::string& name, int type, Query::Kind kind) {
        check->queries.push_back(Query{this, check, kind});
        Query* query = &check->queries.back();
        ++check->outstanding;
        ++totals_.queries;
        const int err =
            ub_resolve_async(ctx_, name.c_str(), type, kClassIn, query, &Runner::callback, nullptr);
        if (err != 0) {
            std::cerr << "bench-unbound: ub_resolve_async: " << ub_strerror(err) << "\n";
            return false;
        }
        return true;
    }

    static void callback(void* arg, int err, ub_result* result) {
        const std::unique_ptr<ub_result, void (*)(ub_result*)> owned(result, &ub_resolve_free);
        auto* query = static_cast<Query*>(arg);
        query->runner->answered(*query, err, result);
    }

    void answered(const Query& query, int err, const ub_result* result) {
        Check* check = query.check;
        --check->outstanding;
        const bool failed = err != 0 || result == nullptr ||
                            (result->rcode != 0 && result->rcode != 3);  // not NOERROR/NXDOMAIN
        if (query.kind == Query::ptr) {
            check->ptr_answered = true;
            if (failed) {
                check->ptr_error = true;
            } else if (!result->havedata) {
                check->ptr_none = true;
            } else {
                for (std::size_t i = 0; i < kMaxPtrNames && result->data[i] != nullptr; ++i) {
                    const std::string name = wire_to_text(result->data[i], result->len[i]);
                    if (!name.empty() && (!submit(check, name, kTypeA, Query::forward) ||
                                          (options_.both_families &&
                                           !submit(check, name, kTypeAaaa, Query::forward)))) {
                        check->forward_error = true;
                    }
                }
            }
        } else if (query.kind == Query::forward) {
            if (failed) {
                check->forward_error = true;
            } else if (result->havedata && result->qtype == kTypeA) {
                for (std::size_t i = 0; result->data[i] != nullptr; ++i) {
                    if (result->len[i] == 4) {
                        const auto* b = reinterpret_cast<const unsigned char*>(result->data[i]);
                        const std::uint32_t address = (std::uint32_t{b[0]} << 24) |
                                                      (std::uint32_t{b[1]} << 16) |
                                                      (std::uint32_t{b[2]} << 8) | b[3];
                        check->confirmed = check->confirmed || address == check->client;
                    }
                }
            }
        }
        if (check->outstanding == 0) {
            finish(check);
        }
    }

    // A PTR rdata is an uncompressed wire-format name.
    static std::string wire_to_text(const char* data, int length) {
        std::string text;
        int at = 0;
        while (at < length) {
            const int label = static_cast<unsigned char>(data[at]);
            if (label == 0) {
                return text.empty() ? "." : text;
            }
            if (label > 63 || at + 1 + label > length) {
                return {};
            }
            text.append(data + at + 1, static_cast<std::size_t>(label));
            text.push_back('.');
            at += 1 + label;
        }
        return {};
    }

    void finish(Check* check) {
        const std::unique_ptr<Check> owned(check);
        --in_flight_;
        ++totals_.checks;
        // iprev as RFC 8601 (and the daemon) define it: a confirmed PTR name
        // passes even when another name's lookup failed.
        const bool temperror =
            check->ptr_error || (!check->ptr_none && !check->confirmed && check->forward_error);
        if (temperror) {
            ++totals_.temperror;
        } else if (check->ptr_none) {
            ++totals_.permerror;
        } else if (check->confirmed) {
            ++totals_.pass;
        } else {
            ++totals_.fail;
        }
        totals_.latency_us.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - check->started)
                .count()));
    }

    ub_ctx* ctx_;
    const Options& options_;
    Totals& totals_;
    std::uint64_t issued_ = 0;
    std::uint64_t in_flight_ = 0;
    Clock::time_point started_{}, finished_{};
};

const char* const kUsage =
    "Usage: bench-unbound --forwarder 127.0.0.1@PORT [--unbound-config FILE] [OPTIONS]\n"
    "  --checks N         stop after N checks (100000)\n"
    "  --duration S       stop starting checks after S seconds (10)\n"
    "  --inflight N       checks outstanding at once (100)\n"
    "  --client-range N   client addresses prepared in DNS (131072 = 198.18.0.0/15)\n"
    "  --client-offset N  index of the first client\n"
    "  --client-base IPV4 first prepared client address (198.18.0.0)\n"
    "  --with-helo        also look up the A of the HELO name, as the daemon does\n"
    "  --both-families    ask AAAA wherever A is asked (the daemon's old pattern)\n"
    "  --json             print one JSON object\n";

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
        if (arg == "--forwarder") {
            options.forwarder = std::string(value());
        } else if (arg == "--unbound-config") {
            options.unbound_config = std::string(value());
        } else if (arg == "--checks") {
            options.checks = bench::parse_count(arg, value(), 1, 100000000);
        } else if (arg == "--duration") {
            options.duration_s = bench::parse_seconds(arg, value(), 3600);
        } else if (arg == "--inflight") {
            options.inflight = bench::parse_count(arg, value(), 1, 10000);
        } else if (arg == "--client-range") {
            options.client_range = bench::parse_count(arg, value(), 1, 16777216);
        } else if (arg == "--client-offset") {
            options.client_offset = bench::parse_count(arg, value(), 0, 16777216);
        } else if (arg == "--client-base") {
            options.client_base = bench::parse_ipv4(value());
        } else if (arg == "--with-helo") {
            options.with_helo = true;
        } else if (arg == "--both-families") {
            options.both_families = true;
        } else if (arg == "--json") {
            options.json = true;
        } else {
            throw std::invalid_argument("unknown option " + std::string(arg));
        }
    }
    // 127.0.0.1@PORT: the address part must be loopback.
    const auto at = options.forwarder.find('@');
    const std::string host = options.forwarder.substr(0, at);
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(host, ec);
    if (options.forwarder.empty() || ec || !address.is_loopback()) {
        throw std::invalid_argument("--forwarder must be a loopback address (127.0.0.1@PORT)");
    }
    return options;
}

int run(int argc, char** argv) {
    Options options;
    try {
        options = parse_options(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "bench-unbound: " << e.what() << "\n" << kUsage;
        return 64;
    }
    ub_ctx* ctx = ub_ctx_create();
    if (ctx == nullptr) {
        std::cerr << "bench-unbound: ub_ctx_create failed\n";
        return 1;
    }
    const auto setup = [&](int err, const char* what) {
        if (err != 0) {
            std::cerr << "bench-unbound: " << what << ": " << ub_strerror(err) << "\n";
        }
        return err == 0;
    };
    // The same settings, in the same order, as resolver::Resolver.
    if (!setup(ub_ctx_async(ctx, 1), "ub_ctx_async") ||
        (!options.unbound_config.empty() &&
         !setup(ub_ctx_config(ctx, options.unbound_config.c_str()), "ub_ctx_config")) ||
        !setup(ub_ctx_set_fwd(ctx, options.forwarder.c_str()), "ub_ctx_set_fwd") ||
        !setup(ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"), "do-not-query-localhost")) {
        ub_ctx_delete(ctx);
        return 1;
    }
    Totals totals;
    totals.latency_us.reserve(std::min<std::uint64_t>(options.checks, 1U << 22));
    Runner runner(ctx, options, totals);
    const int rc = runner.run();
    ub_ctx_delete(ctx);  // cancels whatever is still outstanding
    if (rc != 0) {
        return rc;
    }
    const double elapsed = runner.elapsed_s();
    const double rate = elapsed > 0 ? static_cast<double>(totals.checks) / elapsed : 0;
    const bench::Summary latency = bench::summarize(totals.latency_us);
    if (options.json) {
        std::printf(
            "{\"inflight\":%llu,\"with_helo\":%s,\"elapsed_s\":%.3f,\"checks\":%llu,"
            "\"queries\":%llu,\"pass\":%llu,\"fail\":%llu,\"permerror\":%llu,\"temperror\":%llu,"
            "\"checks_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
            "\"max_ms\":%.3f}\n",
            static_cast<unsigned long long>(options.inflight), options.with_helo ? "true" : "false",
            elapsed, static_cast<unsigned long long>(totals.checks),
            static_cast<unsigned long long>(totals.queries),
            static_cast<unsigned long long>(totals.pass),
            static_cast<unsigned long long>(totals.fail),
            static_cast<unsigned long long>(totals.permerror),
            static_cast<unsigned long long>(totals.temperror), rate, latency.p50_ms, latency.p90_ms,
            latency.p99_ms, latency.max_ms);
    } else {
        std::printf("bench-unbound: %llu in flight%s, %.2f s\n",
                    static_cast<unsigned long long>(options.inflight),
                    options.with_helo ? ", with HELO lookups" : "", elapsed);
        std::printf(
            "checks:     %llu (pass %llu, fail %llu, permerror %llu, temperror %llu), "
            "%llu queries\n",
            static_cast<unsigned long long>(totals.checks),
            static_cast<unsigned long long>(totals.pass),
            static_cast<unsigned long long>(totals.fail),
            static_cast<unsigned long long>(totals.permerror),
            static_cast<unsigned long long>(totals.temperror),
            static_cast<unsigned long long>(totals.queries));
        std::printf("throughput: %.0f checks/s\n", rate);
        std::printf("latency:    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
                    latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms);
    }
    return totals.pass == totals.checks ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {  // reporting ran out of memory, or worse
        std::cerr << "bench-unbound: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "bench-unbound: unexpected exception\n";
    }
    return 1;
}
