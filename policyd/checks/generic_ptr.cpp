#include "policyd/checks/generic_ptr.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"

namespace policyd {

namespace {

constexpr std::size_t kMaxNameLength = kMaxName;
constexpr std::size_t kMaxWordLength = kMaxLabel;
// A host part of at most 253 characters has at most 127 runs of digits and
// 127 runs of letters, so fixed arrays hold every token without allocating.
constexpr std::size_t kMaxTokens = 128;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);

constexpr bool is_separator(char c) {
    return c == '.' || c == '-' || c == '_';
}

// Between the decimal octets of an IPv4 address, 'x' too ("185x187x140x9").
constexpr bool is_octet_separator(char c) {
    return is_separator(c) || c == 'x' || c == 'X';
}

// Three-way comparison of a lower-case word with a name token of any case.
int compare_ci(std::string_view lower_word, std::string_view token) {
    const std::size_t n = std::min(lower_word.size(), token.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto a = static_cast<unsigned char>(lower_word[i]);
        const auto b = static_cast<unsigned char>(ascii_lower(token[i]));
        if (a != b) {
            return a < b ? -1 : 1;
        }
    }
    if (lower_word.size() == token.size()) {
        return 0;
    }
    return lower_word.size() < token.size() ? -1 : 1;
}

// Position of the lower-case `needle` in `hay` at or after `from`, ignoring case.
std::size_t find_ci(std::string_view hay, std::string_view needle, std::size_t from) {
    if (needle.empty() || hay.size() < needle.size()) {
        return kNone;
    }
    for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
        std::size_t k = 0;
        while (k < needle.size() && ascii_lower(hay[i + k]) == needle[k]) {
            ++k;
        }
        if (k == needle.size()) {
            return i;
        }
    }
    return kNone;
}

struct Span {
    std::size_t begin = 0;
    std::size_t end = 0;
};

struct Token {
    std::uint16_t begin;
    std::uint16_t end;
    std::uint16_t label;  // 0 for the leftmost label
    std::int16_t value;   // digit runs: the octet it spells, or -1
};

struct Tokens {
    std::array<Token, kMaxTokens> numbers;  // runs of digits
    std::size_t number_count = 0;
    std::array<Token, kMaxTokens> words;  // runs of letters
    std::size_t word_count = 0;
    std::size_t longest_number = 0;
};

// An octet written with 1-3 digits (zero padding allowed), or -1.
int octet_value(std::string_view digits) {
    if (digits.empty() || digits.size() > 3) {
        return -1;
    }
    int value = 0;
    for (const char c : digits) {
        value = value * 10 + (c - '0');
    }
    return value <= 255 ? value : -1;
}

void tokenize(std::string_view host, Tokens& out) {
    std::uint16_t label = 0;
    std::size_t i = 0;
    while (i < host.size()) {
        const char c = host[i];
        if (c == '.') {
            ++label;
            ++i;
            continue;
        }
        const bool digit = is_digit(c);
        if (!digit && !is_alpha(c)) {
            ++i;
            continue;
        }
        std::size_t end = i + 1;
        while (end < host.size() && (digit ? is_digit(host[end]) : is_alpha(host[end]))) {
            ++end;
        }
        Token token{static_cast<std::uint16_t>(i), static_cast<std::uint16_t>(end), label, -1};
        if (digit && out.number_count < kMaxTokens) {
            // Computed once here: the address search compares every token
            // with every octet several times.
            token.value = static_cast<std::int16_t>(octet_value(host.substr(i, end - i)));
            out.longest_number = std::max(out.longest_number, end - i);
            out.numbers[out.number_count++] = token;
        } else if (!digit && out.word_count < kMaxTokens) {
            out.words[out.word_count++] = token;
        }
        i = end;
    }
}

std::string_view text_of(std::string_view host, const Token& token) {
    return host.substr(token.begin, token.end - token.begin);
}

using Octets = std::array<int, 4>;

// Do numbers[at, at+len) spell octets[from, from+len), each joined to the next
// by exactly one separator?
bool run_matches(std::string_view host, const Tokens& t, std::size_t at, const Octets& octets,
                 std::size_t from, std::size_t len) {
    if (at + len > t.number_count) {
        return false;
    }
    for (std::size_t k = 0; k < len; ++k) {
        const Token& token = t.numbers[at + k];
        if (token.value != octets[from + k]) {
            return false;
        }
        if (k + 1 < len) {
            const Token& next = t.numbers[at + k + 1];
            if (next.begin != token.end + 1 || !is_octet_separator(host[token.end])) {
                return false;
            }
        }
    }
    return true;
}

Span span_of(const Tokens& t, std::size_t at, std::size_t len) {
    return {t.numbers[at].begin, t.numbers[at + len - 1].end};
}

