// Request: the attributes of one Postfix policy delegation request.
//
// Contract: a Request is a plain value filled by the protocol codec
// (policyd/protocol/codec.hpp) and read by the assessment and the rule table.
// Only the attributes Postfix documents in SMTPD_POLICY_README are kept;
// unknown attributes are skipped by the codec. Values are stored exactly as
// received (the codec has already refused NUL bytes and over-long lines);
// they are attacker-controlled, so sanitise before logging.
// The storage is reused across requests on one connection: clear() keeps the
// string capacity, so steady-state parsing does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace policyd {

enum class Attr : std::uint8_t {
    request,
    protocol_state,
    protocol_name,
    helo_name,
    queue_id,
    sender,
    recipient,
    recipient_count,
    client_address,
    client_name,
    reverse_client_name,
    client_port,
    instance,
    sasl_method,
    sasl_username,
    sasl_sender,
    size,
    ccert_subject,
    ccert_issuer,
    ccert_fingerprint,
    ccert_pubkey_fingerprint,
    encryption_protocol,
    encryption_cipher,
    encryption_keysize,
    etrn_domain,
    stress,
    server_address,
    server_port,
    policy_context,
    compatibility_level,
    mail_version,
    count_  // number of attributes; not an attribute
};

inline constexpr std::size_t kAttrCount = static_cast<std::size_t>(Attr::count_);

// The attribute's name as it appears on the wire ("client_address").
std::string_view attr_name(Attr attr);

// The attribute with that wire name, or nullopt for an unknown name.
std::optional<Attr> attr_from_name(std::string_view name);

struct Request {
    std::array<std::string, kAttrCount> values;

    [[nodiscard]] std::string_view get(Attr attr) const {
        return values[static_cast<std::size_t>(attr)];
    }
    void set(Attr attr, std::string_view value) {
        values[static_cast<std::size_t>(attr)].assign(value);
    }
    void clear() {
        for (auto& value : values) {
            value.clear();
        }
    }
};

}  // namespace policyd
