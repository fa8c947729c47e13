#include "policyd/tools/doctor.hpp"

#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <utility>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/config/stack.hpp"
#include "policyd/tools/postfix_check.hpp"

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

std::string ptr_owner(const std::string& address) {
    return "the owner of " + address +
           " (your ISP's or cloud provider's reverse-DNS setting, not your domain's DNS host)";
}

void append(std::vector<DoctorCheck>& to, std::vector<DoctorCheck> more) {
    to.insert(to.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

// What each NameRole is called, and where Postfix sets it.
struct RoleText {
    std::string_view id;         // of its checks: "helo" -> helo-fqdn, helo-resolves, helo-ptr
    std::string_view component;  // in the table
    std::string_view setting;    // "Postfix's smtp_helo_name (...)": set it to the name
    std::string_view missing;    // the evidence when there is no name
};
constexpr std::array<RoleText, 3> kRoleTexts{{
    {"helo", "HELO", "Postfix's smtp_helo_name (it defaults to myhostname)",
     "no HELO name given (--helo NAME)"},
    {"banner", "banner",
     "Postfix's myhostname (smtpd_banner, \"$myhostname ESMTP $mail_name\" by default, "
     "begins with it; a banner of your own must begin with the name too)",
     "the greeting names no host (RFC 5321 4.3.1 wants the server's name first)"},
    {"ehlo", "EHLO reply", "Postfix's myhostname (the EHLO reply gives it)",
     "the EHLO reply names no host (RFC 5321 4.1.1.1 wants the server's name first)"},
}};

// "Set <where the role's name is set> to <name>", capitalised or not.
std::string remedy(NameRole role, std::string_view name, bool capital) {
    return std::string(capital ? "Set " : "set ") +
           std::string(kRoleTexts[static_cast<std::size_t>(role)].setting) + " to " +
           std::string(name);
}

}  // namespace

std::vector<DoctorCheck> judge_ptr(const Facts& facts, const IpAddress& ip,
                                   std::string_view generic_reason) {
    std::vector<DoctorCheck> checks;
    const std::string address = normalise(ip).to_string();
    const std::string ptr(representative_ptr(facts));
    const std::string record(family_record(ip));
    const std::string owner = ptr_owner(address);

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

    return checks;
}

std::vector<DoctorCheck> judge_name(NameRole role, const Facts& facts, const IpAddress& ip,
                                    std::string_view name) {
    std::vector<DoctorCheck> checks;
    const RoleText& text = kRoleTexts[static_cast<std::size_t>(role)];
    const std::string id(text.id);
    const std::string component(text.component);
    const std::string address = normalise(ip).to_string();
    const std::string ptr(representative_ptr(facts));
    const std::string helo = sanitized(name);
    const std::string record(family_record(ip));
    const std::string owner = ptr_owner(address);
    const std::string suggestion = ptr.empty() ? "the server's FQDN" : ptr;
    switch (facts.helo_syntax) {
        case HeloSyntax::fqdn:
            checks.push_back(
                check(id + "-fqdn", component, helo, Verdict::pass, helo + " is a FQDN"));
            break;
        case HeloSyntax::address_literal:
            checks.push_back(
                check(id + "-fqdn", component, helo,
                      facts.helo_literal == HeloLiteral::match ? Verdict::warn : Verdict::fail,
                      facts.helo_literal == HeloLiteral::match
                          ? "an address literal of the server itself: allowed, "
                            "but receivers expect a name"
                          : "an address literal of another address",
                      remedy(role, suggestion, true) + "."));
            break;
        case HeloSyntax::missing:
            checks.push_back(role == NameRole::helo
                                 ? check(id + "-fqdn", component, "-", Verdict::could_not_check,
                                         std::string(text.missing))
                                 : check(id + "-fqdn", component, "-", Verdict::fail,
                                         std::string(text.missing),
                                         remedy(role, suggestion, true) + "."));
            break;
        case HeloSyntax::non_fqdn:
        case HeloSyntax::invalid:
        case HeloSyntax::bare_ip:
            checks.push_back(check(id + "-fqdn", component, helo, Verdict::fail,
                                   helo + " is " + std::string(to_string(facts.helo_syntax)) +
                                       ", not a fully qualified domain name (RFC 5321 §4.1.1.1)",
                                   remedy(role, suggestion, true) + "."));
            break;
    }
    if (facts.helo_syntax == HeloSyntax::fqdn) {
        switch (facts.helo_forward) {
            case HeloForward::pass:
                checks.push_back(check(id + "-resolves", "A/AAAA of " + component, helo,
                                       Verdict::pass, helo + " resolves to " + address));
                break;
            case HeloForward::same_network:
                checks.push_back(
                    check(id + "-resolves", "A/AAAA of " + component, helo, Verdict::warn,
                          helo + " resolves only to neighbours of " + address,
                          "Add an " + record + " record " + helo + " -> " + address + "."));
                break;
            case HeloForward::fail:
            case HeloForward::none:
                checks.push_back(
                    check(id + "-resolves", "A/AAAA of " + component, helo, Verdict::fail,
                          facts.helo_forward == HeloForward::none
                              ? helo + " has no address" +
                                    (facts.helo_mx == HeloMx::present ? " (only an MX)" : "")
                              : helo + " resolves, but not to " + address,
                          "Add an " + record + " record " + helo + " -> " + address + ", or " +
                              remedy(role, "a name that resolves to it", false) + "."));
                break;
            case HeloForward::temperror:
                checks.push_back(check(id + "-resolves", "A/AAAA of " + component, helo,
                                       Verdict::could_not_check,
                                       "the lookup of " + helo + " failed temporarily"));
                break;
            case HeloForward::na:
                break;
        }
        switch (facts.helo_ptr_alignment) {
            case Alignment::exact:
                checks.push_back(check(id + "-ptr", component + " = PTR", helo, Verdict::pass,
                                       "the " + component + " name is the PTR name"));
                break;
            case Alignment::org_domain:
                checks.push_back(
                    check(id + "-ptr", component + " = PTR", helo, Verdict::warn,
                          helo + " and " + ptr + " share their domain, but differ",
                          remedy(role, ptr, true) + " for the receivers that compare exactly."));
                break;
            case Alignment::mismatch:
                checks.push_back(check(id + "-ptr", component + " = PTR", helo, Verdict::fail,
                                       helo + " does not belong with PTR " + ptr,
                                       remedy(role, ptr, true) + ", or have " + owner +
                                           " change the PTR to " + helo + "."));
                break;
            case Alignment::na:
                if (facts.iprev != Iprev::temperror) {
                    checks.push_back(check(id + "-ptr", component + " = PTR", helo, Verdict::fail,
                                           "no forward-confirmed PTR name to compare with",
                                           "Fix the PTR first (above)."));
                }
                break;
        }
    }

    return checks;
}

std::vector<DoctorCheck> judge_listings(const IpAddress& ip,
                                        const std::vector<ZoneListing>& zones) {
    std::vector<DoctorCheck> checks;
    const std::string address = normalise(ip).to_string();
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

std::vector<DoctorCheck> judge_identity(const Facts& facts, const IpAddress& ip,
                                        std::string_view helo, std::string_view generic_reason,
                                        const std::vector<ZoneListing>& zones) {
    std::vector<DoctorCheck> checks = judge_ptr(facts, ip, generic_reason);
    append(checks, judge_name(NameRole::helo, facts, ip, helo));
    append(checks, judge_listings(ip, zones));
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

int doctor_exit_status(const std::vector<DoctorServer>& servers) {
    int worst = 0;
    for (const DoctorServer& server : servers) {
        const int status = doctor_exit_status(server.checks);
        // 2 (a failure) over 3 (could not check) over 1 (warnings) over 0.
        const auto rank = [](int s) { return s == 2 ? 3 : s == 3 ? 2 : s; };
        if (rank(status) > rank(worst)) {
            worst = status;
        }
    }
    return worst;
}

DoctorCheck judge_probe(const ProbeResult& probe, std::string_view endpoint) {
    const std::string where(endpoint);
    const std::string firewall =
        "Make sure the server listens there and that no firewall or provider blocks port "
        "25 inbound; receivers of your mail do not need it, but senders to you do.";
    switch (probe.status) {
        case ProbeStatus::ok:
            break;
        case ProbeStatus::refused:
        case ProbeStatus::timeout:
            return check("smtp", "SMTP", where, Verdict::fail, sanitized(probe.error), firewall);
        case ProbeStatus::closed:
        case ProbeStatus::malformed:
            return check("smtp", "SMTP", where, Verdict::fail, sanitized(probe.error),
                         "Look at the server's log for why it ends the session; a greeting "
                         "must be one SMTP reply (RFC 5321 4.2).");
    }
    const auto seconds = static_cast<double>(probe.greeting_delay.count()) / 1000.0;
    char delay[32];
    std::snprintf(delay, sizeof delay, "%.1f", seconds);
    const std::string greeted = std::to_string(probe.greeting.code) + " greeting after " + delay +
                                " s (" + std::to_string(probe.greeting.lines.size()) +
                                (probe.greeting.lines.size() == 1 ? " line)" : " lines)");
    if (probe.greeting.code != 220) {
        return check("smtp", "SMTP", where, Verdict::warn,
                     greeted + ": the server refuses sessions: " +
                         sanitized(probe.greeting.lines.empty() ? "" : probe.greeting.lines[0]),
                     "A server that senders should reach greets with 220; look at why it "
                     "refuses (postscreen, a blocklist of its own, smtpd_client_restrictions).");
    }
    if (probe.ehlo.code != 250) {
        return check("smtp", "SMTP", where, Verdict::warn,
                     greeted + ", but EHLO got " + std::to_string(probe.ehlo.code),
                     "Every client says EHLO first; a server that refuses it takes mail from "
                     "old clients only.");
    }
    return check("smtp", "SMTP", where, Verdict::pass, greeted + ", EHLO answered 250");
}

std::optional<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port) {
    HostPort out;
    out.port = default_port;
    std::string_view host = text;
    if (text.starts_with('[')) {  // [2001:db8::1] or [2001:db8::1]:25
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            const auto port = rest.starts_with(':') ? parse_port(rest.substr(1)) : std::nullopt;
            if (!port) {
                return std::nullopt;
            }
            out.port = *port;
        }
        if (!parse_ip(host) || !parse_ip(host)->is_v6()) {
            return std::nullopt;
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {  // name:25, 192.0.2.1:25
        const std::size_t colon = text.find(':');
        const auto port = parse_port(text.substr(colon + 1));
        if (!port) {
            return std::nullopt;
        }
        out.port = *port;
        host = text.substr(0, colon);
    }
    if (const auto ip = parse_ip(host)) {
        out.host = normalise(*ip).to_string();
        return out;
    }
    std::string name = to_lower(host);
    if (!name.empty() && name.back() == '.') {
        name.pop_back();
    }
    if (name.find(':') != std::string::npos || !is_dns_name(name)) {
        return std::nullopt;
    }
    out.host = std::move(name);
    return out;
}

OptionResult doctor_option(const std::vector<std::string_view>& args, std::size_t& i,
                           DoctorRequest& request, std::string& error) {
    const std::string_view arg = args[i];
    const auto value = [&](std::string& into) {
        if (i + 1 >= args.size()) {
            error = std::string(arg) + " needs a value";
            return OptionResult::error;
        }
        into = std::string(args[++i]);
        return OptionResult::taken;
    };
    std::string text;
    if (arg == "--ip") {
        return value(request.ip);
    }
    if (arg == "--helo") {
        return value(request.helo);
    }
    if (arg == "--ehlo-as") {
        if (value(request.ehlo_as) == OptionResult::error) {
            return OptionResult::error;
        }
        if (!is_dns_name(request.ehlo_as) && !request.ehlo_as.starts_with('[')) {
            error = "--ehlo-as needs a host name or an address literal";
            return OptionResult::error;
        }
        return OptionResult::taken;
    }
    if (arg == "--dnsbl") {
        if (value(text) == OptionResult::error) {
            return OptionResult::error;
        }
        std::string zone = to_lower(text);
        if (!is_dns_name(zone) || zone.find('.') == std::string::npos) {
            error = "--dnsbl needs a blocklist's DNS zone, e.g. zen.spamhaus.org";
            return OptionResult::error;
        }
        request.dnsbl.push_back(std::move(zone));
        request.dnsbl_given = true;
        return OptionResult::taken;
    }
    if (arg == "--mx") {
        if (value(text) == OptionResult::error) {
            return OptionResult::error;
        }
        std::string domain = to_lower(text);
        if (!domain.empty() && domain.back() == '.') {
            domain.pop_back();
        }
        if (!is_dns_name(domain) || domain.find('.') == std::string::npos) {
            error = "--mx needs a mail domain, e.g. example.com";
            return OptionResult::error;
        }
        request.mx_domains.push_back(std::move(domain));
        return OptionResult::taken;
    }
    if (arg == "--port" || arg == "--timeout") {
        if (value(text) == OptionResult::error) {
            return OptionResult::error;
        }
        const auto number = parse_port(text);
        if (!number || *number == 0 || (arg == "--timeout" && *number > 3600)) {
            error = arg == "--port" ? "--port needs a TCP port, 1 to 65535"
                                    : "--timeout needs seconds, 1 to 3600";
            return OptionResult::error;
        }
        if (arg == "--port") {
            request.port = *number;
        } else {
            request.timeout = std::chrono::seconds(*number);
        }
        return OptionResult::taken;
    }
    if (arg == "--postfix") {
        request.postfix = true;
        // An optional CONFIG_DIR: a path, told from a HOST by its / or ".".
        if (i + 1 < args.size() && (args[i + 1].starts_with('/') || args[i + 1].starts_with('.'))) {
            request.postfix_dir = std::string(args[++i]);
        }
        return OptionResult::taken;
    }
    if (!arg.starts_with('-') && !arg.empty()) {
        if (!parse_host_port(arg, request.port)) {
            error = "\"" + sanitized(arg) +
                    "\" is not HOST[:PORT] (a host name, an address, [IPv6]:PORT)";
            return OptionResult::error;
        }
        request.hosts.emplace_back(arg);
        return OptionResult::taken;
    }
    return OptionResult::not_mine;
}

std::string doctor_request_error(const DoctorRequest& request) {
    if (request.hosts.empty() && request.mx_domains.empty() && request.ip.empty() &&
        !request.postfix) {
        return "doctor needs what to audit: HOST[:PORT], --mx DOMAIN, --ip IP --helo NAME, "
               "or --postfix";
    }
    if (!request.ip.empty() && !parse_ip(request.ip)) {
        return "\"" + sanitized(request.ip) + "\" is not an IP address";
    }
    if (!request.helo.empty() && request.ip.empty() && !request.postfix) {
        return "--helo goes with --ip IP (the address that sends it)";
    }
    return {};
}

namespace {

std::string verdict_word(Verdict verdict) {
    return std::string(kVerdictWords[static_cast<std::size_t>(verdict)]);
}

std::string result_line(int status) {
    return status == 0   ? "everything checks out"
           : status == 1 ? "warnings"
           : status == 2 ? "receivers will refuse or distrust this server"
                         : "some checks could not be made (DNS); run again";
}

}  // namespace

void write_doctor_text(std::ostream& out, const std::vector<DoctorServer>& servers) {
    for (const DoctorServer& server : servers) {
        out << "rdns-policyd doctor: " << server.target;
        if (!server.ip.empty()) {
            out << " (" << server.ip;
            if (server.port != 0) {
                out << " port " << server.port;
            }
            out << ")";
        }
        out << "\n";
        for (const auto& [label, name] :
             {std::pair{"HELO", &server.helo}, std::pair{"banner", &server.banner},
              std::pair{"EHLO reply", &server.ehlo}}) {
            if (!name->empty()) {
                out << "  " << label << " " << *name << "\n";
            }
        }
        out << "\n";
        const auto& checks = server.checks;
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
                << "  " << verdict_word(c.verdict) << ": " << c.evidence << "\n";
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
        out << "\nResult: " << result_line(doctor_exit_status(checks)) << "\n\n";
    }
    if (servers.size() > 1) {
        out << "Overall (" << servers.size()
            << " servers): " << result_line(doctor_exit_status(servers)) << "\n";
    }
}

void write_doctor_json(std::ostream& out, const std::vector<DoctorServer>& servers) {
    toml::array list;
    for (const DoctorServer& server : servers) {
        toml::table entry;
        entry.insert("target", server.target);
        entry.insert("ip", server.ip);
        entry.insert("port", static_cast<int64_t>(server.port));
        entry.insert("helo", server.helo);
        entry.insert("banner", server.banner);
        entry.insert("ehlo", server.ehlo);
        toml::array checks;
        for (const DoctorCheck& c : server.checks) {
            toml::table row;
            row.insert("id", c.id);
            row.insert("component", c.component);
            row.insert("value", c.value);
            row.insert("verdict", verdict_word(c.verdict));
            row.insert("evidence", c.evidence);
            if (!c.remedy.empty()) {
                row.insert("remedy", c.remedy);
            }
            checks.push_back(std::move(row));
        }
        entry.insert("checks", std::move(checks));
        entry.insert("exit_status", doctor_exit_status(server.checks));
        list.push_back(std::move(entry));
    }
    toml::table root;
    root.insert("servers", std::move(list));
    root.insert("exit_status", doctor_exit_status(servers));
    out << toml::json_formatter{root} << "\n";
}

namespace {

using resolver::Answer;
using resolver::RrType;
using resolver::Status;

// Runs the loop until `done` says so. Between phases the loop may have run
// out of work (stopped); it is restarted first.
void run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
    io.restart();
    while (!done() && io.run_one() > 0) {
    }
}

// One server while it is audited.
struct Audit {
    DoctorServer server;
    std::optional<IpAddress> address;
    std::vector<DoctorCheck> leading;  // what the target's resolution found (MX, addresses)
    std::optional<ProbeResult> probe;
    std::map<std::string, Facts> facts;  // by name asked as the HELO ("" for none)
    std::vector<ZoneListing> listings;
};

// A host name to connect to, and what it came from.
struct HostJob {
    std::string target;
    std::string host;
    std::uint16_t port = 25;
    std::vector<DoctorCheck> leading;
    Answer a;
    Answer aaaa;
};

std::string local_host_name() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
        return "localhost";
    }
    return std::string(name.data());
}

}  // namespace

