// Doctor: `rdns-policyd doctor` audits a mail server's own identity the way
// receivers (and an rdns-policyd receiver) will judge it: PTR present and a
// real name, forward-confirmed, not a pool or provider default; the banner,
// the EHLO reply's name and the HELO each a FQDN that resolves to the IP and
// belongs with the PTR; the IP on no DNS blocklist. Each check is pass,
// warn, fail or could-not-check with its evidence, and every problem comes
// with one concrete remedy. Inbound (HOST, --mx DOMAIN) it connects and
// reads what the server announces (smtp_probe.hpp); outbound (--ip --helo,
// --postfix) it connects to nothing.
//
// Contract: the judge_*() functions are pure (facts in, checks out);
// run_doctor() resolves the targets, probes them in parallel, runs one
// assessment per name like explain (the configuration's resolver, caches
// off) and returns the exit status for monitoring: 0 every check passed,
// 1 warnings only, 2 a failure, 3 could not check (a DNS failure, never a
// failure). A temporary DNS failure is never "fail".
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/blocklists.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/tools/smtp_probe.hpp"

namespace policyd {

enum class Verdict { pass, warn, fail, could_not_check };
inline constexpr std::array<std::string_view, 4> kVerdictWords{"pass", "warn", "fail",
                                                               "could-not-check"};

struct DoctorCheck {
    std::string id;         // "fcrdns", "dnsbl:zen.example"
    std::string component;  // what the admin sees in the table: "PTR", "HELO", ...
    std::string value;      // the name or address looked at
    Verdict verdict = Verdict::pass;
    std::string evidence;  // what was found, in one line
    std::string remedy;    // for warn and fail: who changes what; else ""
};

// What to audit. Every kind may be given at once; each address found is one
// server of the report.
struct DoctorRequest {
    // Inbound, connected to: HOST[:PORT] (a name: every A and AAAA of it), and
    // the MX hosts of --mx DOMAIN, lowest preference first.
    std::vector<std::string> hosts;
    std::vector<std::string> mx_domains;
    std::uint16_t port = 25;           // --port: for HOST without one, and for the MX hosts
    std::string ehlo_as;               // --ehlo-as NAME; else this machine's host name
    std::chrono::seconds timeout{30};  // --timeout: for the greeting and the EHLO reply
    // Outbound, not connected to: --ip IP --helo NAME, or what --postfix
    // [DIR] reads with postconf (an --ip given too supplies the address when
    // Postfix binds none).
    std::string ip;
    std::string helo;
    bool postfix = false;
    std::string postfix_dir;  // "" the default configuration
    // Blocklist zones to look the IP up in; empty with dnsbl_given = false
    // means [doctor] dnsbl from the configuration.
    std::vector<std::string> dnsbl;
    bool dnsbl_given = false;
    bool json = false;
};

// Reads the doctor option at args[i] into `request`, moving i past its value:
// taken, not_mine (not a doctor option: the caller goes on), or error with
// one line in `error`. HOST arguments are anything not starting with "-".
enum class OptionResult { taken, not_mine, error };
OptionResult doctor_option(const std::vector<std::string_view>& args, std::size_t& i,
                           DoctorRequest& request, std::string& error);
// "" when the request names something to audit, else what is missing.
std::string doctor_request_error(const DoctorRequest& request);

// HOST[:PORT] as typed: "mail.example.com", "mail.example.com:2525",
// "192.0.2.1:25", "[2001:db8::1]:25", or a bare IPv6 address.
struct HostPort {
    std::string host;  // a name (lower case) or an address
    std::uint16_t port = 25;
};
std::optional<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port);

// One blocklist zone and what it said about the IP.
struct ZoneListing {
    std::string zone;
    Listing listing;
};

// The names a server shows, each judged on its own against its address:
// the HELO it sends, the host its 220 greeting names, the host its EHLO
// reply names. Each has its own check ids ("helo-fqdn", "banner-fqdn",
// "ehlo-fqdn", ...) and its own remedy (smtp_helo_name, smtpd_banner,
// myhostname).
enum class NameRole { helo, banner, ehlo };

// The PTR checks (ptr, ptr-fqdn, fcrdns, ptr-generic). `generic_reason` is
// the classifier's account of generic_ptr ("dynamic: keyword dsl"), or "".
std::vector<DoctorCheck> judge_ptr(const Facts& facts, const IpAddress& ip,
                                   std::string_view generic_reason);
// One name's checks, from the facts of an assessment with that name as the
// HELO: a FQDN, resolves to the IP, belongs with the PTR.
std::vector<DoctorCheck> judge_name(NameRole role, const Facts& facts, const IpAddress& ip,
                                    std::string_view name);
std::vector<DoctorCheck> judge_listings(const IpAddress& ip, const std::vector<ZoneListing>& zones);
// The "smtp" check: did the server greet and answer EHLO.
DoctorCheck judge_probe(const ProbeResult& probe, std::string_view endpoint);

// judge_ptr, judge_name(helo) and judge_listings: the outbound audit.
std::vector<DoctorCheck> judge_identity(const Facts& facts, const IpAddress& ip,
                                        std::string_view helo, std::string_view generic_reason,
                                        const std::vector<ZoneListing>& zones);

// One audited server: an address, and what was found there.
struct DoctorServer {
    std::string target;      // as asked: "mail.example.com", "MX of example.com", "--postfix"
    std::string ip;          // "" when the target has no address
    std::uint16_t port = 0;  // 0: not connected to (outbound)
    std::string helo;        // the names it shows; "" for none
    std::string banner;
    std::string ehlo;
    std::vector<DoctorCheck> checks;
};

// 0, 1, 2 or 3 as the header says; of several servers, the worst, with a
// failure worse than could-not-check, and that worse than warnings.
int doctor_exit_status(const std::vector<DoctorCheck>& checks);
int doctor_exit_status(const std::vector<DoctorServer>& servers);

void write_doctor_text(std::ostream& out, const std::vector<DoctorServer>& servers);
// {"exit_status": N, "servers": [{"target", "ip", "port", "helo", "banner",
// "ehlo", "checks": [{"id", "component", "value", "verdict", "evidence",
// "remedy"}], "exit_status"}]}
void write_doctor_json(std::ostream& out, const std::vector<DoctorServer>& servers);

// Audits what `request` names and writes the report; returns the exit
// status, or 64 for a request that cannot be made (an address that is not
// one, postconf failing), with the reason on `err`.
int run_doctor(const Config& config, const DoctorRequest& request, std::ostream& out,
               std::ostream& err);

}  // namespace policyd
