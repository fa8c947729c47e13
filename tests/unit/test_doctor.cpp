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
    DoctorServer server;
    server.target = "--ip 2001:db8::1";
    server.ip = "2001:db8::1";
    server.helo = "mail.example.com";
    server.checks = checks;
    std::ostringstream text;
    write_doctor_text(text, {server});
    CHECK(text.str().find("Add an AAAA record mail.example.com -> 2001:db8::1") !=
          std::string::npos);
    CHECK(text.str().find("To fix:") != std::string::npos);
    CHECK(text.str().find("Result: receivers will refuse or distrust this server") !=
          std::string::npos);
    CHECK(text.str().find("Overall") == std::string::npos);  // one server: no summary
    std::ostringstream json;
    write_doctor_json(json, {server});
    CHECK(json.str().find("\"exit_status\" : 2") != std::string::npos);
    CHECK(json.str().find("\"servers\"") != std::string::npos);
    CHECK(json.str().find("\"fcrdns\"") != std::string::npos);
}

TEST_CASE("doctor: several servers, the worst one sets the exit status", "[doctor]") {
    const auto with = [](Verdict verdict) {
        DoctorServer server;
        server.checks.push_back({"x", "X", "v", verdict, "e", verdict == Verdict::pass ? "" : "r"});
        return server;
    };
    CHECK(doctor_exit_status(std::vector<DoctorServer>{}) == 0);
    CHECK(doctor_exit_status({with(Verdict::pass), with(Verdict::warn)}) == 1);
    CHECK(doctor_exit_status({with(Verdict::warn), with(Verdict::could_not_check)}) == 3);
    CHECK(doctor_exit_status({with(Verdict::could_not_check), with(Verdict::fail)}) == 2);
    CHECK(doctor_exit_status({with(Verdict::fail), with(Verdict::pass)}) == 2);
    std::ostringstream text;
    write_doctor_text(text, {with(Verdict::pass), with(Verdict::warn)});
    CHECK(text.str().find("Overall (2 servers): warnings") != std::string::npos);
}

TEST_CASE("doctor: each name a server shows has its own checks and remedy", "[doctor]") {
    const auto ip = *parse_ip("192.0.2.1");
    Facts facts = aligned();
    facts.helo_syntax = HeloSyntax::non_fqdn;
    const auto banner = judge_name(NameRole::banner, facts, ip, "mailhost");
    REQUIRE(banner.size() == 1);
    CHECK(banner[0].id == "banner-fqdn");
    CHECK(banner[0].component == "banner");
    CHECK(banner[0].verdict == Verdict::fail);
    CHECK(banner[0].remedy.find("myhostname") != std::string::npos);
    CHECK(banner[0].remedy.find("mail.example.com") != std::string::npos);
    const auto ehlo = judge_name(NameRole::ehlo, facts, ip, "mailhost");
    CHECK(ehlo[0].id == "ehlo-fqdn");
    CHECK(ehlo[0].component == "EHLO reply");
    const auto helo = judge_name(NameRole::helo, facts, ip, "mailhost");
    CHECK(helo[0].id == "helo-fqdn");
    CHECK(helo[0].remedy.find("smtp_helo_name") != std::string::npos);
    // A banner of the same organisation as the PTR: a warning.
    facts = aligned();
    facts.helo_ptr_alignment = Alignment::org_domain;
    const auto v = verdicts(judge_name(NameRole::banner, facts, ip, "mx.example.com"));
    CHECK(v.at("banner-ptr") == Verdict::warn);
    CHECK(v.at("banner-resolves") == Verdict::pass);
    // No name where one is needed: missing is a failure for a banner, could
    // not check for an outbound HELO nobody gave.
    facts.helo_syntax = HeloSyntax::missing;
    CHECK(verdicts(judge_name(NameRole::banner, facts, ip, "")).at("banner-fqdn") == Verdict::fail);
    CHECK(verdicts(judge_name(NameRole::helo, facts, ip, "")).at("helo-fqdn") ==
          Verdict::could_not_check);
}

