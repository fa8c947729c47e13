#include "rules/matchers.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>

#include "policyd/base/dns_name.hpp"

namespace rules {

using policyd::is_dns_name;
using policyd::strip_root_dot;
using policyd::to_lower;

std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 100)) {
        out.push_back(policyd::is_control(c) ? '?' : c);
    }
    if (text.size() > 100) {
        out += "...";
    }
    return out;
}

std::string NameSet::add(std::string_view pattern) {
    std::string_view name = strip_root_dot(pattern);
    const bool suffix = !name.empty() && name.front() == '.';
    if (suffix) {
        name.remove_prefix(1);
    }
    if (!is_dns_name(name)) {
        return "\"" + printable(pattern) + "\" is not a host name or .domain suffix";
    }
    if (suffix) {
        suffixes_.insert("." + to_lower(name));
    } else {
        exact_.insert(to_lower(name));
    }
    return {};
}

bool NameSet::matches(std::string_view name) const {
    name = strip_root_dot(name);
    if (name.empty()) {
        return false;
    }
    if (exact_.find(name) != exact_.end()) {
        return true;
    }
    if (suffixes_.empty()) {
        return false;
    }
    // One lookup per label boundary: cost grows with the name, not the list.
    for (std::size_t i = 1; i < name.size(); ++i) {
        if (name[i] == '.' && suffixes_.find(name.substr(i)) != suffixes_.end()) {
            return true;
        }
    }
    return false;
}

std::string AddressSet::add(std::string_view text) {
    const auto at = text.rfind('@');
    const bool bad_bytes =
        std::any_of(text.begin(), text.end(), [](char c) { return c <= ' ' || c == 0x7f; });
    if (text == "<>") {
        null_address_ = true;
    } else if (bad_bytes || at == std::string_view::npos || text.size() == 1 ||
               text.size() > kMaxPatternBytes) {
        return "\"" + printable(text) +
               "\" is not an address pattern (user@domain, @domain, @.domain, user@ or <>)";
    } else if (at == 0 && text[1] == '.') {
        const std::string_view suffix = strip_root_dot(text.substr(2));
        if (!is_dns_name(suffix)) {
            return "\"" + printable(text) + "\" is not a @.domain suffix";
        }
        domain_suffixes_.suffixes_.insert("." + to_lower(suffix));
    } else if (at == 0) {
        domains_.insert(to_lower(strip_root_dot(text.substr(1))));
    } else if (at + 1 == text.size()) {
        locals_.insert(to_lower(text.substr(0, at)));
    } else {
        exact_.insert(to_lower(text));
    }
    return {};
}

bool AddressSet::matches(std::string_view address) const {
    if (address.empty()) {
        return null_address_;
    }
    if (exact_.find(address) != exact_.end()) {
        return true;
    }
    // The last '@' separates: a quoted local part may contain one.
    const auto at = address.rfind('@');
    if (at == std::string_view::npos) {
        // "RCPT TO:<postmaster>" arrives without a domain (RFC 5321 §4.5.1).
        return locals_.find(address) != locals_.end();
    }
    const std::string_view domain = strip_root_dot(address.substr(at + 1));
    return domains_.find(domain) != domains_.end() ||
           locals_.find(address.substr(0, at)) != locals_.end() || domain_suffixes_.matches(domain);
}

std::string CidrSet::add(std::string_view text) {
    const auto slash = text.find('/');
    const std::string_view address_text = text.substr(0, slash);
    const auto address = policyd::parse_ip(address_text);
    if (!address) {
        return "\"" + printable(text) + "\" is not an IP address or CIDR";
    }
    const bool written_v6 = address_text.find(':') != std::string_view::npos;
    unsigned prefix = address->is_v4() ? 32 : 128;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 ||
            !std::all_of(digits.begin(), digits.end(), policyd::is_digit)) {
            return "\"" + printable(text) + "\" has a bad prefix length";
        }
        prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
        const unsigned max = written_v6 ? 128 : 32;
        if (prefix > max) {
            return "\"" + printable(text) + "\": prefix length " + std::to_string(prefix) +
                   " is out of range (0-" + std::to_string(max) + ")";
        }
        if (written_v6 && address->is_v4()) {
            // ::ffff:192.0.2.0/120 is the v4 network 192.0.2.0/24, and
            // clients are normalised to v4, so store it as that.
            if (prefix < 96) {
                return "\"" + printable(text) +
                       "\": a v4-mapped network needs a prefix length of at least 96";
            }
            prefix -= 96;
        }
    }
    if (address->is_v4()) {
        const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
        const std::uint32_t value = address->to_v4().to_uint();
        if ((value & ~mask) != 0) {
            return "\"" + printable(text) + "\" has host bits set (did you mean " +
                   boost::asio::ip::address_v4(value & mask).to_string() + "/" +
                   std::to_string(prefix) + "?)";
        }
        v4_.push_back({value, mask});
        return {};
    }
    Cidr6 cidr;
    cidr.network = address->to_v6().to_bytes();
    cidr.prefix = prefix;
    bool host_bits = false;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned keep = prefix >= 8 * (i + 1) ? 8 : (prefix > 8 * i ? prefix - 8 * i : 0);
        const auto mask = static_cast<unsigned char>(keep == 0 ? 0 : 0xffU << (8 - keep));
        host_bits = host_bits || (cidr.network[i] & ~mask & 0xffU) != 0;
    }
    if (host_bits) {
        return "\"" + printable(text) + "\" has host bits set";
    }
    v6_.push_back(cidr);
    return {};
}

bool CidrSet::matches(const policyd::IpAddress& client) const {
    // Normalised, so a v4-mapped client meets the v4 networks.
    const auto address = policyd::normalise(client);
    if (address.is_v4()) {
        const std::uint32_t value = address.to_v4().to_uint();
        return std::any_of(v4_.begin(), v4_.end(),
                           [&](const Cidr4& cidr) { return (value & cidr.mask) == cidr.network; });
    }
    const auto bytes = address.to_v6().to_bytes();
    return std::any_of(v6_.begin(), v6_.end(), [&](const Cidr6& cidr) {
        const unsigned whole = cidr.prefix / 8;
        const unsigned bits = cidr.prefix % 8;
        if (std::memcmp(bytes.data(), cidr.network.data(), whole) != 0) {
            return false;
        }
        if (bits == 0) {
            return true;
        }
        const auto mask = static_cast<unsigned char>(0xffU << (8 - bits));
        return (bytes[whole] & mask) == cidr.network[whole];
    });
}

RegexSet::RegexSet() = default;
RegexSet::~RegexSet() = default;
RegexSet::RegexSet(RegexSet&&) noexcept = default;
RegexSet& RegexSet::operator=(RegexSet&&) noexcept = default;

std::string RegexSet::add(std::string_view pattern) {
    if (pattern.size() > kMaxPatternBytes) {
        return "the regex is longer than " + std::to_string(kMaxPatternBytes) + " bytes";
    }
    RE2::Options options;
    options.set_log_errors(false);      // errors go to our list, not stderr
    options.set_case_sensitive(false);  // like Postfix regexp tables
    auto re =
        std::make_unique<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
    if (!re->ok()) {
        return "bad regex \"" + printable(pattern) + "\": " + re->error();
    }
    regexes_.push_back(std::move(re));
    return {};
}

bool RegexSet::matches(std::string_view text) const {
    return std::any_of(regexes_.begin(), regexes_.end(),
                       [&](const auto& re) { return RE2::PartialMatch(text, *re); });
}

}  // namespace rules
