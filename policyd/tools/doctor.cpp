#include "policyd/tools/doctor.hpp"

#include <toml++/toml.h>

#include <boost/asio/io_context.hpp>
#include <optional>
#include <ostream>
#include <utility>

#include "policyd/base/sanitize.hpp"
#include "policyd/config/stack.hpp"

namespace policyd {

namespace {

DoctorCheck check(std::string id, std::string component, std::string value, Verdict verdict,
                  std::string evidence, std::string remedy = {}) {
    return {std::move(id), std::move(component), std::move(value),
            verdict,       std::move(evidence),  std::move(remedy)};
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
        out += (out.empty() ? "" : ", ") + name;
    }
    return out;
}

// The A record for an IPv4 address, AAAA for IPv6.
std::string_view family_record(const IpAddress& ip) {
    return normalise(ip).is_v4() ? "A" : "AAAA";
}

}  // namespace

std::vector<DoctorCheck> judge_identity(const Facts& facts, const IpAddress& ip,
                                        std::string_view helo_name, std::string_view generic_reason,
                                        const std::vector<ZoneListing>& zones) {
    std::vector<DoctorCheck> checks;
    const std::string address = normalise(ip).to_string();
    const std::string ptr(representative_ptr(facts));
    const std::string helo = sanitized(helo_name);
    const std::string record(family_record(ip));
    const std::string owner =
        "the owner of " + address +
        " (your ISP's or cloud provider's reverse-DNS setting, not your domain's DNS host)";

    // PTR present.
    switch (facts.iprev) {
        case Iprev::permerror:
            checks.push_back(check("ptr", "PTR", address, Verdict::fail,
                                   "no PTR record for " + address,
                                   "Ask " + owner +
                                       " for a PTR record naming this server, e.g. "
                                       "mail.example.com, with an " +
                                       record + " record back to " + address + "."));
            break;
        case Iprev::temperror:
            checks.push_back(check("ptr", "PTR", address, Verdict::could_not_check,
                                   "the PTR lookup failed temporarily; try again"));
            break;
        case Iprev::pass:
        case Iprev::fail:
            checks.push_back(
                check("ptr", "PTR", address, Verdict::pass, "PTR " + joined(facts.ptr_names)));
            break;
    }

    if (!ptr.empty()) {
        // A real name: two labels or more under a TLD that exists.
        if (facts.ptr_tld == PtrTld::unknown || ptr.find('.') == std::string::npos) {
            checks.push_back(check("ptr-fqdn", "PTR name", ptr, Verdict::fail,
                                   ptr + " is not under a top-level domain that exists",
                                   "Ask " + owner +
                                       " to set the PTR to your server's real "
                                       "host name."));
        } else {
            checks.push_back(check("ptr-fqdn", "PTR name", ptr, Verdict::pass,
                                   ptr + " is a fully qualified name"));
        }
    }

    // FCrDNS.
    if (facts.iprev == Iprev::pass) {
        checks.push_back(check("fcrdns", "A/AAAA of PTR", ptr, Verdict::pass,
                               ptr + " resolves back to " + address));
    } else if (facts.iprev == Iprev::fail) {
        checks.push_back(
            check("fcrdns", "A/AAAA of PTR", ptr, Verdict::fail,
                  "no " + record + " record of " + joined(facts.ptr_names) + " is " + address,
                  "Add an " + record + " record " + ptr + " -> " + address + " where " + ptr +
                      "'s domain is hosted, or have the PTR changed to a name "
                      "that resolves to " +
                      address + "."));
    } else if (facts.iprev == Iprev::temperror && !facts.ptr_names.empty()) {
        checks.push_back(check("fcrdns", "A/AAAA of PTR", ptr, Verdict::could_not_check,
                               "the forward lookup failed temporarily"));
    }

    // Generic or provider-default PTR.
    if (facts.generic_ptr == GenericPtr::dynamic ||
        facts.generic_ptr == GenericPtr::provider_default) {
        const std::string kind = facts.generic_ptr == GenericPtr::dynamic
                                     ? "an access network's dynamic-pool name"
                                     : "a hosting provider's default name";
        checks.push_back(
            check("ptr-generic", "generic PTR", ptr, Verdict::warn,
                  ptr + " looks like " + kind + " (" + std::string(generic_reason) + ")",
                  "Receivers score such names as unmanaged machines and strict ones "
                  "refuse them. Ask " +
                      owner + " to set a PTR naming your mail server."));
    } else if (facts.generic_ptr == GenericPtr::not_generic) {
        checks.push_back(
            check("ptr-generic", "generic PTR", ptr, Verdict::pass, ptr + " is a chosen name"));
    }

    // HELO.
    const std::string postfix_helo = "Set Postfix's smtp_helo_name (it defaults to myhostname) to ";
    const std::string or_postfix_helo =
        "or set Postfix's smtp_helo_name (it defaults to myhostname) to ";
    const std::string suggestion = ptr.empty() ? "the server's FQDN" : ptr;
    switch (facts.helo_syntax) {
        case HeloSyntax::fqdn:
            checks.push_back(check("helo-fqdn", "HELO", helo, Verdict::pass, helo + " is a FQDN"));
            break;
        case HeloSyntax::address_literal:
            checks.push_back(
                check("helo-fqdn", "HELO", helo,
                      facts.helo_literal == HeloLiteral::match ? Verdict::warn : Verdict::fail,
                      facts.helo_literal == HeloLiteral::match
                          ? "an address literal of the server itself: allowed, "
                            "but receivers expect a name"
                          : "an address literal of another address",
                      postfix_helo + suggestion + "."));
            break;
        case HeloSyntax::missing:
            checks.push_back(check("helo-fqdn", "HELO", "-", Verdict::could_not_check,
                                   "no HELO name given (--helo NAME)"));
            break;
        case HeloSyntax::non_fqdn:
        case HeloSyntax::invalid:
        case HeloSyntax::bare_ip:
            checks.push_back(check("helo-fqdn", "HELO", helo, Verdict::fail,
                                   helo + " is " + std::string(to_string(facts.helo_syntax)) +
                                       ", not a fully qualified domain name (RFC 5321 §4.1.1.1)",
                                   postfix_helo + suggestion + "."));
            break;
    }
    if (facts.helo_syntax == HeloSyntax::fqdn) {
        switch (facts.helo_forward) {
            case HeloForward::pass:
                checks.push_back(check("helo-resolves", "A/AAAA of HELO", helo, Verdict::pass,
                                       helo + " resolves to " + address));
                break;
            case HeloForward::same_network:
                checks.push_back(
                    check("helo-resolves", "A/AAAA of HELO", helo, Verdict::warn,
                          helo + " resolves only to neighbours of " + address,
                          "Add an " + record + " record " + helo + " -> " + address + "."));
                break;
            case HeloForward::fail:
            case HeloForward::none:
                checks.push_back(
                    check("helo-resolves", "A/AAAA of HELO", helo, Verdict::fail,
                          facts.helo_forward == HeloForward::none
                              ? helo + " has no address" +
                                    (facts.helo_mx == HeloMx::present ? " (only an MX)" : "")
                              : helo + " resolves, but not to " + address,
                          "Add an " + record + " record " + helo + " -> " + address + ", " +
                              or_postfix_helo + "a name that resolves to it."));
                break;
            case HeloForward::temperror:
                checks.push_back(check("helo-resolves", "A/AAAA of HELO", helo,
                                       Verdict::could_not_check,
                                       "the HELO name's lookup failed temporarily"));
                break;
            case HeloForward::na:
                break;
        }
        switch (facts.helo_ptr_alignment) {
            case Alignment::exact:
                checks.push_back(check("helo-ptr", "HELO = PTR", helo, Verdict::pass,
                                       "the HELO name is the PTR name"));
                break;
            case Alignment::org_domain:
                checks.push_back(
                    check("helo-ptr", "HELO = PTR", helo, Verdict::warn,
                          helo + " and " + ptr + " share their domain, but differ",
                          postfix_helo + ptr + " for the receivers that compare exactly."));
                break;
            case Alignment::mismatch:
                checks.push_back(check("helo-ptr", "HELO = PTR", helo, Verdict::fail,
                                       helo + " does not belong with PTR " + ptr,
                                       postfix_helo + ptr + ", or have " + owner +
                                           " change the PTR to " + helo + "."));
                break;
            case Alignment::na:
                if (facts.iprev != Iprev::temperror) {
                    checks.push_back(check("helo-ptr", "HELO = PTR", helo, Verdict::fail,
                                           "no forward-confirmed PTR name to compare with",
                                           "Fix the PTR first (above)."));
                }
                break;
        }
    }

    // Blocklists.
    for (const ZoneListing& zone : zones) {
        const std::string id = "dnsbl:" + zone.zone;
        switch (zone.listing.status) {
            case ListingStatus::listed:
                checks.push_back(check(id, "DNSBL", zone.zone, Verdict::fail,
                                       address + " is listed (" + zone.listing.label + ")",
                                       "Find and fix why (a compromised host, an open relay, "
                                       "mail nobody asked for), then follow " +
                                           zone.zone + "'s removal procedure."));
                break;
            case ListingStatus::not_listed:
                checks.push_back(
                    check(id, "DNSBL", zone.zone, Verdict::pass, address + " is not listed"));
                break;
            case ListingStatus::temperror:
                checks.push_back(check(id, "DNSBL", zone.zone, Verdict::could_not_check,
                                       "the list did not answer, or refused the query (some "
                                       "lists refuse public resolvers)"));
                break;
        }
    }
    return checks;
}

