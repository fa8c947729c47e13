// Doctor: `rdns-policyd doctor --ip IP --helo NAME` audits a mail server's
// own identity the way receivers (and an rdns-policyd receiver) will judge
// it: PTR present and a real name, forward-confirmed, not a pool or
// provider default, the HELO a FQDN that resolves to the IP and belongs
// with the PTR, the IP on no DNS blocklist. Each check is pass, warn, fail
// or could-not-check with its evidence, and every problem comes with one
// concrete remedy. For outbound-only servers, which accept no connection;
// issue 11 adds the inbound checks (banner, EHLO), --mx and --postfix.
//
// Contract: judge_identity() is pure (facts in, checks out); run_doctor()
// runs one assessment like explain (the configuration's resolver, caches
// off) and returns the exit status for monitoring: 0 every check passed,
// 1 warnings only, 2 a failure, 3 could not check (a DNS failure, never a
// failure). A temporary DNS failure is never "fail".
#pragma once

#include <array>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/base/address.hpp"
#include "policyd/checks/blocklists.hpp"
#include "policyd/checks/facts.hpp"
#include "policyd/config/settings.hpp"

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

struct DoctorRequest {
    std::string ip;
    std::string helo;
    // Blocklist zones to look the IP up in; empty with dnsbl_given = false
    // means [doctor] dnsbl from the configuration.
    std::vector<std::string> dnsbl;
    bool dnsbl_given = false;
    bool json = false;
};

// One blocklist zone and what it said about the IP.
struct ZoneListing {
    std::string zone;
    Listing listing;
};

// The checks for one (IP, HELO) from its facts. `generic_reason` is the
// classifier's account of generic_ptr ("dynamic: keyword dsl"), or "".
std::vector<DoctorCheck> judge_identity(const Facts& facts, const IpAddress& ip,
                                        std::string_view helo, std::string_view generic_reason,
                                        const std::vector<ZoneListing>& zones);

// 0, 1, 2 or 3 as the header says.
int doctor_exit_status(const std::vector<DoctorCheck>& checks);

void write_doctor_text(std::ostream& out, std::string_view ip, std::string_view helo,
                       const std::vector<DoctorCheck>& checks);
void write_doctor_json(std::ostream& out, std::string_view ip, std::string_view helo,
                       const std::vector<DoctorCheck>& checks);

int run_doctor(const Config& config, const DoctorRequest& request, std::ostream& out,
               std::ostream& err);

}  // namespace policyd
