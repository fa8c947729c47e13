#!/usr/bin/env python3
"""End-to-end: rdns-policyd doctor audits a sending server's identity
(issue 11, the outbound audit: --ip and --helo), through the real binary
and real DNS: ldns-testns on loopback serves the servers below, under real
top-level domains (a .test name would rightly fail "PTR is a FQDN"), and
a blocklist bl.example.net. No packet goes to those addresses; only the
DNS questions about them go to ldns-testns. Each setup's verdicts,
remedies, --json and exit status are asserted.

Usage: test_doctor.py PATH-TO-rdns-policyd
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    POLICY_FILE,
    DnsFixture,
    Runner,
    check,
    check_equal,
    main_with_dns,
)
from procs import START_TIMEOUT  # noqa: E402
from test_known_senders import TTL, entry, zone_text  # noqa: E402

BLOCKLIST = "bl.example.net"
# The servers: each client's PTR names a host whose A record is the client.
SERVERS = [
    {"client": "198.51.100.10", "ptr": "mail.example.com"},      # aligned, listed
    {"client": "198.51.100.11", "ptr": "smtp.example.org"},      # aligned
    {"client": "198.51.100.14", "ptr": "198-51-100-14.dyn.example.net"},  # a pool name
    {"client": "203.0.113.99", "ptr": "other.example.com"},  # outside the /24 of .13
]
NAMES = [
    {"name": f"10.100.51.198.{BLOCKLIST}", "a": ["127.0.0.2"], "note": "198.51.100.10 listed"},
    {"name": "out.example.org", "a": ["203.0.113.7"], "note": "another host's name"},
]


def write_zone(ctx) -> str:
    # 198.51.100.13's PTR is other.example.com, which is 203.0.113.99.
    # Entries are tried in order: before the catch-all NXDOMAIN at the end.
    catch_all = "; Anything else does not exist."
    extra = entry("13.100.51.198.in-addr.arpa.", "PTR",
                  [f"13.100.51.198.in-addr.arpa. {TTL} IN PTR other.example.com."], [])
    text = zone_text(SERVERS, NAMES)
    check(text.count(catch_all) == 1, "the generated zone's catch-all")
    text = text.replace(catch_all, extra + "\n" + catch_all)
    path = os.path.join(ctx.workdir, "doctor.testns")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path

runner = Runner("test_doctor")


class Context:
    binary: str
    workdir: str
    dns: DnsFixture


def doctor(ctx: Context, ip: str, helo: str, *extra: str) -> tuple[int, dict]:
    """Exit status and the --json report; the text report must agree."""
    base = [ctx.binary, "doctor", "--config", POLICY_FILE, *ctx.dns.daemon_args(),
            "--ip", ip, "--helo", helo, "--dnsbl", BLOCKLIST, *extra]
    result = subprocess.run([*base, "--json"], capture_output=True, text=True,
                            timeout=START_TIMEOUT)
    check(result.stdout.strip() != "", f"doctor printed nothing; stderr {result.stderr!r}")
    whole = json.loads(result.stdout)
    check_equal(whole["exit_status"], result.returncode, "the report's exit status")
    check_equal(len(whole["servers"]), 1, "servers audited")
    report = whole["servers"][0]
    check_equal((report["ip"], report["port"], report["helo"]), (ip, 0, helo),
                "what was audited")
    check_equal(report["exit_status"], result.returncode, "the server's exit status")
    text = subprocess.run(base, capture_output=True, text=True, timeout=START_TIMEOUT)
    check_equal(text.returncode, result.returncode, "text and --json exit alike")
    for c in report["checks"]:
        check(f"{c['verdict']}: {c['evidence']}" in text.stdout,
              f"the text report lacks {c['id']}:\n{text.stdout}")
        if "remedy" in c:
            check(c["remedy"] in text.stdout, f"the text report lacks the remedy of {c['id']}")
    return result.returncode, report


def verdicts(report: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in report["checks"]}


def remedy(report: dict, check_id: str) -> str:
    return next(c.get("remedy", "") for c in report["checks"] if c["id"] == check_id)


@runner.test
def aligned_server_on_a_blocklist(ctx: Context) -> None:
    status, report = doctor(ctx, "198.51.100.10", "mail.example.com")
    check_equal(verdicts(report), {
        "ptr": "pass", "ptr-fqdn": "pass", "fcrdns": "pass", "ptr-generic": "pass",
        "helo-fqdn": "pass", "helo-resolves": "pass", "helo-ptr": "pass",
        f"dnsbl:{BLOCKLIST}": "fail",
    }, "verdicts")
    check_equal(status, 2, "a listing is a failure")
    check("removal procedure" in remedy(report, f"dnsbl:{BLOCKLIST}"), "the remedy")


@runner.test
def aligned_server_all_good(ctx: Context) -> None:
    status, report = doctor(ctx, "198.51.100.11", "smtp.example.org")
    check(all(v == "pass" for v in verdicts(report).values()), f"verdicts {verdicts(report)}")
    check_equal(status, 0, "exit status")
    check(all("remedy" not in c for c in report["checks"]), "no remedy when all is well")


@runner.test
def helo_of_the_same_organisation_is_a_warning(ctx: Context) -> None:
    # out.example.org is another host of the PTR's domain, and not this one.
    status, report = doctor(ctx, "198.51.100.11", "out.example.org")
    v = verdicts(report)
    check_equal((v["helo-ptr"], v["helo-resolves"]), ("warn", "fail"), "alignment, forward")
    check_equal(status, 2, "exit status")


@runner.test
def no_ptr(ctx: Context) -> None:
    status, report = doctor(ctx, "198.51.100.12", "mail12.example.com")
    check_equal(verdicts(report)["ptr"], "fail", "PTR")
    check("not your domain's DNS host" in remedy(report, "ptr"), "who changes a PTR")
    check_equal(status, 2, "exit status")


@runner.test
def ptr_to_another_address(ctx: Context) -> None:
    status, report = doctor(ctx, "198.51.100.13", "other.example.com")
    v = verdicts(report)
    check_equal((v["fcrdns"], v["helo-resolves"]), ("fail", "fail"), "FCrDNS and HELO")
    check("A record other.example.com -> 198.51.100.13" in remedy(report, "fcrdns"),
          "the record to add")
    check_equal(status, 2, "exit status")


@runner.test
def helo_not_a_fqdn(ctx: Context) -> None:
    status, report = doctor(ctx, "198.51.100.11", "mailhost")
    check_equal(verdicts(report)["helo-fqdn"], "fail", "HELO")
    check("smtp_helo_name" in remedy(report, "helo-fqdn"), "where Postfix sets it")
    check("smtp.example.org" in remedy(report, "helo-fqdn"), "the name to use")
    check_equal(status, 2, "exit status")


@runner.test
def generic_ptr_is_a_warning(ctx: Context) -> None:
    status, report = doctor(ctx, "198.51.100.14", "198-51-100-14.dyn.example.net")
    v = verdicts(report)
    check_equal((v["ptr-generic"], v["fcrdns"], v["helo-ptr"]), ("warn", "pass", "pass"),
                "generic PTR, FCrDNS, HELO")
    evidence = next(c["evidence"] for c in report["checks"] if c["id"] == "ptr-generic")
    check("dynamic" in evidence, f"why: {evidence}")
    check_equal(status, 1, "warnings only")


@runner.test
def dns_timeout_is_could_not_check(ctx: Context) -> None:
    # 127.0.0.9's reverse zone never answers (the harness's silent socket):
    # never "fail". Its own address literal as HELO: a warning, no lookup.
    status, report = doctor(ctx, "127.0.0.9", "[127.0.0.9]")
    v = verdicts(report)
    check_equal(v["ptr"], "could-not-check", "PTR")
    check("fail" not in [v[k] for k in ("ptr", "fcrdns") if k in v], "no failure from a timeout")
    check_equal(status, 3, "exit status")


@runner.test
def bad_arguments_are_refused(ctx: Context) -> None:
    for args in (["--ip", "not-an-ip", "--helo", "x.example"], ["--helo", "x.example"],
                 ["--ip", "127.0.0.2", "--dnsbl", "no zone"], [],
                 ["--postfix", "/nonexistent/postfix-config"]):
        result = subprocess.run([ctx.binary, "doctor", "--config", POLICY_FILE,
                                 *ctx.dns.daemon_args(), *args],
                                capture_output=True, text=True, timeout=START_TIMEOUT)
        check_equal(result.returncode, 64, f"exit status of {args}")
        check(result.stderr.strip() != "", f"says why for {args}")


def main() -> int:
    return main_with_dns(runner, "rdns-doctor-", Context, zone=write_zone)


if __name__ == "__main__":
    sys.exit(main())