// Writes `value` in decimal, zero-padded to 3 digits when `pad`; returns the end.
char* put_decimal(char* out, int value, bool pad) {
    const char d0 = static_cast<char>('0' + value / 100);
    const char d1 = static_cast<char>('0' + value / 10 % 10);
    const char d2 = static_cast<char>('0' + value % 10);
    if (pad || value >= 100) {
        *out++ = d0;
    }
    if (pad || value >= 10) {
        *out++ = d1;
    }
    *out++ = d2;
    return out;
}

constexpr std::array<char, 16> kHexDigits = {'0', '1', '2', '3', '4', '5', '6', '7',
                                             '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

// A pattern built on the stack: at most 32 nibbles and 31 separators.
struct Pattern {
    std::array<char, 64> text{};
    std::size_t size = 0;
    void push(char c) {
        if (size < text.size()) {
            text[size++] = c;
        }
    }
    std::string_view view() const { return {text.data(), size}; }
};

enum class Boundary {
    not_decimal,  // the match may touch letters, not another decimal digit
    not_hex,      // the match may not touch a hex digit
    not_group,    // not_hex, and not next to a '-'-joined IPv6 group either
};

// Does host[begin, end) touch more of the same encoding?
bool bounded(std::string_view host, std::size_t begin, std::size_t end, Boundary boundary) {
    const char before = begin > 0 ? host[begin - 1] : '.';
    const char after = end < host.size() ? host[end] : '.';
    if (boundary == Boundary::not_decimal) {
        return !is_digit(before) && !is_digit(after);
    }
    if (is_hex_digit(before) || is_hex_digit(after)) {
        return false;
    }
    if (boundary == Boundary::not_group) {
        // "2001-db8--1" inside "2001-db8--1-5" (another address), but not
        // "ip6-2001-db8--1-dyn": a group is 1-4 hex digits standing alone
        // between separators, a word such as "ip6" or "dyn" is not.
        auto is_group = [&](std::size_t from, std::size_t to) {
            if (to <= from || to - from > 4) {
                return false;
            }
            for (std::size_t i = from; i < to; ++i) {
                if (!is_hex_digit(host[i])) {
                    return false;
                }
            }
            const bool left_ok = from == 0 || !is_alpha(host[from - 1]);
            const bool right_ok = to == host.size() || !is_alpha(host[to]);
            return left_ok && right_ok;
        };
        if (after == '-') {
            std::size_t to = end + 1;
            while (to < host.size() && is_hex_digit(host[to])) {
                ++to;
            }
            if (is_group(end + 1, to)) {
                return false;
            }
        }
        if (before == '-' && begin >= 1) {
            std::size_t from = begin - 1;
            while (from > 0 && is_hex_digit(host[from - 1])) {
                --from;
            }
            if (is_group(from, begin - 1)) {
                return false;
            }
        }
    }
    return true;
}

// The first bounded occurrence of `pattern` in `host`.
bool find_bounded(std::string_view host, std::string_view pattern, Boundary boundary, Span& span) {
    for (std::size_t at = find_ci(host, pattern, 0); at != kNone;
         at = find_ci(host, pattern, at + 1)) {
        if (bounded(host, at, at + pattern.size(), boundary)) {
            span = {at, at + pattern.size()};
            return true;
        }
    }
    return false;
}

enum class AddressForm { none, decimal, concatenated, hex, split, ipv6 };

struct AddressMatch {
    AddressForm form = AddressForm::none;
    Span first;
    Span second;  // the second run of a split address
};

AddressMatch find_ipv4(std::string_view host, const Tokens& t,
                       const boost::asio::ip::address_v4& a) {
    const auto bytes = a.to_bytes();
    const Octets forward = {bytes[0], bytes[1], bytes[2], bytes[3]};
    const Octets reversed = {bytes[3], bytes[2], bytes[1], bytes[0]};
    const std::array<const Octets*, 2> orders = {&forward, &reversed};
    AddressMatch match;

    for (const Octets* o : orders) {
        for (std::size_t i = 0; i < t.number_count; ++i) {
            if (run_matches(host, t, i, *o, 0, 4)) {
                return {AddressForm::decimal, span_of(t, i, 4), {}};
            }
        }
    }

    // One run of digits: zero-padded (12 digits) or, when long enough not to
    // be a mere host number, unpadded.
    for (const Octets* o : orders) {
        if (t.longest_number < 8) {
            break;
        }
        std::array<char, 12> padded{};
        std::array<char, 12> plain{};
        char* p = padded.data();
        char* q = plain.data();
        for (const int octet : *o) {
            p = put_decimal(p, octet, true);
            q = put_decimal(q, octet, false);
        }
        const std::string_view padded_text(padded.data(), 12);
        const std::string_view plain_text(plain.data(), static_cast<std::size_t>(q - plain.data()));
        for (std::size_t i = 0; i < t.number_count; ++i) {
            const std::string_view digits = text_of(host, t.numbers[i]);
            if (digits == padded_text || (plain_text.size() >= 8 && digits == plain_text)) {
                return {AddressForm::concatenated, {t.numbers[i].begin, t.numbers[i].end}, {}};
            }
        }
    }

    // Hex: 8 digits in a row, or 4 pairs joined by one separator.
    for (const Octets* o : orders) {
        Pattern plain;
        for (const int octet : *o) {
            plain.push(kHexDigits[static_cast<std::size_t>(octet) >> 4U]);
            plain.push(kHexDigits[static_cast<std::size_t>(octet) & 15U]);
        }
        if (find_bounded(host, plain.view(), Boundary::not_decimal, match.first)) {
            match.form = AddressForm::hex;
            return match;
        }
        for (const char separator : {'-', '.', '_'}) {
            Pattern joined;
            for (std::size_t k = 0; k < 8; ++k) {
                if (k > 0 && k % 2 == 0) {
                    joined.push(separator);
                }
                joined.push(plain.text[k]);
            }
            if (find_bounded(host, joined.view(), Boundary::not_hex, match.first)) {
                match.form = AddressForm::hex;
                return match;
            }
        }
    }

    // Split: all four octets in two runs, [0, k) and [k, 4), anywhere in the
    // host part and not overlapping (Orange, Telecom Italia, Telecom Argentina).
    // Two pairs first: when a lone octet also fits ("idf1-1-234-56.w90-1"),
    // the pairs are how such names are built, so explain() shows them.
    for (const Octets* o : orders) {
        for (const std::size_t k : {std::size_t{2}, std::size_t{3}, std::size_t{1}}) {
            for (std::size_t i = 0; i < t.number_count; ++i) {
                if (!run_matches(host, t, i, *o, 0, k)) {
                    continue;
                }
                for (std::size_t j = 0; j < t.number_count; ++j) {
                    const bool apart = j + (4 - k) <= i || j >= i + k;
                    if (apart && run_matches(host, t, j, *o, k, 4 - k)) {
                        return {AddressForm::split, span_of(t, i, k), span_of(t, j, 4 - k)};
                    }
                }
            }
        }
    }
    return match;
}

AddressMatch find_ipv6(std::string_view host, const boost::asio::ip::address_v6& a) {
    const auto bytes = a.to_bytes();
    std::array<unsigned, 8> groups{};
    for (std::size_t g = 0; g < 8; ++g) {
        groups[g] = (static_cast<unsigned>(bytes[2 * g]) << 8U) | bytes[2 * g + 1];
    }
    auto put_group = [](Pattern& p, unsigned group, bool pad) {
        bool started = pad;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const unsigned nibble = (group >> static_cast<unsigned>(shift)) & 15U;
            if (started || nibble != 0 || shift == 0) {
                p.push(kHexDigits[nibble]);
                started = true;
            }
        }
    };

    // RFC 5952: the longest run of two or more zero groups (the first on a tie)
    // becomes "::", written "--".
    std::size_t zero_begin = 8;
    std::size_t zero_len = 0;
    for (std::size_t g = 0; g < 8;) {
        std::size_t end = g;
        while (end < 8 && groups[end] == 0) {
            ++end;
        }
        if (end - g > zero_len && end - g >= 2) {
            zero_begin = g;
            zero_len = end - g;
        }
        g = end == g ? g + 1 : end;
    }

    Pattern compressed;
    Pattern full;
    Pattern padded;
    for (std::size_t g = 0; g < 8; ++g) {
        if (g > 0) {
            full.push('-');
            padded.push('-');
        }
        put_group(full, groups[g], false);
        put_group(padded, groups[g], true);
        if (g == zero_begin) {
            compressed.push('-');
            compressed.push('-');
        } else if (g < zero_begin || g >= zero_begin + zero_len) {
            if (g > 0 && g != zero_begin + zero_len) {
                compressed.push('-');
            }
            put_group(compressed, groups[g], false);
        }
    }

    AddressMatch match;
    for (const Pattern* p : {&compressed, &full, &padded}) {
        if (find_bounded(host, p->view(), Boundary::not_group, match.first)) {
            match.form = AddressForm::ipv6;
            return match;
        }
    }

    for (const bool reverse : {false, true}) {
        for (const char separator : {'\0', '.', '-'}) {
            Pattern nibbles;
            for (std::size_t n = 0; n < 32; ++n) {
                const std::size_t index = reverse ? 31 - n : n;
                const unsigned byte = bytes[index / 2];
                const unsigned nibble = index % 2 == 0 ? byte >> 4U : byte & 15U;
                if (n > 0 && separator != '\0') {
                    nibbles.push(separator);
                }
                nibbles.push(kHexDigits[nibble]);
            }
            // 32 nibbles are 128 bits: no coincidence, so only a directly
            // adjacent hex digit (a longer number) disqualifies.
            if (find_bounded(host, nibbles.view(), Boundary::not_hex, match.first)) {
                match.form = AddressForm::ipv6;
                return match;
            }
        }
    }
    return match;
}

