// Test helpers: real DNS servers on loopback ports chosen by the OS.
//
// Contract:
// - TestNameServer runs `ldns-testns [-v] -r DATAFILE` (UDP and TCP on the
//   IPv4 any-address, one query at a time; -v logs every query it answers).
//   The constructor returns once the server printed its port, starting it
//   again (a few times) when its random port was taken, or throws
//   std::runtime_error with the server's output after a bounded wait. The
//   destructor kills and reaps it.
// - SilentUdpServer is a UDP socket on 127.0.0.1 that never answers: every
//   query to it times out.
// - write_unbound_config() writes a libunbound config file that lets the test
//   zones through libunbound's built-in local (AS112, RFC 6761) zones, and
//   returns its path. The files live in one temporary directory removed when
//   the test binary exits.
// Not thread-safe; tests use them from one thread.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "resolver/resolver.hpp"

namespace testing_support {

class TestNameServer {
  public:
    explicit TestNameServer(const std::string& datafile, bool verbose = false);
    ~TestNameServer();
    TestNameServer(const TestNameServer&) = delete;
    TestNameServer& operator=(const TestNameServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string forwarder() const;  // "127.0.0.1@PORT"
    std::string output() const;     // what the server printed so far
    // Waits until pred(output) holds, at most `limit` (and not past the
    // server's exit); returns whether it holds.
    bool wait_output(const std::function<bool(const std::string&)>& pred,
                     std::chrono::milliseconds limit) const;

  private:
    bool start(const std::string& datafile, bool verbose, std::string& why);
    void stop() noexcept;

    pid_t pid_ = -1;
    int read_fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread reader_;  // drains the server's output so it never blocks on a full pipe
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::string output_;
    bool eof_ = false;
};

class SilentUdpServer {
  public:
    SilentUdpServer();
    ~SilentUdpServer();
    SilentUdpServer(const SilentUdpServer&) = delete;
    SilentUdpServer& operator=(const SilentUdpServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string forwarder() const;  // "127.0.0.1@PORT"

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

std::string write_unbound_config(const std::string& extra = "");

// Resolver options that forward everything to `forwarder` ("127.0.0.1@PORT")
// through a fresh write_unbound_config(unbound_extra).
resolver::ResolverOptions forward_to(const std::string& forwarder,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                     const std::string& unbound_extra = "");

// Runs handlers until done() holds or `limit` passes; returns done(). The
// bounded wait every integration test uses instead of sleeping.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds limit);

}  // namespace testing_support
