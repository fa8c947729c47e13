// Unit tests for policyd/tools/smtp_probe.hpp: the reply grammar, and the
// probe against scripted servers on a loopback socket of this process.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "policyd/tools/smtp_probe.hpp"

using namespace policyd;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST_CASE("smtp probe: reply lines", "[smtp_probe]") {
    SmtpReply reply;
    CHECK(add_reply_line(reply, "220-mx.example.com ESMTP") == ReplyLine::more);
    CHECK(add_reply_line(reply, "220-second") == ReplyLine::more);
    CHECK(add_reply_line(reply, "220 last") == ReplyLine::done);
    CHECK(reply.code == 220);
    CHECK(reply.lines == std::vector<std::string>{"mx.example.com ESMTP", "second", "last"});
    CHECK(announced_name(reply) == "mx.example.com");

    SmtpReply bare;
    CHECK(add_reply_line(bare, "250") == ReplyLine::done);  // RFC 5321 4.2.1
    CHECK(announced_name(bare).empty());

    SmtpReply mixed;
    CHECK(add_reply_line(mixed, "250-a") == ReplyLine::more);
    CHECK(add_reply_line(mixed, "251 b") == ReplyLine::malformed);  // another code

    for (const std::string_view bad :
         {"", "22", "2x0 hi", "220_hi", "120 hi", "620 hi", "HTTP/1.1 400 Bad Request"}) {
        INFO(bad);
        SmtpReply r;
        CHECK(add_reply_line(r, bad) == ReplyLine::malformed);
    }
    SmtpReply capped;
    CHECK(add_reply_line(capped, "220-a", 2) == ReplyLine::more);
    CHECK(add_reply_line(capped, "220-b", 2) == ReplyLine::more);
    CHECK(add_reply_line(capped, "220 c", 2) == ReplyLine::malformed);  // a third line

    SmtpReply spaced;
    add_reply_line(spaced, "220    mx.example.com   ESMTP");
    CHECK(announced_name(spaced) == "mx.example.com");
}

namespace {

// A server on 127.0.0.1 that plays `script` to one client: each step
// either sends its text or, starting with "<", reads a line and checks it
// starts with the rest.
struct ScriptedServer {
    explicit ScriptedServer(std::vector<std::string> steps)
        : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}), script(std::move(steps)) {
        thread = std::thread([this] {
            tcp::socket socket(io);
            acceptor.accept(socket);
            std::string buffer;
            boost::system::error_code ec;
            for (const std::string& step : script) {
                if (step.starts_with('<')) {
                    const std::size_t n =
                        asio::read_until(socket, asio::dynamic_buffer(buffer), '\n', ec);
                    if (ec) {
                        return;
                    }
                    heard += buffer.substr(0, n);
                    buffer.erase(0, n);
                } else if (step.starts_with("sleep ")) {
                    std::this_thread::sleep_for(
                        std::chrono::milliseconds(std::stoi(step.substr(6))));
                } else {
                    asio::write(socket, asio::buffer(step), ec);
                }
            }
            // Closing ends the client's last read.
        });
    }
    ~ScriptedServer() { thread.join(); }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

    tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

    asio::io_context io;
    tcp::acceptor acceptor;
    std::vector<std::string> script;
    std::string heard;
    std::thread thread;
};

ProbeResult probe(const tcp::endpoint& where, ProbeLimits limits = {}) {
    asio::io_context io;
    std::optional<ProbeResult> result;
    probe_smtp(io, where, "probe.example", limits, [&](ProbeResult r) { result = std::move(r); });
    io.run();
    REQUIRE(result);
    return *result;
}

}  // namespace

TEST_CASE("smtp probe: a polite session", "[smtp_probe]") {
    ScriptedServer server({"220-mx.example.com ESMTP\r\n", "sleep 200", "220 go ahead\r\n", "<EHLO",
                           "250-mx.example.com hello\r\n250 PIPELINING\r\n", "<QUIT",
                           "221 bye\r\n"});
    const ProbeResult result = probe(server.endpoint());
    CHECK(result.status == ProbeStatus::ok);
    CHECK(result.error.empty());
    CHECK(result.greeting.code == 220);
    CHECK(result.greeting.lines.size() == 2);
    CHECK(result.greeting_delay >=
          std::chrono::milliseconds(200));  // waited for the whole greeting
    CHECK(announced_name(result.ehlo) == "mx.example.com");
    server.thread.join();
    server.thread = std::thread([] {});
    CHECK(server.heard == "EHLO probe.example\r\nQUIT\r\n");
}

TEST_CASE("smtp probe: what goes wrong is said, within the limits", "[smtp_probe]") {
    SECTION("no greeting within the deadline") {
        ScriptedServer server({"<never"});  // reads until the probe gives up and closes
        ProbeLimits limits;
        limits.reply = std::chrono::milliseconds(300);
        const auto start = std::chrono::steady_clock::now();
        const ProbeResult result = probe(server.endpoint(), limits);
        CHECK(result.status == ProbeStatus::timeout);
        CHECK(result.error == "no greeting within 300 ms");
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    }
    SECTION("refused") {
        tcp::endpoint closed;
        {
            asio::io_context io;
            tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
            closed = acceptor.local_endpoint();
        }
        const ProbeResult result = probe(closed);
        CHECK(result.status == ProbeStatus::refused);
        CHECK(result.error.starts_with("connect: "));
    }
    SECTION("not SMTP") {
        ScriptedServer server({"HTTP/1.1 400 Bad Request\r\n"});
        const ProbeResult result = probe(server.endpoint());
        CHECK(result.status == ProbeStatus::malformed);
    }
    SECTION("a line too long") {
        ScriptedServer server({"220 " + std::string(5000, 'x') + "\r\n"});
        const ProbeResult result = probe(server.endpoint());
        CHECK(result.status == ProbeStatus::malformed);
        CHECK(result.error.find("longer than 2048") != std::string::npos);
    }
    SECTION("closed before the greeting") {
        ScriptedServer server({});
        const ProbeResult result = probe(server.endpoint());
        CHECK(result.status == ProbeStatus::closed);
    }
    SECTION("a 554 greeting: no EHLO, only QUIT") {
        ScriptedServer server({"554 mx.example.com no service\r\n", "<QUIT", "221 bye\r\n"});
        const ProbeResult result = probe(server.endpoint());
        CHECK(result.status == ProbeStatus::ok);
        CHECK(result.greeting.code == 554);
        CHECK(result.ehlo.code == 0);
        server.thread.join();
        server.thread = std::thread([] {});
        CHECK(server.heard == "QUIT\r\n");
    }
}