int run_doctor(const Config& config, const DoctorRequest& request, std::ostream& out,
               std::ostream& err) {
    if (const std::string problem = doctor_request_error(request); !problem.empty()) {
        err << "rdns-policyd doctor: " << problem << "\n";
        return 64;
    }
    const std::vector<std::string>& zones =
        request.dnsbl_given ? request.dnsbl : config.settings.doctor_dnsbl;
    std::vector<Audit> audits;

    // Outbound: what --postfix reads, or --ip and --helo.
    if (request.postfix) {
        const std::vector<std::string> names{"myhostname", "smtp_helo_name", "smtpd_banner",
                                             "smtp_bind_address", "smtp_bind_address6"};
        const PostconfValues values = postconf_values(request.postfix_dir, names);
        if (!values.ok) {
            err << "rdns-policyd doctor: " << values.error << "\n";
            return 64;
        }
        std::vector<std::string> addresses;
        for (const std::string& bind : {values.values[3], values.values[4]}) {
            if (!bind.empty()) {
                addresses.push_back(bind);
            }
        }
        if (addresses.empty() && !request.ip.empty()) {
            addresses.push_back(request.ip);
        }
        if (addresses.empty()) {
            err << "rdns-policyd doctor: this Postfix binds no address (smtp_bind_address, "
                   "smtp_bind_address6 are empty); give the address it sends from with --ip IP\n";
            return 64;
        }
        SmtpReply banner;
        banner.lines.push_back(values.values[2]);
        for (const std::string& address : addresses) {
            const auto ip = parse_ip(address);
            if (!ip) {
                err << "rdns-policyd doctor: Postfix's bind address \"" << sanitized(address)
                    << "\" is not an IP address\n";
                return 64;
            }
            Audit audit;
            audit.server.target =
                "--postfix" + (request.postfix_dir.empty() ? "" : " " + request.postfix_dir);
            audit.address = normalise(*ip);
            audit.server.helo = sanitized(values.values[1]);
            audit.server.banner = sanitized(announced_name(banner));
            audit.server.ehlo = sanitized(values.values[0]);
            audits.push_back(std::move(audit));
        }
    } else if (!request.ip.empty()) {
        Audit audit;
        audit.server.target = "--ip " + request.ip;
        audit.address = normalise(*parse_ip(request.ip));
        audit.server.helo = sanitized(request.helo);
        audits.push_back(std::move(audit));
    }

    boost::asio::io_context io(1);
    Stack stack(io, config, Stack::Caches::off);
    int outstanding = 0;
    const auto ask = [&](const std::string& name, RrType type, Answer& into) {
        ++outstanding;
        stack.lookup().lookup(name, type, [&into, &outstanding](const Answer& answer) {
            into = answer;
            --outstanding;
        });
    };
    const auto all_answered = [&] { return outstanding == 0; };

    // Inbound targets: HOST, and the MX hosts of each domain.
    std::vector<HostJob> jobs;
    for (const std::string& text : request.hosts) {
        HostJob job;
        const HostPort host = *parse_host_port(text, request.port);
        job.target = sanitized(text);
        job.host = host.host;
        job.port = host.port;
        jobs.push_back(std::move(job));
    }
    std::vector<Answer> mx(request.mx_domains.size());
    for (std::size_t i = 0; i < request.mx_domains.size(); ++i) {
        ask(request.mx_domains[i], RrType::mx, mx[i]);
    }
    run_until(io, all_answered);
    for (std::size_t i = 0; i < request.mx_domains.size(); ++i) {
        const std::string& domain = request.mx_domains[i];
        const Answer& answer = mx[i];
        HostJob job;
        job.target = "MX of " + domain;
        job.port = request.port;
        switch (answer.status) {
            case Status::ok: {
                std::string list;
                for (const std::string& name : answer.names) {
                    list += (list.empty() ? "" : ", ") + name;
                }
                for (std::size_t n = 0; n < answer.names.size(); ++n) {
                    HostJob host = job;
                    host.host = answer.names[n];
                    host.target += " (" + std::to_string(n + 1) + " of " +
                                   std::to_string(answer.names.size()) + ")";
                    if (n == 0) {
                        host.leading.push_back(check("mx", "MX", domain, Verdict::pass,
                                                     "MX hosts, lowest preference first: " + list));
                    }
                    jobs.push_back(std::move(host));
                }
                continue;
            }
            case Status::nodata:
                // RFC 5321 5.1: without an MX, the domain itself is the mail host.
                job.host = domain;
                job.leading.push_back(
                    check("mx", "MX", domain, Verdict::warn,
                          "no MX record (or a null MX: no mail wanted); senders fall back to the "
                          "domain's own address (RFC 5321 5.1)",
                          "Publish an MX record naming the mail host, e.g. \"" + domain +
                              ". IN MX 10 mail." + domain +
                              ".\", or a null MX (RFC 7505) if the "
                              "domain takes no mail."));
                jobs.push_back(std::move(job));
                continue;
            case Status::nxdomain:
            case Status::temperror: {
                Audit audit;
                audit.server.target = job.target;
                const bool gone = answer.status == Status::nxdomain;
                audit.leading.push_back(check(
                    "mx", "MX", domain, gone ? Verdict::fail : Verdict::could_not_check,
                    gone ? domain + " does not exist in DNS"
                         : "the MX lookup failed temporarily (" + sanitized(answer.error) + ")",
                    gone ? "Check the domain's spelling, and that its DNS is delegated." : ""));
                audits.push_back(std::move(audit));
                continue;
            }
        }
    }
    for (HostJob& job : jobs) {
        if (!parse_ip(job.host)) {
            ask(job.host, RrType::a, job.a);
            ask(job.host, RrType::aaaa, job.aaaa);
        }
    }
    run_until(io, all_answered);
    for (HostJob& job : jobs) {
        std::vector<IpAddress> addresses;
        if (const auto ip = parse_ip(job.host)) {
            addresses.push_back(*ip);
        }
        for (const Answer* answer : {&job.a, &job.aaaa}) {
            for (const auto& address : answer->addresses) {
                addresses.push_back(normalise(address));
            }
        }
        if (addresses.empty()) {
            Audit audit;
            audit.server.target =
                job.target == job.host ? job.target : job.target + ": " + job.host;
            audit.leading = job.leading;
            const bool temporary =
                job.a.status == Status::temperror || job.aaaa.status == Status::temperror;
            audit.leading.push_back(
                check("address", "A/AAAA of host", job.host,
                      temporary ? Verdict::could_not_check : Verdict::fail,
                      temporary ? "the address lookup failed temporarily"
                                : job.host + " has no A or AAAA record",
                      temporary ? "" : "Add an A (and AAAA) record for " + job.host + "."));
            audits.push_back(std::move(audit));
            continue;
        }
        for (std::size_t n = 0; n < addresses.size(); ++n) {
            Audit audit;
            audit.server.target =
                job.target == job.host ? job.target : job.target + ": " + job.host;
            audit.server.port = job.port;
            audit.address = addresses[n];
            if (n == 0) {
                audit.leading = job.leading;
            }
            audits.push_back(std::move(audit));
        }
    }

    // Connect to every inbound server at once.
    const std::string ehlo_as = request.ehlo_as.empty() ? local_host_name() : request.ehlo_as;
    ProbeLimits limits;
    limits.reply = request.timeout;
    for (Audit& audit : audits) {
        if (audit.address && audit.server.port != 0) {
            ++outstanding;
            probe_smtp(io, {*audit.address, audit.server.port}, ehlo_as, limits,
                       [&audit, &outstanding](ProbeResult result) {
                           audit.probe = std::move(result);
                           --outstanding;
                       });
        }
    }
    run_until(io, all_answered);
    for (Audit& audit : audits) {
        if (audit.probe) {
            audit.server.banner = sanitized(announced_name(audit.probe->greeting));
            if (audit.probe->ehlo.code == 250) {
                audit.server.ehlo = sanitized(announced_name(audit.probe->ehlo));
            }
        }
    }

    // One assessment per name each server shows (the PTR's facts come with
    // every one), and its blocklists.
    for (Audit& audit : audits) {
        if (!audit.address) {
            continue;
        }
        std::vector<std::string> names;
        for (const std::string* name :
             {&audit.server.helo, &audit.server.banner, &audit.server.ehlo}) {
            if (!name->empty() && std::find(names.begin(), names.end(), *name) == names.end()) {
                names.push_back(*name);
            }
        }
        if (names.empty()) {
            names.emplace_back();
        }
        for (const std::string& name : names) {
            ++outstanding;
            Facts& into = audit.facts[name];
            stack.assessor().assess(*audit.address, name, [&into, &outstanding](Facts result) {
                into = std::move(result);
                --outstanding;
            });
        }
        audit.listings.reserve(zones.size());
        for (const std::string& zone : zones) {
            audit.listings.push_back({zone, {}});
            const Blocklist list{zone, zone, BlocklistTarget::client, {}};
            ++outstanding;
            stack.lookup().lookup(blocklist_query(list, *audit.address, {}), resolver::RrType::a,
                                  [&listing = audit.listings.back().listing, list,
                                   &outstanding](const resolver::Answer& answer) {
                                      listing = read_listing(list, answer);
                                      --outstanding;
                                  });
        }
    }
    run_until(io, all_answered);
    if (!all_answered()) {
        err << "rdns-policyd doctor: the assessment did not complete\n";
        return 3;
    }

    std::vector<DoctorServer> servers;
    for (Audit& audit : audits) {
        DoctorServer& server = audit.server;
        server.checks = std::move(audit.leading);
        if (audit.address) {
            const IpAddress& ip = *audit.address;
            server.ip = ip.to_string();
            if (audit.probe) {
                append(server.checks,
                       {judge_probe(*audit.probe, (ip.is_v6() ? "[" + server.ip + "]" : server.ip) +
                                                      ":" + std::to_string(server.port))});
            }
            const Facts& any = audit.facts.begin()->second;
            const std::string_view ptr = representative_ptr(any);
            const std::string reason = !ptr.empty() && stack.options().generic
                                           ? stack.options().generic->explain(ptr, ip)
                                           : "";
            append(server.checks, judge_ptr(any, ip, reason));
            const bool outbound = server.port == 0;
            if (outbound) {
                append(server.checks,
                       judge_name(NameRole::helo, audit.facts[server.helo], ip, server.helo));
            }
            if (!server.banner.empty() || (audit.probe && audit.probe->greeting.code != 0)) {
                append(server.checks,
                       judge_name(NameRole::banner, audit.facts[server.banner], ip, server.banner));
            }
            // The EHLO reply's name is judged when it says something the
            // banner did not.
            if (!server.ehlo.empty() && server.ehlo != server.banner) {
                append(server.checks,
                       judge_name(NameRole::ehlo, audit.facts[server.ehlo], ip, server.ehlo));
            }
            append(server.checks, judge_listings(ip, audit.listings));
        }
        servers.push_back(std::move(server));
    }
    stack.shutdown();
    io.restart();
    io.run();
    if (request.json) {
        write_doctor_json(out, servers);
    } else {
        write_doctor_text(out, servers);
    }
    return doctor_exit_status(servers);
}

}  // namespace policyd
