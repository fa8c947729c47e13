// bench-ceiling: the throughput ceiling of DESIGN.md "What fast means": a
// bare Asio responder with the policy protocol's framing that answers every
// request (attribute lines up to an empty line) with "action=DUNNO" and does
// nothing else. One thread, one io_context, like the daemon's default.
//
// Usage: bench-ceiling [--listen inet:127.0.0.1:PORT|unix:PATH]
// Prints "listening on ENDPOINT" and then "ready" on stderr; runs until
// SIGTERM or SIGINT. Loopback only. A request larger than 64 KiB closes the
// connection (bounded, like the daemon).

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_common.hpp"

namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr std::size_t kMaxRequest = std::size_t{64} * 1024;
constexpr std::string_view kReply = "action=DUNNO\n\n";

template <typename Protocol>
class Session : public std::enable_shared_from_this<Session<Protocol>> {
  public:
    explicit Session(typename Protocol::socket socket) : socket_(std::move(socket)) {
        buffer_.resize(8192);
    }
    void start() { read(); }

  private:
    void read() {
        if (length_ == buffer_.size()) {
            if (buffer_.size() >= kMaxRequest) {
                return;  // request too large: drop the connection
            }
            buffer_.resize(buffer_.size() * 2);
        }
        socket_.async_read_some(
            asio::buffer(buffer_.data() + length_, buffer_.size() - length_),
            [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                if (!ec) {
                    self->received(n);
                }
            });
    }

    void received(std::size_t n) {
        // Count the complete requests now buffered (one, with Postfix) and
        // answer each; keep a partial one for the next read.
        std::size_t scan = length_ == 0 ? 0 : length_ - 1;
        length_ += n;
        std::size_t consumed = 0;
        out_.clear();
        const std::string_view seen(buffer_.data(), length_);
        for (;;) {
            const auto end = seen.find("\n\n", std::max(scan, consumed));
            if (end == std::string_view::npos) {
                break;
            }
            consumed = end + 2;
            out_.append(kReply);
        }
        if (consumed != 0) {
            std::memmove(buffer_.data(), buffer_.data() + consumed, length_ - consumed);
            length_ -= consumed;
        }
        if (out_.empty()) {
            read();
            return;
        }
        asio::async_write(socket_, asio::buffer(out_),
                          [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                              if (!ec) {
                                  self->read();
                              }
                          });
    }

    typename Protocol::socket socket_;
    std::vector<char> buffer_;
    std::size_t length_ = 0;
    std::string out_;
};

template <typename Protocol>
void accept(typename Protocol::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](const error_code& ec, typename Protocol::socket socket) {
        if (ec) {
            // Out of descriptors or shut down: stop accepting rather than
            // spin; the load generator reports the refused connections.
            if (ec != asio::error::operation_aborted) {
                std::cerr << "bench-ceiling: accept: " << ec.message() << "\n";
            }
            return;
        }
        std::make_shared<Session<Protocol>>(std::move(socket))->start();
        accept<Protocol>(acceptor);
    });
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen = "inet:127.0.0.1:0";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--listen" && i + 1 < argc) {
            listen = argv[++i];
        } else {
            std::cerr << "usage: bench-ceiling [--listen inet:127.0.0.1:PORT|unix:PATH]\n";
            return 64;
        }
    }
    try {
        const bench::Endpoint endpoint = bench::parse_loopback_endpoint(listen);
        asio::io_context io(1);
        asio::signal_set signals(io, SIGTERM, SIGINT);
        if (endpoint.is_unix) {
            ::unlink(endpoint.path.c_str());
            asio::local::stream_protocol::acceptor acceptor(
                io, asio::local::stream_protocol::endpoint(endpoint.path));
            std::cerr << "listening on unix:" << endpoint.path << "\nready" << std::endl;
            accept<asio::local::stream_protocol>(acceptor);
            signals.async_wait([&](const error_code&, int) { io.stop(); });
            io.run();
            ::unlink(endpoint.path.c_str());
        } else {
            asio::ip::tcp::acceptor acceptor(io, endpoint.inet);
            const auto bound = acceptor.local_endpoint();
            const std::string host = bound.address().is_v6()
                                         ? "[" + bound.address().to_string() + "]"
                                         : bound.address().to_string();
            std::cerr << "listening on inet:" << host << ":" << bound.port() << "\nready"
                      << std::endl;
            accept<asio::ip::tcp>(acceptor);
            signals.async_wait([&](const error_code&, int) { io.stop(); });
            io.run();
        }
    } catch (const std::exception& e) {
        std::cerr << "bench-ceiling: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
