// SMTP probe: what a mail server tells a client that connects, for the
// doctor's inbound checks (`rdns-policyd doctor HOST`). It connects, reads
// the 220 greeting (one line or many, however long the server waits before
// it: postscreen's greet pause, a tarpit), says EHLO, reads the reply, and
// QUITs politely. Nothing else is sent: no MAIL, no STARTTLS.
//
// Contract:
// - add_reply_line() and announced_name() are pure: the reply grammar of
//   RFC 5321 4.2 ("250-first", "250 last"), for unit tests and the fuzzer.
// - probe_smtp() runs on the io_context it is given and calls `done` exactly
//   once, from that loop, with what it learnt. Every read is bounded: a line
//   to ProbeLimits::max_line bytes, a reply to max_lines lines, the connect
//   and each reply to their deadlines. The reply text is kept as received
//   (the caller sanitises what it prints). It throws nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

// One SMTP reply: its code and the text of each line, without the code and
// the separator.
struct SmtpReply {
    int code = 0;
    std::vector<std::string> lines;
};

enum class ReplyLine { more, done, malformed };

// Adds one line (CR LF already taken off) to `reply`: `more` after
// "250-text", `done` after "250 text" or a bare "250", `malformed` for
// anything else, a code that differs from the reply's first, or a line
// beyond `max_lines`.
ReplyLine add_reply_line(SmtpReply& reply, std::string_view line, std::size_t max_lines = 64);

// The host a 220 greeting or an EHLO reply names: the first word of its first
// line (RFC 5321 4.2: "220 mail.example.com ESMTP", "250-mail.example.com
// Hello"); "" when the line is empty.
std::string announced_name(const SmtpReply& reply);

struct ProbeLimits {
    std::chrono::milliseconds connect{10000};
    std::chrono::milliseconds reply{30000};  // the greeting, and the EHLO reply
    std::size_t max_line = 2048;             // RFC 5321 4.5.3.1.5 allows 512; some send more
    std::size_t max_lines = 64;
};

enum class ProbeStatus {
    ok,         // greeted and answered EHLO (whatever the codes)
    refused,    // the connect failed
    timeout,    // a deadline passed: connect, greeting or EHLO reply
    closed,     // the server closed the connection before replying
    malformed,  // a reply that is not SMTP, or over the limits
};

struct ProbeResult {
    ProbeStatus status = ProbeStatus::refused;
    // Where it stopped and why, in one line ("connect: Connection refused",
    // "no greeting within 30 s"); "" when ok.
    std::string error;
    SmtpReply greeting;
    SmtpReply ehlo;                               // code 0 when EHLO was not sent or not answered
    std::chrono::milliseconds greeting_delay{0};  // connect to the greeting's last line
};

void probe_smtp(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& server,
                std::string ehlo_name, const ProbeLimits& limits,
                std::function<void(ProbeResult)> done);

}  // namespace policyd