// The last two or three octets in either order, joined by one separator
// each (the longer run reported).
bool find_partial_ipv4(std::string_view host, const Tokens& t, const boost::asio::ip::address_v4& a,
                       Span& span) {
    const auto bytes = a.to_bytes();
    const Octets forward = {bytes[0], bytes[1], bytes[2], bytes[3]};
    const Octets reversed = {bytes[3], bytes[2], bytes[1], bytes[0]};
    for (const std::size_t len : {std::size_t{3}, std::size_t{2}}) {
        for (std::size_t i = 0; i < t.number_count; ++i) {
            if (run_matches(host, t, i, forward, 4 - len, len) ||
                run_matches(host, t, i, reversed, 0, len)) {
                span = span_of(t, i, len);
                return true;
            }
        }
    }
    // The last octet alone, when it cannot be a host or interface number:
    // two or three digits, not zero-padded ("cust56", not "po-01v" or "ns1").
    for (std::size_t i = 0; i < t.number_count; ++i) {
        const Token& token = t.numbers[i];
        if (token.value == forward[3] && forward[3] >= 10 && host[token.begin] != '0') {
            span = {token.begin, token.end};
            return true;
        }
    }
    return false;
}

// A run of letters and digits between separators, at least 8 long with at
// least two of each; or six hex pairs joined by '-'.
bool find_opaque_token(std::string_view host, Span& span) {
    std::size_t start = 0;
    for (std::size_t i = 0; i <= host.size(); ++i) {
        if (i < host.size() && !is_separator(host[i])) {
            continue;
        }
        const std::string_view run = host.substr(start, i - start);
        std::size_t digits = 0;
        std::size_t letters = 0;
        for (const char c : run) {
            digits += is_digit(c) ? 1 : 0;
            letters += is_alpha(c) ? 1 : 0;
        }
        if (run.size() >= 8 && digits >= 2 && letters >= 2 && digits + letters == run.size()) {
            span = {start, i};
            return true;
        }
        start = i + 1;
    }
    // MAC: xx-xx-xx-xx-xx-xx, hex digits, bounded by separators or the ends.
    constexpr std::size_t kMacLength = 17;
    for (std::size_t at = 0; at + kMacLength <= host.size(); ++at) {
        if (at > 0 && !is_separator(host[at - 1])) {
            continue;
        }
        if (at + kMacLength < host.size() && !is_separator(host[at + kMacLength])) {
            continue;
        }
        bool mac = true;
        for (std::size_t k = 0; k < kMacLength && mac; ++k) {
            mac = k % 3 == 2 ? host[at + k] == '-' : is_hex_digit(host[at + k]);
        }
        if (mac) {
            span = {at, at + kMacLength};
            return true;
        }
    }
    return false;
}

