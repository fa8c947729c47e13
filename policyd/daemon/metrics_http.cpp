#include "policyd/daemon/metrics_http.hpp"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <iterator>
#include <list>
#include <optional>
#include <string_view>
#include <utility>

#include "policyd/base/watchdog.hpp"
#include "policyd/daemon/listeners.hpp"
#include "policyd/metrics/metrics.hpp"

namespace policyd {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;

namespace {

using Clock = std::chrono::steady_clock;
using Response = http::response<http::string_body>;

Response plain(http::status status, unsigned version, std::string_view text) {
    Response response{status, version};
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::string(text);
    return response;
}

}  // namespace

struct MetricsHttp::Impl {
    asio::io_context& io;
    Render render;
    // One per open connection, so close() can end keep-alive scrapers
    // that would otherwise hold the loop open.
    std::list<std::function<void()>> open;
    bool closed = false;

    Listeners listeners{io,
                        [this](asio::ip::tcp::socket socket, std::string peer) {
                            start(std::move(socket), std::move(peer));
                        },
                        [this](asio::local::stream_protocol::socket socket, std::string peer) {
                            start(std::move(socket), std::move(peer));
                        },
                        "metrics"};

    Impl(asio::io_context& context, Render r) : io(context), render(std::move(r)) {}

    template <typename Socket>
    void start(Socket socket, std::string peer) {
        if (closed || open.size() >= kMaxConnections) {
            return;  // closing the socket is the whole answer
        }
        auto owned = std::make_shared<Socket>(std::move(socket));
        auto handle = open.insert(open.end(), [owned] {
            error_code ignored;
            owned->close(ignored);
        });
        asio::co_spawn(
            io,
            [this, owned, handle, peer = std::move(peer)]() -> awaitable<void> {
                try {
                    co_await serve(*owned, peer);
                } catch (const std::exception& error) {
                    spdlog::warn("metrics connection {}: {}", peer, error.what());
                }
                open.erase(handle);
            },
            asio::detached);
    }

    // What a request gets; nullopt when the request itself is refused and
    // the connection is to close after the error answer in `response`.
    Response answer(const http::request<http::empty_body>& request) {
        const std::string_view target(request.target().data(), request.target().size());
        const std::string_view path = target.substr(0, target.find('?'));
        if (path != "/metrics") {
            return plain(http::status::not_found, request.version(),
                         "rdns-policyd serves only /metrics\n");
        }
        if (request.method() != http::verb::get && request.method() != http::verb::head) {
            auto response =
                plain(http::status::method_not_allowed, request.version(), "only GET and HEAD\n");
            response.set(http::field::allow, "GET, HEAD");
            return response;
        }
        Response response{http::status::ok, request.version()};
        response.set(
            http::field::content_type,
            boost::beast::string_view(kMetricsContentType.data(), kMetricsContentType.size()));
        response.body() = render();
        return response;
    }

    template <typename Socket>
    awaitable<void> serve(Socket& socket, const std::string& peer) {
        Watchdog watchdog(socket.get_executor(), [&socket] {
            error_code ignored;
            socket.cancel(ignored);
        });
        boost::beast::flat_buffer buffer(kMaxHeadBytes);
        for (;;) {
            error_code ec;
            // Idle between requests; a request's bytes then have
            // kRequestTimeout to arrive whole, however they trickle.
            if (buffer.size() == 0) {
                watchdog.arm(Clock::now(), kIdleTimeout);
                co_await socket.async_wait(Socket::wait_read,
                                           asio::redirect_error(use_awaitable, ec));
                watchdog.disarm();
                if (ec) {
                    co_return;
                }
            }
            http::request_parser<http::empty_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(kMaxHeadBytes));
            parser.body_limit(0);
            watchdog.arm(Clock::now(), kRequestTimeout);
            co_await http::async_read(socket, buffer, parser,
                                      asio::redirect_error(use_awaitable, ec));
            watchdog.disarm();
            std::optional<Response> refusal;
            if (ec == http::error::header_limit) {
                refusal = plain(http::status::request_header_fields_too_large, 11,
                                "request head too large\n");
            } else if (ec == http::error::body_limit) {
                refusal = plain(http::status::payload_too_large, 11, "no body expected\n");
            } else if (ec == http::error::end_of_stream || ec == asio::error::eof ||
                       ec == asio::error::operation_aborted) {
                co_return;  // closed, timed out or shut down: nothing to answer
            } else if (ec) {
                refusal = plain(http::status::bad_request, 11, "malformed request\n");
            } else if (static_cast<std::size_t>(
                           std::distance(parser.get().begin(), parser.get().end())) > kMaxFields) {
                refusal = plain(http::status::request_header_fields_too_large, 11,
                                "too many header fields\n");
            }
            const bool keep_alive = !refusal && parser.get().keep_alive();
            Response response = refusal ? std::move(*refusal) : answer(parser.get());
            if (!refusal && parser.get().method() == http::verb::head) {
                response.prepare_payload();
                response.body().clear();  // Content-Length stays that of GET
                response.keep_alive(keep_alive);
                http::response_serializer<http::string_body> head(response);
                head.split(true);
                watchdog.arm(Clock::now(), kRequestTimeout);
                co_await http::async_write_header(socket, head,
                                                  asio::redirect_error(use_awaitable, ec));
                watchdog.disarm();
            } else {
                response.keep_alive(keep_alive);
                response.prepare_payload();
                watchdog.arm(Clock::now(), kRequestTimeout);
                co_await http::async_write(socket, response,
                                           asio::redirect_error(use_awaitable, ec));
                watchdog.disarm();
            }
            if (ec) {
                if (watchdog.expired()) {
                    spdlog::info("metrics connection {}: answer not taken in time; closing", peer);
                }
                co_return;
            }
            if (!keep_alive) {
                error_code ignored;
                socket.shutdown(Socket::shutdown_send, ignored);
                co_return;
            }
        }
    }
};

MetricsHttp::MetricsHttp(asio::io_context& io, Render render)
    : impl_(std::make_unique<Impl>(io, std::move(render))) {}

MetricsHttp::~MetricsHttp() {
    close();
}

void MetricsHttp::listen(const Endpoint& endpoint, const Settings& settings) {
    impl_->listeners.listen(endpoint, settings);
}

void MetricsHttp::adopt(int fd, const std::string& endpoint, bool unix_socket) {
    impl_->listeners.adopt(fd, endpoint, unix_socket);
}

void MetricsHttp::close() {
    impl_->closed = true;
    impl_->listeners.close();
    for (const auto& close_connection : impl_->open) {
        close_connection();
    }
}

}  // namespace policyd
