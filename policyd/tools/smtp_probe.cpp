#include "policyd/tools/smtp_probe.hpp"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <utility>

#include "policyd/base/ascii.hpp"
#include "policyd/base/watchdog.hpp"

namespace policyd {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using tcp = asio::ip::tcp;

ReplyLine add_reply_line(SmtpReply& reply, std::string_view line, std::size_t max_lines) {
    // "ddd" then " " or "-" or nothing (RFC 5321 4.2.1: a bare code is
    // allowed on the last line).
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
        line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        return ReplyLine::malformed;
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if ((!reply.lines.empty() && code != reply.code) || reply.lines.size() >= max_lines) {
        return ReplyLine::malformed;
    }
    reply.code = code;
    reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    return line.size() > 3 && line[3] == '-' ? ReplyLine::more : ReplyLine::done;
}

std::string announced_name(const SmtpReply& reply) {
    if (reply.lines.empty()) {
        return {};
    }
    const std::string_view text = reply.lines.front();
    const std::size_t start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        return {};
    }
    const std::size_t end = text.find(' ', start);
    return std::string(text.substr(start, end == std::string_view::npos ? end : end - start));
}

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds ms) {
    const auto count = ms.count();
    return count % 1000 == 0 ? std::to_string(count / 1000) + " s" : std::to_string(count) + " ms";
}

struct Probe {
    Probe(asio::io_context& io, ProbeLimits l) : socket(io), limits(l) {}
    tcp::socket socket;
    ProbeLimits limits;
    std::string buffer;
    ProbeResult result;

    // Reads one whole reply within the deadline; false with result.status
    // and result.error set otherwise.
    awaitable<bool> read_reply(Watchdog& watchdog, SmtpReply& reply, std::string_view what) {
        watchdog.arm_until(Clock::now() + limits.reply);
        for (;;) {
            error_code ec;
            const std::size_t n = co_await asio::async_read_until(
                socket, asio::dynamic_buffer(buffer, limits.max_line), '\n',
                asio::redirect_error(use_awaitable, ec));
            if (ec) {
                watchdog.disarm();
                if (watchdog.expired()) {
                    result.status = ProbeStatus::timeout;
                    result.error =
                        "no " + std::string(what) + " within " + seconds_text(limits.reply);
                } else if (ec == asio::error::not_found) {
                    result.status = ProbeStatus::malformed;
                    result.error = std::string(what) + ": a line longer than " +
                                   std::to_string(limits.max_line) + " bytes";
                } else {
                    result.status = ProbeStatus::closed;
                    result.error = std::string(what) + ": the server closed the connection (" +
                                   ec.message() + ")";
                }
                co_return false;
            }
            std::string_view line(buffer.data(), n - 1);
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            const ReplyLine state = add_reply_line(reply, line, limits.max_lines);
            buffer.erase(0, n);
            if (state == ReplyLine::malformed) {
                watchdog.disarm();
                result.status = ProbeStatus::malformed;
                result.error = std::string(what) + ": not an SMTP reply, or over " +
                               std::to_string(limits.max_lines) + " lines";
                co_return false;
            }
            if (state == ReplyLine::done) {
                watchdog.disarm();
                co_return true;
            }
        }
    }

    awaitable<bool> send(Watchdog& watchdog, const std::string& command) {
        error_code ec;
        watchdog.arm_until(Clock::now() + limits.reply);
        co_await asio::async_write(socket, asio::buffer(command),
                                   asio::redirect_error(use_awaitable, ec));
        watchdog.disarm();
        if (ec) {
            result.status = watchdog.expired() ? ProbeStatus::timeout : ProbeStatus::closed;
            result.error = "sending " + command.substr(0, command.find(' ')) + ": " +
                           (watchdog.expired() ? "timed out" : ec.message());
            co_return false;
        }
        co_return true;
    }

    awaitable<void> run(tcp::endpoint server, std::string ehlo_name) {
        Watchdog watchdog(socket.get_executor(), [this] {
            error_code ignored;
            socket.cancel(ignored);
        });
        error_code ec;
        const auto start = Clock::now();
        watchdog.arm_until(start + limits.connect);
        co_await socket.async_connect(server, asio::redirect_error(use_awaitable, ec));
        watchdog.disarm();
        if (ec || watchdog.expired()) {
            result.status = watchdog.expired() ? ProbeStatus::timeout : ProbeStatus::refused;
            result.error = watchdog.expired()
                               ? "connect: no answer within " + seconds_text(limits.connect)
                               : "connect: " + ec.message();
            co_return;
        }
        if (!co_await read_reply(watchdog, result.greeting, "greeting")) {
            co_return;
        }
        result.greeting_delay =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        // A server that greets with 554 takes no commands but QUIT (RFC 5321 3.1).
        if (result.greeting.code == 220) {
            if (!co_await send(watchdog, "EHLO " + ehlo_name + "\r\n") ||
                !co_await read_reply(watchdog, result.ehlo, "EHLO reply")) {
                co_return;
            }
        }
        result.status = ProbeStatus::ok;
        // QUIT, politely; what the server answers no longer matters.
        if (co_await send(watchdog, "QUIT\r\n")) {
            SmtpReply bye;
            const ProbeResult kept = result;
            co_await read_reply(watchdog, bye, "QUIT reply");
            result = kept;
        }
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
    }
};

}  // namespace

void probe_smtp(asio::io_context& io, const tcp::endpoint& server, std::string ehlo_name,
                const ProbeLimits& limits, std::function<void(ProbeResult)> done) {
    auto probe = std::make_shared<Probe>(io, limits);
    asio::co_spawn(
        io,
        [probe, server, name = std::move(ehlo_name)]() -> awaitable<void> {
            co_await probe->run(server, name);
        },
        [probe, done = std::move(done)](const std::exception_ptr& failure) {
            if (failure) {
                probe->result.status = ProbeStatus::closed;
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception& error) {
                    probe->result.error = error.what();
                }
            }
            done(std::move(probe->result));
        });
}

}  // namespace policyd
