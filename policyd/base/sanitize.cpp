#include "policyd/base/sanitize.hpp"

namespace policyd {
namespace {

bool needs_escape(unsigned char c) {
    return c < 0x20 || c >= 0x7f || c == '\\' || c == '"';
}

}  // namespace

void append_sanitized(std::string& out, std::string_view in, std::size_t max_bytes) {
    const bool truncated = in.size() > max_bytes;
    if (truncated) {
        in = in.substr(0, max_bytes);
    }
    // Most input (host names, addresses) needs no escaping: one reservation
    // and run-wise appends keep this to a single allocation at most.
    out.reserve(out.size() + in.size() + (truncated ? 3 : 0));
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t run_start = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (!needs_escape(c)) {
            continue;
        }
        out.append(in.data() + run_start, i - run_start);
        run_start = i + 1;
        if (c == '\\' || c == '"') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else {
            const char escaped[4] = {'\\', 'x', kHex[c >> 4U], kHex[c & 0x0fU]};
            out.append(escaped, sizeof escaped);
        }
    }
    out.append(in.data() + run_start, in.size() - run_start);
    if (truncated) {
        out.append("...");
    }
}

std::string sanitized(std::string_view in, std::size_t max_bytes) {
    std::string out;
    append_sanitized(out, in, max_bytes);
    return out;
}

}  // namespace policyd
