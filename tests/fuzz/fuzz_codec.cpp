// The policy protocol codec (policyd/protocol/codec.hpp) on hostile bytes,
// the way a session drives it: parse, drop what a complete request used,
// parse again; then every complete request is decided on the shipped rule
// table, with the Authentication-Results header and an [outage] action
// turned on, on facts taken from the input (PTR names read as DNS wire
// names, as the resolver reads them), and the answer formatted.
//
// Invariants: a complete request consumes at least one byte and no more
// than the buffer; an error names itself; the action sent back holds no
// control character and stays within kMaxActionBytes; a header added is one
// Authentication-Results with one result (one ';': nothing in a name can
// forge a second); the reply is one "action=...\n\n".
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "policyd/answer/responder.hpp"
#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/protocol/codec.hpp"
#include "resolver/answer_wire.hpp"
#include "rules/action.hpp"

namespace {

constexpr std::size_t kFactsBytes = 80;

// The shipped configuration, with a header and an outage action to reach
// every branch of decide().
const policyd::Config& shipped() {
    static const policyd::Config config = [] {
        std::ifstream in(RDNS_SOURCE_DIR "/packaging/rdns-policyd.toml");
        std::stringstream text;
        text << in.rdbuf()
             << "\n[headers]\nauthserv_id = \"mx.example.net\"\n"
                "[outage]\naction = \"451 4.4.3 DNS is failing for {client_address} ({ptr})\"\n";
        std::vector<std::string> errors;
        // Named as if beside the shipped file, so its relative providers_file
        // is found there.
        auto loaded = policyd::parse_config(
            text.str(), RDNS_SOURCE_DIR "/packaging/shipped+header+outage.toml", {}, errors);
        fuzz::require(loaded.has_value(), "the shipped configuration loads");
        return *loaded;
    }();
    return config;
}

void decide_and_reply(const policyd::Request& request, fuzz::Input& input) {
    policyd::Facts facts;
    for (const auto& field : policyd::kFactFields) {
        field.set(facts, static_cast<std::uint8_t>(input.byte() % field.words.size()));
    }
    const std::string_view wire = input.piece();
    std::string name = resolver::decode_wire_name(
        reinterpret_cast<const unsigned char*>(wire.data()), wire.size());
    if (!name.empty()) {
        facts.ptr_names.push_back(name);
        if ((input.byte() & 1U) != 0) {
            facts.verified_names.push_back(std::move(name));
        }
    }
    const auto client = policyd::parse_ip(request.get(policyd::Attr::client_address));
    bool header_added = false;
    const bool outage = (input.byte() & 1U) != 0;
    const bool header_due = (input.byte() & 1U) != 0;
    const auto decision = policyd::decide(shipped(), rules::Evidence{request, facts, client},
                                          outage, header_due, header_added);
    const std::string_view action = decision.answer();
    fuzz::require(!action.empty(), "an action is sent");
    fuzz::require(action.size() <= rules::kMaxActionBytes, "the action fits kMaxActionBytes");
    for (const char c : action) {
        const auto byte = static_cast<unsigned char>(c);
        fuzz::require(byte >= 0x20 && byte != 0x7f, "no control character in the action");
    }
    if (header_added) {
        fuzz::require(
            action.rfind("PREPEND Authentication-Results: mx.example.net; iprev=", 0) == 0,
            "a header is one Authentication-Results");
        fuzz::require(std::count(action.begin(), action.end(), ';') == 1,
                      "a header carries exactly one result");
    }
    std::string reply;
    policyd::format_reply(action, reply);
    fuzz::require(reply.size() == action.size() + 9 && reply.rfind("action=", 0) == 0 &&
                      reply.ends_with("\n\n"),
                  "the reply is one action line and an empty line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input input(data, size);
    // The first byte picks the limits, so small limits are reached too.
    const std::uint8_t shape = input.byte();
    policyd::ProtocolLimits limits;
    if ((shape & 1U) != 0) {
        limits.max_line_bytes = 64;
        limits.max_request_bytes = 512;
        limits.max_attributes = 8;
    }
    // The facts: a value for each enumerated fact, a PTR name in wire form,
    // then the verified, outage and header-due bits (decide_and_reply).
    const std::string_view facts_bytes = input.bytes(kFactsBytes);
    std::string_view buffer = input.rest();
    policyd::Request request;
    for (int round = 0; round < 64 && !buffer.empty(); ++round) {
        const auto result = policyd::parse_request(buffer, limits, request);
        if (result.status == policyd::ParseStatus::incomplete) {
            fuzz::require(result.consumed == 0, "an incomplete request consumes nothing");
            break;
        }
        if (result.status == policyd::ParseStatus::error) {
            fuzz::require(result.error != policyd::ProtocolError::none, "an error says which");
            fuzz::require(!policyd::to_string(result.error).empty(), "an error has a name");
            break;
        }
        fuzz::require(result.consumed > 0 && result.consumed <= buffer.size(),
                      "a complete request consumes part of the buffer");
        fuzz::require(request.get(policyd::Attr::request) == "smtpd_access_policy",
                      "a request has the right type");
        fuzz::Input facts_input(reinterpret_cast<const std::uint8_t*>(facts_bytes.data()),
                                facts_bytes.size());
        decide_and_reply(request, facts_input);
        buffer.remove_prefix(result.consumed);
    }
    return 0;
}
