// Unit tests for policyd/tools/doctor.hpp: facts to checks, verdicts to an
// exit status, and the two reports.
#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "policyd/tools/doctor.hpp"

using namespace policyd;

namespace {

std::map<std::string, Verdict> verdicts(const std::vector<DoctorCheck>& checks) {
    std::map<std::string, Verdict> out;
    for (const auto& c : checks) {
        out[c.id] = c.verdict;
        // Every problem says what to do; nothing else does.
        CHECK((c.verdict == Verdict::warn || c.verdict == Verdict::fail) == !c.remedy.empty());
    }
    return out;
}

Facts aligned() {
    Facts facts;
    facts.iprev = Iprev::pass;
    facts.ptr_names = {"mail.example.com"};
    facts.verified_names = facts.ptr_names;
    facts.ptr_tld = PtrTld::known;
    facts.generic_ptr = GenericPtr::not_generic;
    facts.helo_syntax = HeloSyntax::fqdn;
    facts.helo_forward = HeloForward::pass;
    facts.helo_ptr_alignment = Alignment::exact;
    return facts;
}

}  // namespace

TEST_CASE("doctor: an aligned server passes every check", "[doctor]") {
    const auto ip = *parse_ip("192.0.2.1");
    const auto checks = judge_identity(aligned(), ip, "mail.example.com", "", {});
    for (const auto& [id, verdict] : verdicts(checks)) {
        INFO(id);
        CHECK(verdict == Verdict::pass);
    }
    CHECK(checks.size() == 7);
    CHECK(doctor_exit_status(checks) == 0);
}

TEST_CASE("doctor: each problem, its verdict and the exit status", "[doctor]") {
    const auto ip = *parse_ip("192.0.2.1");
    Facts facts = aligned();
    SECTION("no PTR: fail, and the remedy names who owns the address") {
        facts.iprev = Iprev::permerror;
        facts.ptr_names.clear();
        facts.verified_names.clear();
        facts.helo_ptr_alignment = Alignment::na;
        const auto checks = judge_identity(facts, ip, "mail.example.com", "", {});
        CHECK(verdicts(checks)["ptr"] == Verdict::fail);
        CHECK(checks.front().remedy.find("not your domain's DNS host") != std::string::npos);
        CHECK(doctor_exit_status(checks) == 2);
    }
    SECTION("a DNS failure is could-not-check, never fail") {
        facts.iprev = Iprev::temperror;
        facts.verified_names.clear();
        facts.helo_forward = HeloForward::temperror;
        facts.helo_ptr_alignment = Alignment::na;
        const auto v = verdicts(judge_identity(facts, ip, "mail.example.com", "", {}));
        CHECK(v.at("ptr") == Verdict::could_not_check);
        CHECK(v.at("fcrdns") == Verdict::could_not_check);
        CHECK(v.at("helo-resolves") == Verdict::could_not_check);
        CHECK(v.count("helo-ptr") == 0);
        CHECK(doctor_exit_status(judge_identity(facts, ip, "mail.example.com", "", {})) == 3);
    }
    SECTION("a generic PTR and an org-domain HELO are warnings") {
        facts.generic_ptr = GenericPtr::dynamic;
        facts.helo_ptr_alignment = Alignment::org_domain;
        const auto checks =
            judge_identity(facts, ip, "out.example.com", "dynamic: keyword dsl", {});
        const auto v = verdicts(checks);
        CHECK(v.at("ptr-generic") == Verdict::warn);
        CHECK(v.at("helo-ptr") == Verdict::warn);
        CHECK(doctor_exit_status(checks) == 1);
    }
    SECTION("a HELO that is no FQDN names the setting and the name to use") {
        facts.helo_syntax = HeloSyntax::non_fqdn;
        facts.helo_forward = HeloForward::na;
        facts.helo_ptr_alignment = Alignment::na;
        const auto checks = judge_identity(facts, ip, "mailhost", "", {});
        const auto& helo = checks[4];
        CHECK(helo.id == "helo-fqdn");
        CHECK(helo.verdict == Verdict::fail);
        CHECK(helo.remedy.find("smtp_helo_name") != std::string::npos);
        CHECK(helo.remedy.find("mail.example.com") != std::string::npos);
    }
    SECTION("blocklists, one zone each") {
        const std::vector<ZoneListing> zones = {
            {"a.example", {ListingStatus::listed, "127.0.0.2"}},
            {"b.example", {ListingStatus::not_listed, {}}},
            {"c.example", {ListingStatus::temperror, {}}},
        };
        const auto checks = judge_identity(facts, ip, "mail.example.com", "", zones);
        const auto v = verdicts(checks);
        CHECK(v.at("dnsbl:a.example") == Verdict::fail);
        CHECK(v.at("dnsbl:b.example") == Verdict::pass);
        CHECK(v.at("dnsbl:c.example") == Verdict::could_not_check);
        // A failure outranks what could not be checked.
        CHECK(doctor_exit_status(checks) == 2);
    }
}

TEST_CASE("doctor: an IPv6 server is told about AAAA records", "[doctor]") {
    const auto ip = *parse_ip("2001:db8::1");
    Facts facts = aligned();
    facts.iprev = Iprev::fail;
    facts.verified_names.clear();
    facts.helo_ptr_alignment = Alignment::na;
    const auto checks = judge_identity(facts, ip, "mail.example.com", "", {});
    std::ostringstream text;
    write_doctor_text(text, "2001:db8::1", "mail.example.com", checks);
    CHECK(text.str().find("Add an AAAA record mail.example.com -> 2001:db8::1") !=
          std::string::npos);
    CHECK(text.str().find("To fix:") != std::string::npos);
    CHECK(text.str().find("Result: receivers will refuse or distrust this server") !=
          std::string::npos);
    std::ostringstream json;
    write_doctor_json(json, "2001:db8::1", "mail.example.com", checks);
    CHECK(json.str().find("\"exit_status\"") != std::string::npos);
    CHECK(json.str().find("\"fcrdns\"") != std::string::npos);
}
