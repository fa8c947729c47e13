// The generic-PTR classifier (policyd/checks/generic_ptr.hpp) on hostile
// PTR names, against a client address taken from the input (IPv4 or IPv6),
// so names built around the client's own address are reached.
//
// Invariants: a name is generic or not_generic (never n/a); the
// explanation is one printable line; both are pure (the same twice).
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "policyd/checks/generic_ptr.hpp"
#include "policyd/config/providers_file.hpp"

namespace {

policyd::IpAddress client_from(fuzz::Input& input) {
    if ((input.byte() & 1U) == 0) {
        boost::asio::ip::address_v4::bytes_type bytes{};
        for (auto& b : bytes) {
            b = input.byte();
        }
        return boost::asio::ip::address_v4(bytes);
    }
    boost::asio::ip::address_v6::bytes_type bytes{};
    for (auto& b : bytes) {
        b = input.byte();
    }
    return boost::asio::ip::address_v6(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const policyd::GenericPtrClassifier classifier = [] {
        policyd::GenericPtrVocabulary vocabulary = policyd::GenericPtrVocabulary::defaults();
        vocabulary.hosting = policyd::shipped_providers()->hosting;
        vocabulary.access = policyd::shipped_providers()->access;
        return policyd::GenericPtrClassifier(std::move(vocabulary),
                                             policyd::PublicSuffixList::load_default());
    }();
    fuzz::Input input(data, size);
    const policyd::IpAddress client = client_from(input);
    const std::string_view name = input.rest();
    const policyd::GenericPtr verdict = classifier.classify(name, client);
    fuzz::require(verdict == policyd::GenericPtr::dynamic ||
                      verdict == policyd::GenericPtr::provider_default ||
                      verdict == policyd::GenericPtr::not_generic,
                  "a name is dynamic, provider-default or not generic, never n/a");
    fuzz::require(classifier.classify(name, client) == verdict, "classify is pure");
    const std::string why = classifier.explain(name, client);
    fuzz::require(why.rfind(std::string(policyd::to_string(verdict)) + ": ", 0) == 0,
                  "explain gives the verdict classify gives");
    for (const char c : why) {
        const auto byte = static_cast<unsigned char>(c);
        fuzz::require(byte >= 0x20 && byte < 0x7f, "the reason is printable");
    }
    return 0;
}
