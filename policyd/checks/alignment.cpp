#include "policyd/checks/alignment.hpp"

#include <libpsl.h>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <utility>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"

namespace policyd {

struct PublicSuffixList::Impl {
    // Either owned (psl_load_file) or libpsl's static built-in context.
    const psl_ctx_t* ctx = nullptr;
    psl_ctx_t* owned = nullptr;
    std::string source;

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() { psl_free(owned); }
};

namespace {

// Debian's `publicsuffix` package; the compiled form loads faster and is what
// libpsl's psl_latest()/psl_dist_filename() point at on Debian too. Loaded
// explicitly (not via psl_latest) so a missing file is an error we can name
// rather than a silent switch to whichever copy libpsl finds newer.
constexpr const char* kDebianList = "/usr/share/publicsuffix/public_suffix_list.dafsa";

// The buffer adds the NUL libpsl needs.
using NameBuffer = std::array<char, kMaxName + 1>;

// Copies `name` lower-cased, without one trailing dot and NUL-terminated into
// `out`. Returns the copy, or an empty view for an invalid name. The copy
// matters: libpsl matches rules byte-wise on lower-case input (it returned
// "Example.COM" yet misses "EXAMPLE.CO.UK"), needs a NUL terminator, and
// would read raw UTF-8 as an IDN, which is not what DNS carries.
std::string_view normalise_into(std::string_view name, NameBuffer& out) {
    name = strip_root_dot(name);
    if (!is_dns_name(name)) {
        return {};
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        out[i] = ascii_lower(name[i]);
    }
    out[name.size()] = '\0';
    return {out.data(), name.size()};
}

// The registrable domain of a name already normalised by normalise_into (so
// NUL-terminated); a view into the same buffer, empty if there is none.
// psl_registrable_domain returns a pointer into its argument: no allocation.
std::string_view registrable_in(const psl_ctx_t* ctx, std::string_view normalised) {
    if (normalised.empty()) {
        return {};
    }
    const char* found = psl_registrable_domain(ctx, normalised.data());
    if (found == nullptr) {
        return {};
    }
    const auto offset = static_cast<std::size_t>(found - normalised.data());
    return normalised.substr(offset);
}

// psl_load_file accepts nearly any text (it read /etc/passwd as a list of 26
// "suffixes"), so a loaded list must answer a few stable questions right.
bool looks_like_psl(const psl_ctx_t* ctx) {
    return psl_is_public_suffix(ctx, "co.uk") == 1 &&
           psl_is_public_suffix(ctx, "example.co.uk") == 0 &&
           psl_registrable_domain(ctx, "mail.example.co.uk") != nullptr;
}

}  // namespace

PublicSuffixList::PublicSuffixList(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PublicSuffixList::~PublicSuffixList() = default;

std::shared_ptr<const PublicSuffixList> PublicSuffixList::load_file(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->owned = psl_load_file(path.c_str());
    if (impl->owned == nullptr) {
        throw std::runtime_error("public suffix list " + path +
                                 ": cannot load it (missing, unreadable or not a list; Debian "
                                 "package 'publicsuffix' provides it)");
    }
    impl->ctx = impl->owned;
    if (!looks_like_psl(impl->ctx)) {
        throw std::runtime_error("public suffix list " + path +
                                 ": not a Public Suffix List (co.uk is not a public suffix in it)");
    }
    impl->source = path;
    return std::shared_ptr<const PublicSuffixList>(new PublicSuffixList(std::move(impl)));
}

std::shared_ptr<const PublicSuffixList> PublicSuffixList::load_default() {
    try {
        return load_file(kDebianList);
    } catch (const std::runtime_error& file_error) {
        // Debian builds libpsl with the same list compiled in; a build
        // without it has a built-in context holding no rules.
        const psl_ctx_t* builtin = psl_builtin();
        if (builtin == nullptr || psl_suffix_count(builtin) <= 0 || !looks_like_psl(builtin)) {
            throw std::runtime_error(std::string(file_error.what()) +
                                     "; libpsl has no built-in list to fall back to");
        }
        auto impl = std::make_unique<Impl>();
        impl->ctx = builtin;
        const char* built_from = psl_builtin_filename();
        impl->source = std::string("libpsl built-in list (from ") +
                       (built_from != nullptr ? built_from : "?") + ") because " +
                       file_error.what();
        return std::shared_ptr<const PublicSuffixList>(new PublicSuffixList(std::move(impl)));
    }
}

std::string PublicSuffixList::org_domain(std::string_view name) const {
    NameBuffer buffer;
    return std::string(registrable_in(impl_->ctx, normalise_into(name, buffer)));
}

std::optional<std::size_t> PublicSuffixList::icann_registrable_offset(std::string_view name) const {
    NameBuffer buffer;
    const std::string_view normalised = normalise_into(name, buffer);
    if (normalised.empty()) {
        return std::nullopt;
    }
    // The longest suffix that is an ICANN public suffix (star rule
    // included, so every TLD is one); the registrable domain is it plus
    // the label before.
    std::size_t previous = std::string_view::npos;  // start of the label before `at`
    std::size_t at = 0;
    while (true) {
        if (psl_is_public_suffix2(impl_->ctx, normalised.data() + at, PSL_TYPE_ICANN) == 1) {
            if (previous == std::string_view::npos) {
                return std::nullopt;
            }
            return previous;
        }
        const std::size_t dot = normalised.find('.', at);
        if (dot == std::string_view::npos) {
            return std::nullopt;
        }
        previous = at;
        at = dot + 1;
    }
}

bool PublicSuffixList::known_tld(std::string_view name) const {
    NameBuffer buffer;
    const std::string_view normalised = normalise_into(name, buffer);
    if (normalised.empty()) {
        return false;
    }
    const std::size_t dot = normalised.rfind('.');
    const std::size_t tld = dot == std::string_view::npos ? 0 : dot + 1;
    return psl_is_public_suffix2(impl_->ctx, normalised.data() + tld,
                                 PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE) == 1;
}

const std::string& PublicSuffixList::source() const {
    return impl_->source;
}

Alignment align_helo_ptr(std::string_view helo_name, const std::vector<std::string>& verified_names,
                         const PublicSuffixList& psl) {
    if (verified_names.empty()) {
        return Alignment::na;
    }
    NameBuffer helo_buffer;
    const std::string_view helo = normalise_into(helo_name, helo_buffer);
    if (helo.empty()) {
        return Alignment::mismatch;
    }
    // Empty when the HELO is itself a public suffix ("co.uk", "github.io"):
    // then only an exact match can align it.
    const std::string_view helo_org = registrable_in(psl.impl_->ctx, helo);

    NameBuffer ptr_buffer;
    bool same_org = false;
    for (const std::string& name : verified_names) {
        const std::string_view ptr = normalise_into(name, ptr_buffer);
        if (ptr.empty()) {
            continue;
        }
        if (ptr == helo) {
            return Alignment::exact;
        }
        // Keep looking after an org-domain match: a later name may be exact.
        if (!same_org && !helo_org.empty() && registrable_in(psl.impl_->ctx, ptr) == helo_org) {
            same_org = true;
        }
    }
    return same_org ? Alignment::org_domain : Alignment::mismatch;
}

}  // namespace policyd
