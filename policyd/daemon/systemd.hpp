// systemd: the service manager's side of the daemon's life, where there is
// one (Type=notify, WatchdogSec=, socket activation); without systemd every
// call here does nothing.
//
// Contract:
// - Notifier sends sd_notify(3) state: ready() once every listener is bound
//   and the resolver is up (READY=1 and a STATUS= line); reloading() before a
//   SIGHUP reload (RELOADING=1 with MONOTONIC_USEC, which newer systemd
//   reads) and ready() after it, whatever its outcome; stopping()
//   (STOPPING=1); status(text) any time.
// - start_watchdog(): when systemd asks for one (WATCHDOG_USEC, and
//   WATCHDOG_PID is ours or unset), WATCHDOG=1 is sent from a timer on the
//   event loop at half the interval, so a loop that is stuck stops the pings
//   and systemd restarts the service. The status callback is called at each
//   ping for a fresh STATUS= line. stop_watchdog() ends it (at shutdown).
// - passed_sockets(): the listening sockets systemd passed (sd_listen_fds),
//   each with the endpoint it serves ("inet:127.0.0.1:10045", "inet:[::1]:25",
//   "unix:/path"); the caller takes ownership of the descriptors. Called once,
//   at start-up; it unsets LISTEN_FDS so children never see them.
// - Single-threaded: the event loop's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace policyd {

struct PassedSocket {
    int fd = -1;
    std::string endpoint;  // as daemon.listen writes it
    bool unix_socket = false;
};

std::vector<PassedSocket> passed_sockets();

class Notifier {
  public:
    explicit Notifier(boost::asio::io_context& io);

    void ready(const std::string& status);
    void reloading();
    void stopping();
    void status(const std::string& status);

    void start_watchdog(std::function<std::string()> status);
    void stop_watchdog();

  private:
    void arm();

    boost::asio::steady_timer timer_;
    std::chrono::microseconds interval_{0};
    std::function<std::string()> status_;
    bool running_ = false;
};

}  // namespace policyd
