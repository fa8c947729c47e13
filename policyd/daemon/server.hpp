// Server: the daemon's connections and signals, on one io_context. It owns
// the resolver stack (policyd/config/stack.hpp), the Responder that answers
// each request (policyd/answer/responder.hpp) and the Listeners
// (policyd/daemon/listeners.hpp); what is left here is the connection loop
// (read, parse, answer, write, under one Watchdog), reload, stop and the
// signals.
//
// Contract:
// - Everything runs on the io_context's single thread.
// - Each accepted connection is one coroutine that owns its socket. Requests
//   on a connection are answered strictly in order. Protocol trouble (see
//   policyd/protocol/codec.hpp) and internal errors close the connection without a
//   reply, after one sanitised warning: Postfix then applies its
//   default_action.
// - An idle connection is kept for daemon.idle_timeout_s (longer than
//   Postfix's 300 s max idle); a request must arrive whole within
//   daemon.read_timeout_s of its first byte (a trickling peer cannot stretch
//   it), and a reply must be taken within it, or the peer is dropped.
// - Connections beyond daemon.max_connections are closed at once; the
//   connections-refused alarm (policyd/metrics/alarms.hpp) says so once when
//   it begins, then at most every [alarms] repeat_s, not once per connection.
//   The alarms are looked at every 5 s and logged through log_alarm().
// - The configuration is an immutable snapshot behind a shared_ptr; each
//   request takes the snapshot current when it starts, so a reload
//   (reload()) never mixes two rule tables in one answer.
// - listen() throws std::runtime_error naming the endpoint it could not
//   serve; nothing else here throws to the caller.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "policyd/config/settings.hpp"

namespace policyd {

class Server {
  public:
    Server(boost::asio::io_context& io, std::shared_ptr<const Config> config, Overrides overrides);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every configured endpoint and starts accepting; logs
    // "listening on ENDPOINT" (with the actual port) for each.
    void listen();

    // Serves one session on stdin/stdout (Postfix spawn(8)); the io_context
    // runs out of work when the peer closes stdin.
    void serve_stdio();

    // SIGTERM/SIGINT stop; SIGHUP reloads. Call once before io.run().
    void handle_signals();

    // Re-reads the configuration file; on success the new rule table and
    // reloadable settings apply to requests that start from now on, on
    // failure every error is logged and the running configuration stays.
    void reload();

    // Stops accepting, lets requests in progress finish, closes idle
    // connections and shuts the resolver down.
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace policyd