int doctor_exit_status(const std::vector<DoctorCheck>& checks) {
    bool warn = false;
    bool unknown = false;
    for (const DoctorCheck& c : checks) {
        if (c.verdict == Verdict::fail) {
            return 2;
        }
        warn = warn || c.verdict == Verdict::warn;
        unknown = unknown || c.verdict == Verdict::could_not_check;
    }
    return unknown ? 3 : warn ? 1 : 0;
}

void write_doctor_text(std::ostream& out, std::string_view ip, std::string_view helo,
                       const std::vector<DoctorCheck>& checks) {
    out << "rdns-policyd doctor: " << sanitized(ip) << " HELO " << sanitized(helo) << "\n\n";
    std::size_t component = 9;
    std::size_t value = 5;
    for (const DoctorCheck& c : checks) {
        component = std::max(component, c.component.size());
        value = std::max(value, std::min<std::size_t>(c.value.size(), 60));
    }
    const auto pad = [](const std::string& text, std::size_t width) {
        return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
    };
    out << "  " << pad("component", component) << "  " << pad("value", value) << "  verdict\n";
    for (const DoctorCheck& c : checks) {
        out << "  " << pad(c.component, component) << "  " << pad(c.value.substr(0, 60), value)
            << "  " << kVerdictWords[static_cast<std::size_t>(c.verdict)] << ": " << c.evidence
            << "\n";
    }
    bool heading = false;
    for (const DoctorCheck& c : checks) {
        if (c.remedy.empty()) {
            continue;
        }
        if (!heading) {
            out << "\nTo fix:\n";
            heading = true;
        }
        out << "  - " << c.component << ": " << c.remedy << "\n";
    }
    const int status = doctor_exit_status(checks);
    out << "\nResult: "
        << (status == 0   ? "everything checks out"
            : status == 1 ? "warnings"
            : status == 2 ? "receivers will refuse or distrust this server"
                          : "some checks could not be made (DNS); run again")
        << "\n";
}