// One label of a hosting pattern ('*': one or more characters, '#': one or
// more digits, anything else itself, ignoring case) against one label of a
// name. Dynamic programming over the label's positions: no backtracking, so
// no pattern is slow on any name.
bool label_matches(std::string_view pattern, std::string_view label) {
    if (label.size() > kMaxLabel) {
        return false;
    }
    // reach[j]: the pattern so far can end after label[0, j).
    std::array<bool, kMaxLabel + 1> reach{};
    std::array<bool, kMaxLabel + 1> next{};
    reach[0] = true;
    for (const char p : pattern) {
        next.fill(false);
        for (std::size_t j = 1; j <= label.size(); ++j) {
            const char c = label[j - 1];
            if (p == '*') {
                next[j] = reach[j - 1] || next[j - 1];
            } else if (p == '#') {
                next[j] = is_digit(c) && (reach[j - 1] || next[j - 1]);
            } else {
                next[j] = reach[j - 1] && ascii_lower(c) == p;
            }
        }
        reach = next;
    }
    return reach[label.size()];
}

bool ends_with_ci(std::string_view name, std::string_view lower_suffix) {
    return name.size() >= lower_suffix.size() &&
           compare_ci(lower_suffix, name.substr(name.size() - lower_suffix.size())) == 0;
}

std::size_t count_labels(std::string_view name) {
    return name.empty() ? 0
                        : static_cast<std::size_t>(std::count(name.begin(), name.end(), '.')) + 1;
}

bool is_pattern_char(char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '*' || c == '#';
}

}  // namespace

