#include "policyd/protocol/codec.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "policyd/base/sanitize.hpp"

namespace policyd {
namespace {

constexpr std::string_view kAccessPolicy = "smtpd_access_policy";
// Bytes of a bad line quoted in an error detail: enough to recognise it.
constexpr std::size_t kDetailQuoteBytes = 64;

// Wire name -> Attr as an open-addressing table keyed by (length, first
// byte, last byte), which alone tells all Postfix names apart, so a lookup is
// one probe and one compare. attr_from_name() scans all ~30 names, and this
// runs for every line at 100k requests/s.
class NameIndex {
  public:
    NameIndex() {
        for (std::size_t i = 0; i < kAttrCount; ++i) {
            const std::string_view name = attr_name(static_cast<Attr>(i));
            std::size_t slot = hash(name);
            while (slots_[slot] != kEmpty) {
                slot = (slot + 1) & kMask;
            }
            slots_[slot] = static_cast<std::uint8_t>(i);
            names_[i] = name;
        }
    }

    // Index of the attribute, or kAttrCount for a name we do not keep.
    // `name` must not be empty.
    [[nodiscard]] std::size_t find(std::string_view name) const {
        for (std::size_t slot = hash(name);; slot = (slot + 1) & kMask) {
            const std::uint8_t index = slots_[slot];
            if (index == kEmpty) {
                return kAttrCount;
            }
            if (names_[index] == name) {
                return index;
            }
        }
    }

  private:
    static constexpr std::size_t kSlots = 128;  // power of two, > 4 x kAttrCount
    static constexpr std::size_t kMask = kSlots - 1;
    static constexpr std::uint8_t kEmpty = 0xff;
    static_assert(kAttrCount < kEmpty && kSlots > 2 * kAttrCount);

    static std::size_t hash(std::string_view name) {
        const std::uint32_t key =
            (static_cast<std::uint32_t>(name.size()) << 16U) |
            (static_cast<std::uint32_t>(static_cast<unsigned char>(name.front())) << 8U) |
            static_cast<unsigned char>(name.back());
        return (key * 0x9e3779b1U) >> 25U;  // top 7 bits: kSlots == 128
    }

    std::array<std::uint8_t, kSlots> slots_ = filled_slots();
    std::array<std::string_view, kAttrCount> names_{};

