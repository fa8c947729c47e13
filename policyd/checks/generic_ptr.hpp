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
// Classes (the fact's values): dynamic (an access network's pool name for a
// customer address), provider-default (a hosting, cloud or business
// provider's default name the customer never changed) and not-generic (a
// name somebody chose).
//
// Evidence, all of it found in the host part only:
//  Host part. The labels left of the registrable domain under the Public
//     Suffix List's ICANN section ("dsl-provider.net" in "mx.dsl-provider.net"
//     says nothing; "example.com" has no host part and is never generic).
//     The private section is not used here: it would make a whole EC2 host
//     name a public suffix.
//  Static keyword. A static keyword as a whole token in the first or second
//     label of the host part: "mail-yw1-f123.google.com",
//     "69-171-232-143.mail-mail.facebook.com", "a8-12.smtp-out.amazonses.com".
//     Large senders must not be generic, and a name an operator wrote
//     "mail"/"mx"/"smtp" into was chosen, not assigned.
//  Address. The host part embeds the client's own address:
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
//         90.1.234.56, "host123-45-static.6-87" for 87.6.45.123).
//     IPv6: the whole address as '-'-separated groups (RFC 5952 compressed
//     "2001-db8--1", full "2001-db8-0-0-0-0-0-1" or zero-padded), or as 32
//     nibbles forward or reversed, joined by '.', '-' or nothing.
//     A name that is nothing but the address ("1.2.3.4", or the reverse
//     name itself) counts too, though it has no host part.
//  Partial address. Only the last two or three octets, in either order,
//     joined by separators ("34-56" for 73.12.34.56), or the last octet alone
//     when it has two or three digits and no zero padding ("cust56", never
//     the "1" of "ns1" or the "01" of "po-01v"). Alone this is no evidence:
//     Amazon SES "a8-12", Mailgun "m228-4" and Mandrill "mail132-12" carry
//     the last two octets of legitimate senders. It counts under an access
//     network.
//  Opaque token. A run of letters and digits between separators, at least 8
//     long with at least two of each ("a1b2c3d4e5f6", "pcd123456"), or six
//     hex pairs joined by '-' (a MAC address). Counts under an access network.
//  Keywords. Tokens are the runs of ASCII letters: '.', '-', '_' and digits
//     split them, so "hsd1" holds "hsd" and "smtpbg123" holds "smtpbg" (not
//     "smtp"). A keyword with separators ("dial-up") matches that run of
//     consecutive tokens. Dynamic keywords (dyn, dsl, pool, cable, client,
//     ...) name an access network; assigned keywords (static, business) say
//     an address was given to one customer for good; provider keywords
//     (clients, vps, hosted, unassigned, ...) name a provider-assigned name.
//  Hosting pattern. The whole name matches one of a hosting or cloud
//     provider's default-name patterns (policyd/checks/providers.hpp).
//  Access network. The name is under an access network's domain (the
//     providers map), or the registrable domain's own label contains a
//     dynamic keyword of four letters or more ("telkomadsl.co.za"). Such a
//     domain label is a hint only: alone it never makes a name generic
//     ("mail.dynamics-corp.example" is not). Likewise a provider hint:
//     an assigned or provider keyword inside that label ("comcastbusiness").
//
// Verdict, first that applies:
//  1. static keyword, unless the name also holds the full address and a
//     dynamic keyword ("mail-1-2-3-4.dynamic.isp.example"): not-generic;
//  2. hosting pattern, or the name is the address: provider-default;
//  3. assigned keyword, with the full address or as the host part's only
//     words: provider-default ("static-1-2-3-4.fios.verizon.net");
//  4. dynamic keyword: dynamic;
//  5. provider keyword, with the full address or as the host part's only
//     words ("vps123456.hoster.example", "unassigned.hoster.example"):
//     provider-default;
//  6. the full address under a provider hint: provider-default;
//  7. under an access network, the full or partial address or an opaque
//     token: dynamic;
//  8. the full address: dynamic (most names built from an address with no
//     word saying who assigned it belong to access networks; hosting
//     defaults are known by their patterns and words);
//  9. otherwise not-generic. An address of another host is no evidence.
// A word in both the static and another list acts as a static keyword.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/alignment.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/checks/providers.hpp"

namespace policyd {

// What the classifier knows. Admins extend the keyword lists ([checks]) and
// edit the providers map.
struct GenericPtrVocabulary {
    std::vector<std::string> generic_keywords;   // dynamic keywords
    std::vector<std::string> static_keywords;    // mail words that exempt
    std::vector<std::string> assigned_keywords;  // "static": outrank dynamic keywords
    std::vector<std::string> provider_keywords;  // provider-assigned words
    std::vector<HostingProvider> hosting;
    std::vector<NamedDomains> access;

    // The keyword lists; the provider lists come from the providers map.
    static GenericPtrVocabulary defaults();
};

class GenericPtrClassifier {
  public:
    // Throws std::invalid_argument when a keyword has no letters (it could
    // never match a token) or is longer than a DNS label (63 characters), a
    // hosting pattern is malformed (an empty label, a character other than
    // letters, digits, '-', '_', '*' and '#', a wildcard in the
    // top-level domain, or no letter or digit spelt out in the label before
    // it), or an access domain is no domain name.
    GenericPtrClassifier(GenericPtrVocabulary vocabulary,
                         std::shared_ptr<const PublicSuffixList> psl);

    // Throws std::invalid_argument, as the constructor would, when one of
    // the provider's patterns is malformed.
    static void check_patterns(const HostingProvider& provider);

    // What kind of name `ptr_name` is for this client address: dynamic,
    // provider_default or not_generic, never na (that is the caller's: no
    // PTR name).
    GenericPtr classify(std::string_view ptr_name, const IpAddress& client) const;

    // The verdict and why, in one line: "not-generic: static keyword mail",
    // "provider-default: contains address 1-2-3-4", "dynamic: keyword dsl",
    // "provider-default: hosting pattern li#-#.members.linode.com (linode)",
    // "dynamic: contains address 5b0a0b0c (hex) under access domain sky.com",
    // "not-generic: no address or keyword in host part". The quoted parts are
    // copied from the name but hold only letters, digits and separators.
    // An exemption that overrides evidence says so: "not-generic: static
    // keyword mail (overrides: keyword dynamic)".
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

    // A hosting pattern, split into labels, with its literal tail for a
    // quick reject.
    struct Pattern {
        std::string text;  // as configured, lower-cased
        std::string provider;
        std::vector<std::string> labels;
        std::string tail;  // the literal labels at the end, with a leading '.'
    };

    static WordList build(std::vector<std::string> words);
    static std::vector<Pattern> build(const std::vector<HostingProvider>& hosting);
    Analysis analyse(std::string_view name, const IpAddress& client) const;

    WordList generic_;
    WordList static_;
    WordList assigned_;
    WordList provider_;
    std::vector<Pattern> patterns_;
    std::vector<std::string> access_;  // sorted, lower case
    std::shared_ptr<const PublicSuffixList> psl_;
};

}  // namespace policyd