struct GenericPtrClassifier::Analysis {
    bool too_long = false;
    std::string_view name;
    std::string_view host;
    std::size_t static_keyword = kNone;
    std::size_t dynamic_keyword = kNone;
    std::size_t assigned_keyword = kNone;
    std::size_t provider_keyword = kNone;
    bool provider_only = false;  // every word of the host part is a provider or assigned keyword
    std::size_t pattern = kNone;
    std::size_t access = kNone;
    // A keyword inside the registrable domain's own label ("telkomadsl",
    // "comcastbusiness"): never evidence alone, a hint about who runs the
    // domain when the host part carries the address.
    std::size_t access_hint = kNone;
    std::size_t provider_hint = kNone;
    AddressMatch address;
    bool whole_name = false;  // the name is nothing but the address
    bool partial = false;
    bool opaque = false;
    Span evidence;  // of partial or opaque

    [[nodiscard]] bool full() const { return address.form != AddressForm::none; }
    [[nodiscard]] bool access_network() const { return access != kNone || access_hint != kNone; }

    // The verdict rules of generic_ptr.hpp, in order.
    [[nodiscard]] GenericPtr verdict() const {
        if (static_keyword != kNone && !(full() && dynamic_keyword != kNone)) {
            return GenericPtr::not_generic;
        }
        if (pattern != kNone || whole_name) {
            return GenericPtr::provider_default;
        }
        if (assigned_keyword != kNone && (full() || provider_only)) {
            return GenericPtr::provider_default;
        }
        if (dynamic_keyword != kNone) {
            return GenericPtr::dynamic;
        }
        if (provider_keyword != kNone && (full() || provider_only)) {
            return GenericPtr::provider_default;
        }
        if (full() && provider_hint != kNone) {
            return GenericPtr::provider_default;
        }
        if (access_network() && (full() || partial || opaque)) {
            return GenericPtr::dynamic;
        }
        if (full()) {
            return GenericPtr::dynamic;
        }
        return GenericPtr::not_generic;
    }
};

namespace {

struct WordMatcher {
    // Index of a word of `list` that starts at word token `first`, or kNone.
    template <typename WordList>
    static std::size_t at(const WordList& list, std::string_view host, const Tokens& t,
                          std::size_t first) {
        const std::string_view token = text_of(host, t.words[first]);
        auto it = std::lower_bound(list.by_first_token.begin(), list.by_first_token.end(), token,
                                   [&](std::size_t index, std::string_view tok) {
                                       return compare_ci(list.words[index].tokens.front(), tok) < 0;
                                   });
        for (; it != list.by_first_token.end() &&
               compare_ci(list.words[*it].tokens.front(), token) == 0;
             ++it) {
            const auto& word = list.words[*it];
            if (first + word.tokens.size() > t.word_count) {
                continue;
            }
            bool all = true;
            for (std::size_t k = 1; k < word.tokens.size() && all; ++k) {
                all = compare_ci(word.tokens[k], text_of(host, t.words[first + k])) == 0;
            }
            if (all) {
                return *it;
            }
        }
        return kNone;
    }

    // The first word of `list` anywhere in the host (in labels below
    // `max_label`), or kNone.
    template <typename WordList>
    static std::size_t first(const WordList& list, std::string_view host, const Tokens& t,
                             std::uint16_t max_label = UINT16_MAX) {
        for (std::size_t i = 0; i < t.word_count && t.words[i].label < max_label; ++i) {
            const std::size_t found = at(list, host, t, i);
            if (found != kNone) {
                return found;
            }
        }
        return kNone;
    }
};

// Is every word token of the host part a word of one of the two lists?
template <typename WordList>
bool all_words_in(const WordList& one, const WordList& other, std::string_view host,
                  const Tokens& t) {
    for (std::size_t i = 0; i < t.word_count;) {
        if (const std::size_t word = WordMatcher::at(one, host, t, i); word != kNone) {
            i += one.words[word].tokens.size();
        } else if (const std::size_t word2 = WordMatcher::at(other, host, t, i); word2 != kNone) {
            i += other.words[word2].tokens.size();
        } else {
            return false;
        }
    }
    return true;
}

// Hints need a word long enough not to turn up by chance inside another.
constexpr std::size_t kMinHintLetters = 4;

// The first one-token word of `list` of at least kMinHintLetters letters
// that `label` contains anywhere, or kNone.
template <typename WordList>
std::size_t contained_word(const WordList& list, std::string_view label) {
    for (std::size_t i = 0; i < list.words.size(); ++i) {
        const auto& word = list.words[i];
        if (word.tokens.size() == 1 && word.tokens.front().size() >= kMinHintLetters &&
            find_ci(label, word.tokens.front(), 0) != kNone) {
            return i;
        }
    }
    return kNone;
}

}  // namespace

