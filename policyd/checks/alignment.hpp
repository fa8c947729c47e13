// Alignment: does the HELO name belong to the same host, or at least the same
// organisation, as the client's forward-confirmed PTR names? The
// organisational domain is the registrable domain under the Public Suffix
// List (libpsl with Debian's `publicsuffix` data).
//
// Contract:
//  - PublicSuffixList is loaded once at start-up (load_* throw
//    std::runtime_error naming the file and the problem), is immutable
//    afterwards, and its const methods may be called from any thread.
//  - The list is used with its ICANN *and* private sections (libpsl's
//    PSL_TYPE_ANY). For mail identity that is the safe reading: two customers
//    under a hosting suffix (alice.github.io, bob.github.io, x.blogspot.com)
//    are different organisations and must not align with each other.
//  - org_domain() and align_helo_ptr() never throw. Names are compared in
//    ASCII lower case with one trailing dot ignored. A name is "invalid" (no
//    org domain) if it is empty, longer than 253 characters, has an empty
//    label or one longer than 63, or holds a byte other than an ASCII letter,
//    digit, '-' or '_'. IDNs therefore take part only in their punycode
//    (xn--) form, which is how DNS carries them; raw UTF-8 is invalid.
//  - align_helo_ptr() does not allocate.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/checks/facts.hpp"

namespace policyd {

class PublicSuffixList {
  public:
    // Debian's compiled list (/usr/share/publicsuffix/public_suffix_list.dafsa);
    // if that cannot be loaded, libpsl's built-in copy when it holds data.
    static std::shared_ptr<const PublicSuffixList> load_default();
    // A list in either libpsl format: the text .dat or the compiled .dafsa.
    // A file that loads but does not behave like the real list (co.uk is not
    // a public suffix in it) is rejected.
    static std::shared_ptr<const PublicSuffixList> load_file(const std::string& path);

    ~PublicSuffixList();
    PublicSuffixList(const PublicSuffixList&) = delete;
    PublicSuffixList& operator=(const PublicSuffixList&) = delete;

    // The organisational (registrable) domain of a name, lower-case, no
    // trailing dot: "mail.example.co.uk" -> "example.co.uk"; a public suffix
    // itself or an invalid name -> "".
    std::string org_domain(std::string_view name) const;

    // Where the registrable domain under the list's ICANN section alone
    // begins in `name` (as given, one trailing dot ignored): "c-1-2-3-4.hsd1.
    // comcast.net" -> 14, "x.ec2-1-2-3-4.compute-1.amazonaws.com" ->
    // the offset of "amazonaws.com" (the private section would make the
    // whole name a public suffix). nullopt for an invalid name or one that
    // is a public suffix itself. An unknown TLD counts as a public suffix
    // ("host.example.lan" -> "example.lan"). Never allocates.
    std::optional<std::size_t> icann_registrable_offset(std::string_view name) const;

    // Is the name's top-level domain one the ICANN section lists (not
    // merely the "*" default rule)? False for an invalid name. Never
    // allocates.
    bool known_tld(std::string_view name) const;

    // Where the data came from, for the start-up log line.
    const std::string& source() const;

  private:
    struct Impl;  // holds the libpsl context, so libpsl.h stays in the .cpp
    explicit PublicSuffixList(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;

    friend Alignment align_helo_ptr(std::string_view, const std::vector<std::string>&,
                                    const PublicSuffixList&);
};

// helo_name must be an FQDN (the caller decides n/a for other HELO shapes);
// verified_names are the forward-confirmed PTR names. exact if the HELO equals
// any verified name; org_domain if it shares the org domain with any;
// mismatch otherwise; na when verified_names is empty. An exact match
// anywhere in the list wins over an org-domain match elsewhere.
Alignment align_helo_ptr(std::string_view helo_name, const std::vector<std::string>& verified_names,
                         const PublicSuffixList& psl);

}  // namespace policyd
