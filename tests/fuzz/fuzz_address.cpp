// Client address and endpoint parsing (policyd/base/address.hpp,
// policyd/config/settings.hpp parse_endpoint, resolver parse_forwarder) and
// the reverse name built from a parsed address, on hostile text.
//
// Invariants: a parsed address prints to text that parses back to the same
// address, and is never an IPv4-mapped IPv6 address; its reverse name ends
// in in-addr.arpa or ip6.arpa; a parsed port is the number written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "policyd/base/address.hpp"
#include "policyd/config/settings.hpp"
#include "resolver/resolver.hpp"
#include "resolver/reverse_name.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto address = policyd::parse_ip(text)) {
        fuzz::require(!(address->is_v6() && address->to_v6().is_v4_mapped()),
                      "a mapped address comes back as IPv4");
        const auto again = policyd::parse_ip(address->to_string());
        fuzz::require(again && *again == *address, "an address survives printing");
        fuzz::require(policyd::same_address(*address, *again), "same_address agrees");
        const std::string reverse = resolver::reverse_name(*address);
        fuzz::require(reverse.ends_with(address->is_v4() ? ".in-addr.arpa" : ".ip6.arpa"),
                      "the reverse name is under the right arpa zone");
    }
    if (const auto port = policyd::parse_port(text)) {
        fuzz::require(!text.empty() && text.size() <= 5 &&
                          text.find_first_not_of("0123456789") == std::string_view::npos,
                      "a port is written as at most five digits");
        fuzz::require(std::stoul(std::string(text)) == *port, "a port is the number written");
    }
    std::string why;
    if (const auto endpoint = policyd::parse_endpoint(text, why)) {
        std::string again_why;
        const auto again = policyd::parse_endpoint(policyd::to_string(*endpoint), again_why);
        fuzz::require(again && policyd::to_string(*again) == policyd::to_string(*endpoint),
                      "an endpoint survives printing");
    } else {
        fuzz::require(!why.empty(), "a refused endpoint says why");
    }
    why.clear();
    if (!resolver::parse_forwarder(text, why)) {
        fuzz::require(!why.empty(), "a refused forwarder says why");
    }
    return 0;
}