GenericPtrVocabulary GenericPtrVocabulary::defaults() {
    GenericPtrVocabulary v;
    v.generic_keywords = {
        "dyn",    "dynamic",  "dynip",       "dynamicip",   "dhcp",     "pool",    "pools",
        "dsl",    "adsl",     "vdsl",        "xdsl",        "sdsl",     "ppp",     "pppoe",
        "pppoa",  "dial",     "dialup",      "dial-up",     "dialin",   "dial-in", "cable",
        "catv",   "kabel",    "broad",       "broadband",   "bredband", "bb",      "user",
        "users",  "home",     "residential", "res",         "nat",      "cgnat",   "wireless",
        "wlan",   "wifi",     "hotspot",     "mobile",      "gprs",     "lte",     "umts",
        "apn",    "cpe",      "fttx",        "ftth",        "fttb",     "fttc",    "fios",
        "hsd",    "dip",      "subscriber",  "subscribers", "dslam",    "bras",    "isdn",
        "client", "customer", "customers",   "cust",        "kunde",    "kunden",  "fixed",
    };
    v.static_keywords = {
        "mail",     "mails", "mailer", "mailout", "mailgw", "mailhost", "mailrelay",
        "mx",       "mxout", "smtp",   "smtpout", "smtps",  "out",      "outbound",
        "outgoing", "relay", "mta",    "mtaout",  "email",  "bounce",   "bounces",
    };
    v.assigned_keywords = {"static", "staticip", "biz", "business"};
    v.provider_keywords = {
        "clients",    "vps",        "vds",       "dedicated", "hosted", "hosting",
        "unassigned", "unknown",    "unused",    "not-set",   "notset", "no-ptr",
        "noptr",      "no-reverse", "hosted-by", "in-addr",
    };
    return v;
}

GenericPtrClassifier::WordList GenericPtrClassifier::build(std::vector<std::string> words) {
    WordList list;
    list.words.reserve(words.size());
    for (std::string& word : words) {
        if (word.size() > kMaxWordLength) {
            throw std::invalid_argument("generic PTR keyword \"" + word.substr(0, 20) +
                                        "...\" is longer than 63 characters");
        }
        Keyword keyword;
        std::string current;
        for (const char c : word) {
            if (is_alpha(c)) {
                current += ascii_lower(c);
                continue;
            }
            if (!is_digit(c) && !is_separator(c)) {
                throw std::invalid_argument("generic PTR keyword \"" + word +
                                            "\": only letters, digits, '-', '.' and '_' are "
                                            "allowed");
            }
            if (!current.empty()) {
                keyword.tokens.push_back(std::move(current));
                current.clear();
            }
        }
        if (!current.empty()) {
            keyword.tokens.push_back(std::move(current));
        }
        if (keyword.tokens.empty()) {
            throw std::invalid_argument("generic PTR keyword \"" + word +
                                        "\" has no letters and could never match");
        }
        word = to_lower(word);
        keyword.text = std::move(word);
        list.words.push_back(std::move(keyword));
    }
    list.by_first_token.resize(list.words.size());
    for (std::size_t i = 0; i < list.words.size(); ++i) {
        list.by_first_token[i] = i;
    }
    // Longer words first among equal first tokens, so "dial-up" is reported
    // rather than "dial" when both are configured.
    std::stable_sort(list.by_first_token.begin(), list.by_first_token.end(),
                     [&](std::size_t a, std::size_t b) {
                         const Keyword& x = list.words[a];
                         const Keyword& y = list.words[b];
                         if (x.tokens.front() != y.tokens.front()) {
                             return x.tokens.front() < y.tokens.front();
                         }
                         return x.tokens.size() > y.tokens.size();
                     });
    return list;
}

std::vector<GenericPtrClassifier::Pattern> GenericPtrClassifier::build(
    const std::vector<HostingProvider>& hosting) {
    std::vector<Pattern> patterns;
    for (const HostingProvider& provider : hosting) {
        for (const std::string& text : provider.patterns) {
            const std::string lower = to_lower(text);
            auto bad = [&](const std::string& why) {
                return std::invalid_argument("hosting provider " + provider.name + ": pattern \"" +
                                             lower + "\" " + why);
            };
            if (lower.size() > kMaxNameLength) {
                throw bad("is longer than a DNS name");
            }
            Pattern pattern{lower, provider.name, {}, {}};
            std::size_t start = 0;
            while (true) {
                const std::size_t dot = lower.find('.', start);
                const std::string label =
                    lower.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
                if (label.empty() || label.size() > kMaxLabel) {
                    throw bad("has an empty or over-long label");
                }
                if (!std::all_of(label.begin(), label.end(), is_pattern_char)) {
                    throw bad("may hold only letters, digits, '-', '_', '*' and '#'");
                }
                pattern.labels.push_back(label);
                if (dot == std::string::npos) {
                    break;
                }
                start = dot + 1;
            }
            std::size_t literal = 0;
            for (auto it = pattern.labels.rbegin(); it != pattern.labels.rend(); ++it) {
                if (it->find_first_of("*#") != std::string::npos) {
                    break;
                }
                ++literal;
                pattern.tail = "." + *it + pattern.tail;
            }
            // The top-level domain spelt out, and something spelt out in the
            // label before it: "*.ip-#-#-#.eu", never "*.#.com" or "*.*".
            const bool anchored =
                pattern.labels.size() == 1
                    ? lower.find_first_not_of("*#-_") != std::string::npos
                    : literal >= 1 && pattern.labels[pattern.labels.size() - 2].find_first_not_of(
                                          "*#-_") != std::string::npos;
            if (!anchored) {
                throw bad("must spell out its top-level domain and part of the label before it");
            }
            patterns.push_back(std::move(pattern));
        }
    }
    return patterns;
}

