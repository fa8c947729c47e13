// Action: one Postfix access(5) action as a rule writes it, validated and
// pre-split into literal text and macros once, at load time.
//
// Contract:
// - parse_action() accepts exactly the actions a policy server may return
//   (keywords case-insensitive): OK, DUNNO, REJECT/DEFER/DEFER_IF_REJECT/
//   DEFER_IF_PERMIT/HOLD/DISCARD/WARN/INFO [text], 4NN text, 5NN text,
//   FILTER transport:destination, PREPEND header-name: value,
//   REDIRECT user@domain, BCC user@domain. An enhanced status code at the
//   start of the text must agree with the reply class ("REJECT 4.7.1" and
//   "450 5.7.1" are errors). Control characters are errors.
// - Macros: {client_address} {helo_name} {ptr} {rule} {sender} {recipient}
//   {queue_id}, and every fact by its name ({iprev} {helo_syntax}
//   {helo_forward} ... : policyd/checks/facts.hpp kFactFields);
//   "{{" and "}}" are literal braces. Macros may appear only in free text
//   (never in the keyword, the status codes, a FILTER/REDIRECT/BCC argument or
//   a PREPEND header name), so an attacker-chosen value cannot change what
//   kind of action Postfix executes.
// - expand() is const, thread-safe and allocates only the result. Each value
//   is made safe (bytes outside printable ASCII become '?', at most
//   kMaxMacroValueBytes) and the result is at most kMaxActionBytes, so a
//   hostile HELO name can never break the one-line policy reply.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rules {

struct Evidence;  // rules/rules.hpp

inline constexpr std::size_t kMaxActionBytes = 1000;
inline constexpr std::size_t kMaxMacroValueBytes = 255;

enum class Macro : std::uint8_t {
    client_address,
    helo_name,
    ptr,  // first verified PTR name, else first PTR name, else "unknown"
    rule,
    sender,  // "<>" for the null sender
    recipient,
    queue_id,
    dnsbl_listed,  // the first [[dnsbl]] listing ("zen:xbl"), else "none"
    fact,          // any fact of policyd/checks/facts.hpp kFactFields, by its name: {iprev}
};

class ActionTemplate {
  public:
    // The action for evidence, decided by the rule named rule_id.
    [[nodiscard]] std::string expand(const Evidence& evidence, std::string_view rule_id) const;

    // The action exactly as written in the rule file.
    [[nodiscard]] const std::string& text() const { return text_; }
    // Does its text name what only DNS tells ({ptr}, a fact that is
    // from_dns)? Such an action needs the assessment before it is sent.
    [[nodiscard]] bool needs_dns() const;

  private:
    struct Segment {
        std::string literal;  // used when !is_macro; braces already unescaped
        Macro macro = Macro::rule;
        std::uint8_t fact = 0;  // Macro::fact: index into kFactFields
        bool is_macro = false;
    };
    friend std::variant<ActionTemplate, std::string> parse_action(
        std::string_view text, std::span<const std::string> restriction_classes);

    std::string text_;
    std::vector<Segment> segments_;
    std::size_t literal_bytes_ = 0;
};

// What an action does with the mail, for counting decisions (metrics):
// accept (OK, DUNNO), defer (DEFER, DEFER_IF_REJECT, DEFER_IF_PERMIT, 4NN),
// reject (REJECT, 5NN) or other (HOLD, DISCARD, WARN, INFO, FILTER, PREPEND,
// REDIRECT, BCC, and text that is no action). Keywords case-insensitive.
enum class ActionClass : std::uint8_t { accept, defer, reject, other };
inline constexpr std::array<std::string_view, 4> kActionClassWords{"accept", "defer", "reject",
                                                                   "other"};
ActionClass action_class(std::string_view action);

// Every macro's name, in the order the "known:" message lists them (those
// of kMacros, then every fact).
std::vector<std::string_view> macro_names();

// The template, or an error message (without file:line) saying what is wrong.
// `restriction_classes` are the Postfix restriction classes the configuration
// declares ([policy] restriction_classes, defined in Postfix's
// smtpd_restriction_classes): an action that is exactly one of those names
// hands the decision to that class (greylisting, for instance).
std::variant<ActionTemplate, std::string> parse_action(
    std::string_view text, std::span<const std::string> restriction_classes = {});

// Why `name` cannot be a restriction class ([a-z0-9_]+, starting with a
// letter, at most 64 bytes, not an action keyword), or "".
std::string check_restriction_class(std::string_view name);

}  // namespace rules
