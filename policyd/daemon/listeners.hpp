// Listeners: the daemon's listening endpoints (TCP, IPv4 and IPv6, and unix
// sockets with the configured mode and owner) and their accept loops.
//
// Contract:
// - Single-threaded: the io_context's thread.
// - listen() binds one endpoint, logs "listening on ENDPOINT" (with the
//   actual port for port 0) and starts accepting; it throws
//   std::runtime_error naming the endpoint and the reason when it cannot
//   serve it. A unix socket file left by an earlier run is replaced;
//   anything else at that path is refused.
// - Every accepted connection goes to its handler with a peer name for the
//   log ("inet:192.0.2.1:40000", "inet:[::1]:40000", "unix:/path"); TCP
//   connections have TCP_NODELAY set. An accept error (EMFILE, ...) is
//   logged and accepting goes on.
// - close() stops accepting and removes the unix socket files it bound;
//   idempotent.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/config/settings.hpp"

namespace policyd {

class Listeners {
  public:
    using TcpHandler = std::function<void(boost::asio::ip::tcp::socket, std::string peer)>;
    using UnixHandler =
        std::function<void(boost::asio::local::stream_protocol::socket, std::string peer)>;

    // `role` names them in the log ("metrics listening on ..."); empty for
    // the policy endpoints.
    Listeners(boost::asio::io_context& io, TcpHandler on_tcp, UnixHandler on_unix,
              std::string_view role = {});
    ~Listeners();
    Listeners(const Listeners&) = delete;
    Listeners& operator=(const Listeners&) = delete;

    // unix_socket_mode, _owner and _group come from `settings`.
    void listen(const Endpoint& endpoint, const Settings& settings);
    // Serves a listening socket systemd passed (policyd/daemon/systemd.hpp);
    // the Listeners own the descriptor from now on. Its mode and owner are
    // the socket unit's, and close() leaves a unix socket's file to systemd.
    void adopt(int fd, const std::string& endpoint, bool unix_socket);
    void close();

  private:
    void listen_tcp(const Endpoint& endpoint);
    void listen_unix(const Endpoint& endpoint, const Settings& settings);

    boost::asio::io_context& io_;
    TcpHandler on_tcp_;
    UnixHandler on_unix_;
    std::list<boost::asio::ip::tcp::acceptor> tcp_;
    std::list<boost::asio::local::stream_protocol::acceptor> unix_;
    std::vector<std::string> unix_paths_;
    std::string prefix_;
    bool closed_ = false;
};

}  // namespace policyd