void write_doctor_json(std::ostream& out, std::string_view ip, std::string_view helo,
                       const std::vector<DoctorCheck>& checks) {
    toml::table root;
    root.insert("ip", std::string(ip));
    root.insert("helo", sanitized(helo));
    toml::array list;
    for (const DoctorCheck& c : checks) {
        toml::table row;
        row.insert("id", c.id);
        row.insert("component", c.component);
        row.insert("value", c.value);
        row.insert("verdict", std::string(kVerdictWords[static_cast<std::size_t>(c.verdict)]));
        row.insert("evidence", c.evidence);
        if (!c.remedy.empty()) {
            row.insert("remedy", c.remedy);
        }
        list.push_back(std::move(row));
    }
    root.insert("checks", std::move(list));
    root.insert("exit_status", doctor_exit_status(checks));
    out << toml::json_formatter{root} << "\n";
}

int run_doctor(const Config& config, const DoctorRequest& request, std::ostream& out,
               std::ostream& err) {
    const auto ip = parse_ip(request.ip);
    if (!ip) {
        err << "rdns-policyd doctor: \"" << sanitized(request.ip) << "\" is not an IP address\n";
        return 64;
    }
    const std::vector<std::string>& zones =
        request.dnsbl_given ? request.dnsbl : config.settings.doctor_dnsbl;
    boost::asio::io_context io(1);
    Stack stack(io, config, Stack::Caches::off);
    std::optional<Facts> facts;
    std::vector<ZoneListing> listings;
    int outstanding = 1 + static_cast<int>(zones.size());
    const auto done = [&] {
        if (--outstanding == 0) {
            stack.shutdown();
        }
    };
    stack.assessor().assess(*ip, request.helo, [&](Facts result) {
        facts = std::move(result);
        done();
    });
    listings.reserve(zones.size());
    for (const std::string& zone : zones) {
        listings.push_back({zone, {}});
        const Blocklist list{zone, zone, BlocklistTarget::client, {}};
        const std::size_t index = listings.size() - 1;
        stack.lookup().lookup(blocklist_query(list, *ip, {}), resolver::RrType::a,
                              [&, list, index](const resolver::Answer& answer) {
                                  listings[index].listing = read_listing(list, answer);
                                  done();
                              });
    }
    io.run();
    if (!facts) {
        err << "rdns-policyd doctor: the assessment did not complete\n";
        return 3;
    }
    const std::string_view ptr = representative_ptr(*facts);
    const std::string reason =
        !ptr.empty() && stack.options().generic ? stack.options().generic->explain(ptr, *ip) : "";
    const auto checks = judge_identity(*facts, *ip, request.helo, reason, listings);
    if (request.json) {
        write_doctor_json(out, normalise(*ip).to_string(), request.helo, checks);
    } else {
        write_doctor_text(out, normalise(*ip).to_string(), request.helo, checks);
    }
    return doctor_exit_status(checks);
}

}  // namespace policyd
