#include "policyd/protocol/request.hpp"

#include <algorithm>

namespace policyd {
namespace {

// Indexed by Attr; order must match the enum.
constexpr std::array<std::string_view, kAttrCount> kNames = {
    "request",
    "protocol_state",
    "protocol_name",
    "helo_name",
    "queue_id",
    "sender",
    "recipient",
    "recipient_count",
    "client_address",
    "client_name",
    "reverse_client_name",
    "client_port",
    "instance",
    "sasl_method",
    "sasl_username",
    "sasl_sender",
    "size",
    "ccert_subject",
    "ccert_issuer",
    "ccert_fingerprint",
    "ccert_pubkey_fingerprint",
    "encryption_protocol",
    "encryption_cipher",
    "encryption_keysize",
    "etrn_domain",
    "stress",
    "server_address",
    "server_port",
    "policy_context",
    "compatibility_level",
    "mail_version",
};

}  // namespace

std::string_view attr_name(Attr attr) {
    return kNames[static_cast<std::size_t>(attr)];
}

std::optional<Attr> attr_from_name(std::string_view name) {
    // A linear scan over ~30 short names is faster than hashing at this size.
    const auto* found = std::find(kNames.begin(), kNames.end(), name);
    if (found == kNames.end()) {
        return std::nullopt;
    }
    return static_cast<Attr>(found - kNames.begin());
}

}  // namespace policyd