void GenericPtrClassifier::check_patterns(const HostingProvider& provider) {
    build(std::vector<HostingProvider>{provider});
}

GenericPtrClassifier::GenericPtrClassifier(GenericPtrVocabulary vocabulary,
                                           std::shared_ptr<const PublicSuffixList> psl)
    : generic_(build(std::move(vocabulary.generic_keywords))),
      static_(build(std::move(vocabulary.static_keywords))),
      assigned_(build(std::move(vocabulary.assigned_keywords))),
      provider_(build(std::move(vocabulary.provider_keywords))),
      patterns_(build(vocabulary.hosting)),
      psl_(std::move(psl)) {
    if (!psl_) {
        throw std::invalid_argument("the generic PTR classifier needs the Public Suffix List");
    }
    for (const NamedDomains& network : vocabulary.access) {
        for (const std::string& domain : network.domains) {
            if (!is_dns_name(domain) || domain.find('.') == std::string::npos) {
                throw std::invalid_argument("access network " + network.name + ": \"" + domain +
                                            "\" is not a domain name");
            }
            access_.push_back(to_lower(domain));
        }
    }
    std::sort(access_.begin(), access_.end());
    access_.erase(std::unique(access_.begin(), access_.end()), access_.end());
}

GenericPtrClassifier::Analysis GenericPtrClassifier::analyse(std::string_view name,
                                                             const IpAddress& client) const {
    Analysis result;
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    if (name.size() > kMaxNameLength) {
        result.too_long = true;
        return result;
    }
    result.name = name;
    const IpAddress address = normalise(client);

    // A name that is nothing but the address, or the reverse name itself,
    // has no host part worth the name; look at all of it.
    const bool numeric_tail = ends_with_ci(name, ".in-addr.arpa") ||
                              ends_with_ci(name, ".ip6.arpa") ||
                              std::none_of(name.begin(), name.end(), is_alpha);
    if (numeric_tail && !name.empty()) {
        Tokens tokens;
        tokenize(name, tokens);
        result.address = address.is_v4() ? find_ipv4(name, tokens, address.to_v4())
                                         : find_ipv6(name, address.to_v6());
        if (result.address.form != AddressForm::none) {
            result.whole_name = true;
            result.host = name;
            return result;
        }
    }

    const std::size_t labels = count_labels(name);
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
        const Pattern& p = patterns_[i];
        if (labels != p.labels.size() || !ends_with_ci(name, p.tail)) {
            continue;
        }
        bool all = true;
        std::size_t start = 0;
        for (std::size_t k = 0; k < p.labels.size() && all; ++k) {
            const std::size_t dot = name.find('.', start);
            const std::size_t end = dot == std::string_view::npos ? name.size() : dot;
            all = label_matches(p.labels[k], name.substr(start, end - start));
            start = end + 1;
        }
        if (all) {
            result.pattern = i;
            break;
        }
    }

    for (std::size_t at = 0; at < name.size() && result.access == kNone;) {
        const std::string_view suffix = name.substr(at);
        const auto it = std::lower_bound(access_.begin(), access_.end(), suffix,
                                         [](const std::string& domain, std::string_view s) {
                                             return compare_ci(domain, s) < 0;
                                         });
        if (it != access_.end() && compare_ci(*it, suffix) == 0) {
            result.access = static_cast<std::size_t>(it - access_.begin());
        }
        const std::size_t dot = name.find('.', at);
        at = dot == std::string_view::npos ? name.size() : dot + 1;
    }

    const auto registrable = psl_->icann_registrable_offset(name);
    if (!registrable || *registrable == 0) {
        return result;
    }
    result.host = name.substr(0, *registrable - 1);
    const std::string_view host = result.host;
    Tokens tokens;
    tokenize(host, tokens);

    result.static_keyword = WordMatcher::first(static_, host, tokens, 2);
    result.dynamic_keyword = WordMatcher::first(generic_, host, tokens);
    result.assigned_keyword = WordMatcher::first(assigned_, host, tokens);
    result.provider_keyword = WordMatcher::first(provider_, host, tokens);
    result.provider_only = (result.assigned_keyword != kNone || result.provider_keyword != kNone) &&
                           all_words_in(assigned_, provider_, host, tokens);
    result.address = address.is_v4() ? find_ipv4(host, tokens, address.to_v4())
                                     : find_ipv6(host, address.to_v6());

    // The registrable domain's own label, for the hints.
    const std::string_view domain = name.substr(*registrable);
    const std::string_view label = domain.substr(0, domain.find('.'));
    result.provider_hint = contained_word(assigned_, label);
    if (result.provider_hint == kNone) {
        result.provider_hint = contained_word(provider_, label);
    }
    result.access_hint = contained_word(generic_, label);
    if (result.access_network() && !result.full()) {
        result.partial =
            address.is_v4() && find_partial_ipv4(host, tokens, address.to_v4(), result.evidence);
        if (!result.partial) {
            result.opaque = find_opaque_token(host, result.evidence);
        }
    }
    return result;
}