TEST_CASE("doctor: what the SMTP probe found", "[doctor]") {
    ProbeResult probe;
    probe.status = ProbeStatus::refused;
    probe.error = "connect: Connection refused";
    DoctorCheck c = judge_probe(probe, "192.0.2.1:25");
    CHECK(c.verdict == Verdict::fail);
    CHECK(c.evidence == "connect: Connection refused");
    CHECK(c.remedy.find("firewall") != std::string::npos);
    probe.status = ProbeStatus::ok;
    probe.error.clear();
    probe.greeting = {554, {"mx.example.com no service here"}};
    CHECK(judge_probe(probe, "192.0.2.1:25").verdict == Verdict::warn);
    probe.greeting = {220, {"mx.example.com ESMTP", "more"}};
    probe.ehlo = {250, {"mx.example.com", "PIPELINING"}};
    probe.greeting_delay = std::chrono::milliseconds(6200);
    c = judge_probe(probe, "192.0.2.1:25");
    CHECK(c.verdict == Verdict::pass);
    CHECK(c.evidence == "220 greeting after 6.2 s (2 lines), EHLO answered 250");
    probe.ehlo = {502, {"no"}};
    CHECK(judge_probe(probe, "192.0.2.1:25").verdict == Verdict::warn);
}

TEST_CASE("doctor: HOST[:PORT] as typed", "[doctor]") {
    const auto parsed = [](std::string_view text) {
        const auto hp = parse_host_port(text, 2525);
        return hp ? hp->host + " " + std::to_string(hp->port) : std::string("-");
    };
    CHECK(parsed("Mail.Example.com.") == "mail.example.com 2525");
    CHECK(parsed("mail.example.com:25") == "mail.example.com 25");
    CHECK(parsed("192.0.2.1") == "192.0.2.1 2525");
    CHECK(parsed("192.0.2.1:587") == "192.0.2.1 587");
    CHECK(parsed("2001:db8::1") == "2001:db8::1 2525");
    CHECK(parsed("[2001:db8::1]:25") == "2001:db8::1 25");
    CHECK(parsed("[2001:db8::1]") == "2001:db8::1 2525");
    CHECK(parsed("::ffff:192.0.2.1") == "192.0.2.1 2525");
    for (const std::string_view bad :
         {"", "mail.example.com:", "mail.example.com:99999", "[2001:db8::1", "[192.0.2.1]:25",
          "[2001:db8::1]x", "bad name:25", "a:b:c", "mail..example.com"}) {
        INFO(bad);
        CHECK(parsed(bad) == "-");
    }
}

TEST_CASE("doctor: the command line's doctor options", "[doctor]") {
    const auto parse = [](std::vector<std::string_view> args, DoctorRequest& request) {
        std::string error;
        for (std::size_t i = 0; i < args.size(); ++i) {
            const auto result = doctor_option(args, i, request, error);
            if (result != OptionResult::taken) {
                return result == OptionResult::error ? error : "not mine: " + std::string(args[i]);
            }
        }
        return std::string();
    };
    DoctorRequest request;
    CHECK(parse({"--port", "2525", "mx.example.com", "[::1]:26", "--mx", "Example.COM.",
                 "--timeout", "5", "--postfix", "/etc/postfix-out", "--ehlo-as", "probe.example"},
                request) == "");
    CHECK(request.port == 2525);
    CHECK(request.hosts == std::vector<std::string>{"mx.example.com", "[::1]:26"});
    CHECK(request.mx_domains == std::vector<std::string>{"example.com"});
    CHECK(request.timeout == std::chrono::seconds(5));
    CHECK(request.postfix);
    CHECK(request.postfix_dir == "/etc/postfix-out");
    CHECK(request.ehlo_as == "probe.example");
    CHECK(doctor_request_error(request).empty());
    DoctorRequest other;
    CHECK(parse({"--postfix", "mx.example.com"}, other) == "");
    CHECK(other.postfix_dir.empty());  // a HOST, not a CONFIG_DIR
    CHECK(other.hosts == std::vector<std::string>{"mx.example.com"});
    for (const auto& bad : std::vector<std::vector<std::string_view>>{{"--port", "0"},
                                                                      {"--port"},
                                                                      {"--timeout", "3601"},
                                                                      {"--mx", "com"},
                                                                      {"--mx", "bad domain"},
                                                                      {"--dnsbl", "x"},
                                                                      {"bad host"},
                                                                      {"--ehlo-as", "a b"}}) {
        DoctorRequest r;
        CHECK_FALSE(parse(bad, r).empty());
    }
    DoctorRequest r;
    CHECK(parse({"--json"}, r) == "not mine: --json");
    CHECK(doctor_request_error(r).find("needs what to audit") != std::string::npos);
    r.helo = "mail.example.com";
    r.hosts = {"mx.example.com"};
    CHECK(doctor_request_error(r).find("--helo goes with --ip") != std::string::npos);
    r = {};
    r.ip = "not-an-ip";
    CHECK(doctor_request_error(r).find("not an IP address") != std::string::npos);
}
