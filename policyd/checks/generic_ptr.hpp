// Generic PTR: is a PTR name an ISP-assigned pool name ("1-2-3-4.dynamic.isp.example")
// rather than a name somebody chose for a mail server?
//
// Contract: GenericPtrClassifier is built once at load (the constructor may
// throw std::invalid_argument for a bad vocabulary), is immutable afterwards and
// may be used from any thread. classify() runs per request: it never throws,
// never allocates and reads at most the first 253 characters' worth of name
// (a longer name cannot come from DNS and is "not_generic"). explain() says why,
// for logs and `explain` output, and allocates its answer. The caller decides the
// fact's "n/a" (no verified PTR name); this module only sees a name and the client.
// Names are compared case-insensitively; one trailing dot is ignored.
//
// Rules, in order:
//  1. Host part. Only labels left of the organisational domain count: the last
//     two labels are dropped, or the last three when the TLD has two letters and
//     the label before it is a short ccSLD (co, com, net, org, ac, gov, edu, ne,
//     or, ...). So "dsl-provider.net" in "mx.dsl-provider.net" says nothing, and
//     a name of two labels ("example.com") is never generic.
//  2. Exemption. A static keyword as a whole token in the first or second label
//     of the host part makes the name not generic, whatever else it contains:
//     "mail-yw1-f123.google.com", "69-171-232-143.mail-mail.facebook.com",
//     "a8-12.smtp-out.amazonses.com", "mail-1-2-3-4.example.com". Large senders
//     must not be generic, and a name an operator wrote "mail"/"mx"/"smtp" into
//     was chosen, not assigned. "static" is deliberately NOT a static keyword:
//     "static-1-2-3-4.isp.net" is an ISP's per-customer name and is generic.
//  3. Address. The host part embeds the client's own address:
//     IPv4, forward or reversed octet order, as
//       - decimal octets joined by '.', '-' or '_' (separators may mix, each
//         octet 1-3 digits, zero padding allowed: 001-002-003-004), letters may
//         touch the ends ("host81-2-3-4", "ip68-1-2-3"); or
//       - one run of digits: the 12-digit zero-padded concatenation
//         ("078088012034"), or the unpadded one when it has 8 or more digits
//         (a shorter run such as "1234" for 1.2.3.4 is too easily a host number);
//       - 8 hex digits ("p5b0a0b0c", "5ED0A0B0"; not touching another decimal
//         digit) or 4 hex pairs joined by '-', '.' or '_' ("C0-00-02-01");
//       - a split address: all four octets in two runs of consecutive octets,
//         in either order in the name ("lfbn-idf1-1-234-56.w90-1" for
//         90.1.234.56, "host123-45-static.6-87" for 87.6.45.123,
//         "host34.190-12-56" for 190.12.56.34).
//     A partial address alone (only the last two or three octets, or only the
//     /24) is not evidence: Amazon SES "a8-12", Mailgun "m228-4" and Mandrill
//     "mail132-12" carry the last two octets of legitimate senders, and a /24
//     in a name identifies the network, not the client. An address of another
//     host is not evidence either.
//     IPv6: the whole address as '-'-separated groups (RFC 5952 compressed
//     "2001-db8--1", full "2001-db8-0-0-0-0-0-1" or zero-padded), or as 32
//     nibbles forward or reversed, joined by '.', '-' or nothing. Prefix-only
//     IPv6 names are left to the keywords.
//     Cloud hosts named after their address ("ec2-3-4-5-6.compute-1.amazonaws.com",
//     "6.5.4.3.bc.googleusercontent.com") ARE generic: that is their shape, and
//     a mail server there is expected to set its own PTR.
//  4. Keyword. A generic keyword as a whole token anywhere in the host part.
//     Tokens are the runs of ASCII letters: '.', '-', '_' and digits split them,
//     so "hsd1" holds "hsd" and "smtpbg123" holds "smtpbg" (not "smtp"). A
//     keyword with separators ("dial-up") matches that run of consecutive
//     tokens; digits inside a keyword also split it ("mx1" means "mx").
//     "host", "ip" and "addr" are not default keywords: "host1.example.net" is an
//     ordinary server name, and the pool names that use those words carry the
//     address, which rule 3 catches.
// A word in both lists acts as a static keyword.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

// The words of rules 2 and 4. Admins extend (or replace) both lists.
struct GenericPtrVocabulary {
    std::vector<std::string> generic_keywords;
    std::vector<std::string> static_keywords;

    static GenericPtrVocabulary defaults();
};

class GenericPtrClassifier {
  public:
    // Throws std::invalid_argument when a keyword has no letters (it could
    // never match a token) or is longer than a DNS label (63 characters).
    explicit GenericPtrClassifier(GenericPtrVocabulary vocabulary);

    // Is `ptr_name` a generic/dynamic pool name for this client address?
    // generic or not_generic, never na (that is the caller's: no PTR name).
    GenericPtr classify(std::string_view ptr_name, const IpAddress& client) const;

    // Why, in one line: "static keyword mail", "contains address 1-2-3-4",
    // "contains address 5b0a0b0c (hex)", "contains address 2001-db8--1 (IPv6)",
    // "contains address split as '90-1' and '234-56'", "keyword dynamic",
    // "no address or generic keyword in host part". The quoted parts are copied
    // from the name but hold only hex digits and separators.
    // An exemption that overrides evidence says so: "static keyword mail
    // (overrides: keyword dynamic)".
    std::string explain(std::string_view ptr_name, const IpAddress& client) const;

  private:
    // One configured word as the classifier sees it.
    struct Keyword {
        std::string text;                 // as configured, lower-cased (for explain)
        std::vector<std::string> tokens;  // its lower-cased letter runs
    };
    // A word list plus the positions of its words sorted by first token, so a
    // name token finds its candidates by binary search. Indices, not pointers,
    // so the classifier stays safely copyable.
    struct WordList {
        std::vector<Keyword> words;
        std::vector<std::size_t> by_first_token;
    };
    struct Analysis;

    static WordList build(std::vector<std::string> words);
    Analysis analyse(std::string_view name, const IpAddress& client, bool stop_early) const;

    WordList generic_;
    WordList static_;
};

}  // namespace policyd