GenericPtr GenericPtrClassifier::classify(std::string_view ptr_name,
                                          const IpAddress& client) const {
    return analyse(ptr_name, client).verdict();
}

std::string GenericPtrClassifier::explain(std::string_view ptr_name,
                                          const IpAddress& client) const {
    const Analysis a = analyse(ptr_name, client);
    const std::string verdict(to_string(a.verdict()));
    if (a.too_long) {
        return verdict + ": name longer than 253 characters";
    }
    // Spans hold only letters, digits and separators of the name, and
    // keywords and patterns come from the configuration, so nothing hostile
    // reaches a log.
    auto text = [&](const Span& s) { return std::string(a.host.substr(s.begin, s.end - s.begin)); };
    std::vector<std::string> evidence;
    if (a.pattern != kNone) {
        evidence.push_back("hosting pattern " + patterns_[a.pattern].text + " (" +
                           patterns_[a.pattern].provider + ")");
    }
    if (a.dynamic_keyword != kNone) {
        evidence.push_back("keyword " + generic_.words[a.dynamic_keyword].text);
    }
    if (a.assigned_keyword != kNone) {
        evidence.push_back("provider keyword " + assigned_.words[a.assigned_keyword].text);
    } else if (a.provider_keyword != kNone) {
        evidence.push_back("provider keyword " + provider_.words[a.provider_keyword].text);
    }
    switch (a.address.form) {
        case AddressForm::decimal:
        case AddressForm::concatenated:
            evidence.push_back("contains address " + text(a.address.first));
            break;
        case AddressForm::hex:
            evidence.push_back("contains address " + text(a.address.first) + " (hex)");
            break;
        case AddressForm::ipv6:
            evidence.push_back("contains address " + text(a.address.first) + " (IPv6)");
            break;
        case AddressForm::split:
            evidence.push_back("contains address split as '" + text(a.address.first) + "' and '" +
                               text(a.address.second) + "'");
            break;
        case AddressForm::none:
            break;
    }
    if (a.whole_name) {
        evidence.back() = "the name is the address";
    }
    if (a.partial) {
        evidence.push_back("contains the address's last octets " + text(a.evidence));
    }
    if (a.opaque) {
        evidence.push_back("contains opaque token " + text(a.evidence));
    }
    const std::string_view domain =
        a.host.size() < a.name.size() ? a.name.substr(a.host.size() + 1) : std::string_view();
    if (a.verdict() == GenericPtr::dynamic && a.dynamic_keyword == kNone && !evidence.empty()) {
        if (a.access != kNone) {
            evidence.back() += " under access domain " + access_[a.access];
        } else if (a.access_hint != kNone) {
            evidence.back() += " under a domain that says " + generic_.words[a.access_hint].text;
        }
    }
    if (a.verdict() == GenericPtr::provider_default && a.pattern == kNone &&
        a.assigned_keyword == kNone && a.provider_keyword == kNone && a.provider_hint != kNone &&
        !evidence.empty()) {
        evidence.back() += " under a provider's domain " + std::string(domain);
    }
    std::string joined;
    for (const std::string& item : evidence) {
        joined += (joined.empty() ? "" : ", ") + item;
    }
    if (a.static_keyword != kNone) {
        std::string out = "static keyword " + static_.words[a.static_keyword].text;
        if (a.verdict() != GenericPtr::not_generic) {
            return verdict + ": " + joined + " (overrides " + out + ")";
        }
        if (!joined.empty()) {
            out += " (overrides: " + joined + ")";
        }
        return verdict + ": " + out;
    }
    if (a.host.empty() && joined.empty()) {
        return verdict + ": no host part left of the organisational domain";
    }
    if (joined.empty()) {
        return verdict + ": no address or keyword in host part";
    }
    return verdict + ": " + joined;
}

}  // namespace policyd
