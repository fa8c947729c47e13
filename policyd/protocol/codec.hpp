// Protocol codec: the Postfix policy delegation wire format
// (SMTPD_POLICY_README), as pure functions over byte buffers.
//
// A request is "name=value" lines, each ended by "\n", and ended by an empty
// line. The codec is stateless: the session keeps the bytes it has read,
// calls parse_request() on them, and drops `consumed` bytes once a request is
// complete; a pipelined second request stays in the buffer for the next call.
//
// Parsing rules (every byte is hostile, every limit is checked):
// - one trailing "\r" before "\n" is stripped (CRLF clients); any other "\r"
//   stays in the value;
// - a line is split at its FIRST '=': the value may contain '=' and may be
//   empty; a line without '=' or with an empty name is malformed_line;
// - unknown attribute names are skipped but count toward max_attributes;
// - a repeated attribute: the LAST value wins (the README allows first or
//   last; last is what a line-by-line hash assignment gives every other
//   policy server, so admins see the same behaviour);
// - "request" must be present and equal "smtpd_access_policy"
//   (missing_request / unsupported_request); an empty request ("\n") is
//   missing_request;
// - NUL bytes, over-long lines and over-large requests are errors as soon as
//   they are in the buffer, before the request is complete, so a client can
//   never make the session buffer more than max_request_bytes.
// On error the session must close the connection without a reply (Postfix
// then applies its default_action) and log `detail`.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "policyd/protocol/request.hpp"

namespace policyd {

struct ProtocolLimits {
    std::size_t max_line_bytes = 4096;      // one "name=value" line, without "\n" (and "\r")
    std::size_t max_request_bytes = 32768;  // whole request including newlines
    std::size_t max_attributes = 128;       // non-empty lines in one request (known or not)
};

enum class ParseStatus { incomplete, complete, error };

enum class ProtocolError {
    none,
    line_too_long,
    request_too_large,
    too_many_attributes,
    nul_byte,
    malformed_line,
    unsupported_request,
    missing_request
};

// Stable kebab-case name for logs and metrics: "line-too-long", "nul-byte", ...
std::string_view to_string(ProtocolError error);

// Every error (none excluded), for listings such as the metrics.
inline constexpr std::array<ProtocolError, 7> kProtocolErrors{
    ProtocolError::line_too_long,       ProtocolError::request_too_large,
    ProtocolError::too_many_attributes, ProtocolError::nul_byte,
    ProtocolError::malformed_line,      ProtocolError::unsupported_request,
    ProtocolError::missing_request};

struct ParseResult {
    ParseStatus status = ParseStatus::incomplete;
    ProtocolError error = ProtocolError::none;
    std::size_t consumed = 0;  // bytes of buffer that made up the complete request
    std::string detail;        // for errors: short, already-sanitised context for the log
};

// Looks for one complete request at the start of `buffer`. Stateless: the
// same buffer gives the same answer.
// complete: `out` holds exactly the known attributes of this request (absent
//   ones empty; earlier contents are overwritten), `consumed` bytes are to be
//   dropped.
// incomplete: no full request yet and nothing wrong so far; `out` untouched.
// error: `error` and `detail` say why; `out` untouched.
// Allocates only when assigning into `out`'s strings (none once their
// capacity has grown) and when building `detail` for an error.
ParseResult parse_request(std::string_view buffer, const ProtocolLimits& limits, Request& out);

// Appends "action=<action>\n\n" to out. The caller guarantees that action
// holds no control characters (a "\n" would end the reply early).
void format_reply(std::string_view action, std::string& out);

}  // namespace policyd
