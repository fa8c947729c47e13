// Test helper: NSD, a real authoritative server, on a free loopback port.
//
// Contract:
// - TestNsd writes an NSD config for the given zones into its own temporary
//   directory and runs `nsd -d -c CONF` (foreground, no privilege drop, no
//   database, no remote control) on 127.0.0.1, UDP and TCP. The constructor
//   returns once the server answers an SOA query for the first zone, or
//   throws std::runtime_error with NSD's output and log after a bounded wait.
//   A port that turns out to be taken is retried with another.
// - The destructor kills NSD's whole process group, reaps it and removes the
//   directory.
// - run_bounded() runs a helper program (e.g. the zone-signing script) with a
//   time limit and throws with its output when it fails.
// Not thread-safe; tests use it from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace testing_support {

class TestNsd {
  public:
    struct Zone {
        std::string name;  // "example.test"
        std::string file;  // absolute path of its zone file
    };

    explicit TestNsd(std::vector<Zone> zones);
    ~TestNsd();
    TestNsd(const TestNsd&) = delete;
    TestNsd& operator=(const TestNsd&) = delete;

    std::uint16_t port() const { return port_; }
    std::string forwarder() const;  // "127.0.0.1@PORT"
    std::string output() const;     // NSD's stdout/stderr and log file so far

  private:
    bool start(std::uint16_t port);  // false: NSD exited (port clash?)
    void stop() noexcept;

    std::filesystem::path dir_;
    std::vector<Zone> zones_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

// Runs argv[0] (searched in PATH) with its output to a file; throws
// std::runtime_error with that output if it does not exit 0 within `limit`.
void run_bounded(const std::vector<std::string>& argv, std::chrono::seconds limit);

}  // namespace testing_support