    static constexpr std::array<std::uint8_t, kSlots> filled_slots() {
        std::array<std::uint8_t, kSlots> slots{};
        slots.fill(kEmpty);
        return slots;
    }
};

const NameIndex& name_index() {
    static const NameIndex index;
    return index;
}

ParseResult fail(ProtocolError error, std::string detail) {
    ParseResult result;
    result.status = ParseStatus::error;
    result.error = error;
    result.detail = std::move(detail);
    return result;
}

std::string line_prefix(std::size_t line_number) {
    return "line " + std::to_string(line_number) + ": ";
}

std::string quoted_line(std::size_t line_number, std::string_view what, std::string_view line) {
    std::string detail = line_prefix(line_number);
    detail.append(what);
    detail.append(" \"");
    append_sanitized(detail, line, kDetailQuoteBytes);
    detail.push_back('"');
    return detail;
}

}  // namespace

std::string_view to_string(ProtocolError error) {
    switch (error) {
        case ProtocolError::none:
            return "none";
        case ProtocolError::line_too_long:
            return "line-too-long";
        case ProtocolError::request_too_large:
            return "request-too-large";
        case ProtocolError::too_many_attributes:
            return "too-many-attributes";
        case ProtocolError::nul_byte:
            return "nul-byte";
        case ProtocolError::malformed_line:
            return "malformed-line";
        case ProtocolError::unsupported_request:
            return "unsupported-request";
        case ProtocolError::missing_request:
            return "missing-request";
    }
    return "unknown";
}

ParseResult parse_request(std::string_view buffer, const ProtocolLimits& limits, Request& out) {
    const NameIndex& index = name_index();
    // Values are collected as views into `buffer` and copied into `out` only
    // once the request is known to be complete and valid, so `out` is never
    // left half-overwritten; later lines overwrite earlier ones (last wins).
    std::array<std::string_view, kAttrCount> values{};
    bool have_request = false;

    // Never look past max_request_bytes: a request that has not ended by then
    // is too large whatever follows, and this bounds every scan below.
    const std::size_t window = std::min(buffer.size(), limits.max_request_bytes);
    const char* const base = buffer.data();
    std::size_t pos = 0;
    std::size_t attributes = 0;
    std::size_t line_number = 0;
    // One scan for NUL instead of one per line: the first NUL at or after
    // `pos` is in the line being looked at iff it lies before that line's end.
    const auto* nul = window == 0 ? nullptr : std::memchr(base, '\0', window);
    const std::size_t nul_at =
        nul == nullptr ? window : static_cast<std::size_t>(static_cast<const char*>(nul) - base);

    for (;;) {
        ++line_number;
        const std::size_t remaining = window - pos;
        // memchr() must not see a null pointer, even with a zero length.
        const auto* newline =
            remaining == 0 ? nullptr
                           : static_cast<const char*>(std::memchr(base + pos, '\n', remaining));
        if (newline == nullptr) {
            // A partial line: check what we have so a client cannot feed us
            // garbage or an endless line while we wait for its newline.
            const std::string_view partial(base + pos, remaining);
            if (nul_at < window) {
                return fail(ProtocolError::nul_byte, line_prefix(line_number) + "NUL byte");
            }
            // A trailing "\r" may yet be followed by "\n" and then not count.
            const std::size_t allowance = (!partial.empty() && partial.back() == '\r') ? 1 : 0;
            if (partial.size() - allowance > limits.max_line_bytes) {
                return fail(ProtocolError::line_too_long,
                            line_prefix(line_number) + "more than " +
                                std::to_string(limits.max_line_bytes) + " bytes");
            }
            if (buffer.size() > limits.max_request_bytes) {
                return fail(ProtocolError::request_too_large,
                            "no end of request within " + std::to_string(limits.max_request_bytes) +
                                " bytes");
            }
            return ParseResult{};
        }

        const auto end = static_cast<std::size_t>(newline - base);
        std::string_view line(base + pos, end - pos);
        pos = end + 1;
        if (nul_at < end) {
            return fail(ProtocolError::nul_byte, line_prefix(line_number) + "NUL byte");
        }
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.size() > limits.max_line_bytes) {
            return fail(ProtocolError::line_too_long,
                        line_prefix(line_number) + std::to_string(line.size()) + " bytes > " +
                            std::to_string(limits.max_line_bytes));
        }
        if (line.empty()) {
            break;  // end of request
        }
        if (++attributes > limits.max_attributes) {
            return fail(ProtocolError::too_many_attributes,
                        "more than " + std::to_string(limits.max_attributes) + " attributes");
        }
        const std::size_t equals = line.find('=');
        if (equals == std::string_view::npos) {
            return fail(ProtocolError::malformed_line, quoted_line(line_number, "no '=' in", line));
        }
        if (equals == 0) {
            return fail(ProtocolError::malformed_line,
                        quoted_line(line_number, "empty name in", line));
        }
        const std::size_t attr = index.find(line.substr(0, equals));
        if (attr < kAttrCount) {
            values[attr] = line.substr(equals + 1);
            have_request = have_request || attr == static_cast<std::size_t>(Attr::request);
        }
    }

    const std::string_view request = values[static_cast<std::size_t>(Attr::request)];
    if (!have_request) {
        return fail(ProtocolError::missing_request,
                    "no request attribute in " + std::to_string(attributes) + " attributes");
    }
    if (request != kAccessPolicy) {
        std::string detail = "request=\"";
        append_sanitized(detail, request, kDetailQuoteBytes);
        detail.push_back('"');
        return fail(ProtocolError::unsupported_request, std::move(detail));
    }

    for (std::size_t i = 0; i < kAttrCount; ++i) {
        // Most attributes are absent or empty; clear() is cheaper than assign().
        if (values[i].empty()) {
            out.values[i].clear();
        } else {
            out.set(static_cast<Attr>(i), values[i]);
        }
    }
    ParseResult result;
    result.status = ParseStatus::complete;
    result.consumed = pos;
    return result;
}

void format_reply(std::string_view action, std::string& out) {
    out.append("action=");
    out.append(action);
    out.append("\n\n");
}

}  // namespace policyd
