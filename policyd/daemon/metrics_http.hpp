// MetricsHttp: the [metrics] listen endpoint, a minimal HTTP/1.1 server
// (Boost.Beast) on the daemon's own event loop that answers GET /metrics
// with render() (policyd/metrics/metrics.hpp).
//
// Contract:
// - Single-threaded: the io_context's thread; render() is called there, per
//   scrape, and must not block.
// - Only GET and HEAD of /metrics (a query string is ignored): another path
//   is 404, another method 405. Keep-alive as the client asks.
// - Everything a client sends is bounded: the request head to kMaxHeadBytes
//   and kMaxFields lines (else 431), no body (413), kMaxConnections at once
//   (more are closed at once), a request must arrive whole within
//   kRequestTimeout of its first byte and the answer be taken within the
//   same time, and an idle keep-alive connection is closed after
//   kIdleTimeout. Policy connections never wait on a scraper: every read
//   and write here is asynchronous and a scrape is rendered in one pass.
// - listen() throws std::runtime_error naming the endpoint it could not
//   serve (policyd/daemon/listeners.hpp binds it); close() stops accepting
//   and closes every open connection, so the loop can finish.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "policyd/config/settings.hpp"

namespace policyd {

class MetricsHttp {
  public:
    using Render = std::function<std::string()>;

    static constexpr std::size_t kMaxHeadBytes = 8192;
    static constexpr std::size_t kMaxFields = 64;
    static constexpr std::size_t kMaxConnections = 16;
    static constexpr std::chrono::seconds kRequestTimeout{10};
    static constexpr std::chrono::seconds kIdleTimeout{120};

    MetricsHttp(boost::asio::io_context& io, Render render);
    ~MetricsHttp();
    MetricsHttp(const MetricsHttp&) = delete;
    MetricsHttp& operator=(const MetricsHttp&) = delete;

    // Logs "metrics listening on ENDPOINT" (the actual port for port 0).
    void listen(const Endpoint& endpoint, const Settings& settings);
    // A socket systemd passed for this endpoint.
    void adopt(int fd, const std::string& endpoint, bool unix_socket);
    void close();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace policyd
