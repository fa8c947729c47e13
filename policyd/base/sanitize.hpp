// Sanitiser: makes attacker-controlled bytes safe to put in a log line or in
// the text of an SMTP reply.
//
// Contract: the output contains only printable ASCII (0x20..0x7e). Bytes below
// 0x20, 0x7f and every non-ASCII byte (UTF-8 included: we do not validate it,
// and a log line must not carry terminal escapes or bidi controls) become
// "\xHH" with lower-case hex; a backslash becomes "\\" and a double quote
// "\"", so the result can sit inside "..." in a key="value" log record and be
// decoded unambiguously. At most max_bytes of input are read; when the input
// is longer, "..." is appended. Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace policyd {

// Appends `in`, sanitised and truncated to max_bytes of input, to `out`.
void append_sanitized(std::string& out, std::string_view in, std::size_t max_bytes = 256);

// The same, as a new string.
std::string sanitized(std::string_view in, std::size_t max_bytes = 256);

}  // namespace policyd
