#!/usr/bin/env python3
"""End-to-end: rdns-policyd doctor audits mail servers it connects to
(issue 11: HOST[:PORT], --mx DOMAIN, --postfix), through the real binary,
a real Postfix and real DNS.

One private Postfix listens on a row of loopback addresses, each smtpd with
its own myhostname and smtpd_banner (master.cf -o), and ldns-testns serves
each address's PTR and the names' records under real top-level domains.
The doctor connects to each, reads the greeting and the EHLO reply, QUITs,
and judges the names it heard against the address. A Python socket that
never greets stands for a tarpit. Each setup's verdicts, --json and exit
status are asserted.

Usage: test_doctor_inbound.py PATH-TO-rdns-policyd
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [E2E_DIR, os.path.join(os.path.dirname(E2E_DIR), "support")]

from harness import (  # noqa: E402
    POLICY_FILE,
    DnsFixture,
    Runner,
    SkipTest,
    check,
    check_equal,
    ipv6_loopback_available,
    main_with_dns,
)
from procs import START_TIMEOUT  # noqa: E402
from test_known_senders import TTL, entry, zone_text  # noqa: E402
from test_postfix import PostfixInstance  # noqa: E402

BLOCKLIST = "bl.example.net"
IPV6 = ipv6_loopback_available()
# address -> (PTR or None, myhostname, smtpd_banner or None for the default)
LISTENERS = {
    "127.0.0.21": ("mx21.example.com", "mx21.example.com", None),           # aligned
    "127.0.0.22": (None, "mx22.example.com", None),                         # no PTR
    "127.0.0.23": ("mx23.example.com", "mx23.example.com", None),           # PTR without A
    "127.0.0.24": ("mx24.example.com", "mx24.example.com", None),           # PTR to another IP
    "127.0.0.25": ("mx25.example.com", "mx25.example.com", "mail.other-org.net ESMTP"),
    "127.0.0.26": ("mx26.example.com", "mx26.example.com", "smtp.example.com ESMTP"),
    "127.0.0.27": ("mx27.example.com", "mailhost", None),                   # not a FQDN
    "127.0.0.28": ("127-0-0-28.dyn.example.net", "127-0-0-28.dyn.example.net", None),
    "127.0.0.29": ("static.29.0.0.127.clients.your-server.de",
                   "static.29.0.0.127.clients.your-server.de", None),
    "127.0.0.30": ("mx30.example.com", "mx30.example.com", None),           # listed
    "127.0.0.9": ("mx9.example.com", "mx9.example.com", None),              # DNS times out
}
if IPV6:
    LISTENERS["::1"] = ("mx6.example.com", "mx6.example.com", None)
SILENT_SERVER = "127.0.0.31"  # accepts, never greets
# Names with records of their own (the PTR names' addresses come from LISTENERS).
NAMES = [
    {"name": "mx22.example.com", "a": ["127.0.0.22"], "note": "a name, but no PTR to it"},
    {"name": "mx24.example.com", "a": ["203.0.113.24"], "note": "another network's address"},
    {"name": "mail.other-org.net", "a": ["127.0.0.25"], "note": "another organisation"},
    {"name": "smtp.example.com", "a": ["127.0.0.26"], "note": "the same organisation"},
    {"name": "mx27.example.com", "a": ["127.0.0.27"], "note": ""},
    {"name": f"30.0.0.127.{BLOCKLIST}", "a": ["127.0.0.2"], "note": "127.0.0.30 listed"},
    {"name": "nomx.example.com", "a": ["127.0.0.21"], "note": "a domain without MX"},
    {"name": "silent.example.com", "a": [SILENT_SERVER], "note": "the tarpit"},
]
# MX 20 first in the answer: the doctor must put MX 10 first.
MX_DOMAIN = "mxorder.example.com"
MX_HOSTS = [(20, "mx26.example.com"), (10, "mx21.example.com")]
V6_REVERSE = ipaddress.ip_address("::1").reverse_pointer + "."

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
syslog_name = postfix-doctor
mail_owner = postfix
setgid_group = postdrop
myhostname = mx21.example.com
mydomain = example.com
mydestination =
inet_interfaces = loopback-only
inet_protocols = {protocols}
biff = no
readme_directory = no
alias_maps =
alias_database =
local_recipient_maps =
default_transport = discard:
smtpd_peername_lookup = no
smtpd_relay_restrictions = reject_unauth_destination
# What --postfix reads: this Postfix sends from 127.0.0.21 as itself.
smtp_bind_address = 127.0.0.21
smtp_helo_name = $myhostname
"""

SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
proxymap  unix  -       -       n       -       -       proxymap
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class DoctorPostfix(PostfixInstance):
    """One smtpd per LISTENERS address, chroot off, on one free port."""

    def __init__(self, directory: str):
        super().__init__(directory, policy_port=0)

    def write_config(self) -> None:
        super().write_config()  # directories, and files replaced below
        with open(os.path.join(self.config_dir, "main.cf"), "w", encoding="ascii") as f:
            f.write(MAIN_CF.format(dir=self.dir, protocols="all" if IPV6 else "ipv4"))
        lines = []
        for address, (_, hostname, banner) in LISTENERS.items():
            options = f"-o myhostname={hostname}"
            if banner is not None:
                options += f" -o {{ smtpd_banner = {banner} }}"
            lines.append(f"{endpoint(address, self.smtp_port)} inet n - n - - smtpd {options}")
        with open(os.path.join(self.config_dir, "master.cf"), "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n" + SERVICES)

    def banner_ok(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.21", self.smtp_port), timeout=2) as s:
                    s.settimeout(2)
                    if s.recv(512).startswith(b"220 mx21.example.com"):
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False


class SilentServer:
    """Accepts on SILENT_SERVER and says nothing; closes what it accepted
    when the client does, or at exit."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((SILENT_SERVER, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        held = []
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                held.append(conn)
                self.accepted += 1
            except OSError:
                continue
        for conn in held:
            conn.close()

    def __enter__(self) -> "SilentServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


class Context:
    binary: str
    workdir: str
    dns: DnsFixture
    postfix: DoctorPostfix
    silent: SilentServer


def write_zone(ctx) -> str:
    # The PTRs of .23 (to a name without address) and .24 (to a name of
    # another address) are written here: zone_text() gives each sender's
    # PTR name the sender's address.
    own = ("127.0.0.23", "127.0.0.24")
    senders = [{"client": a, "ptr": ptr} for a, (ptr, _, _) in LISTENERS.items()
               if ptr is not None and a not in own]
    catch_all = "; Anything else does not exist."
    extra = [
        entry(f"{ipaddress.ip_address(a).reverse_pointer}.", "PTR",
              [f"{ipaddress.ip_address(a).reverse_pointer}. {TTL} IN PTR {LISTENERS[a][0]}."],
              [])
        for a in own
    ] + [
        entry(f"{MX_DOMAIN}.", "MX",
              [f"{MX_DOMAIN}. {TTL} IN MX {pref} {host}." for pref, host in MX_HOSTS], []),
    ]
    text = zone_text(senders, NAMES)
    check(text.count(catch_all) == 1, "the generated zone's catch-all")
    text = text.replace(catch_all, "\n".join(extra) + "\n" + catch_all)
    path = os.path.join(ctx.workdir, "doctor-inbound.testns")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def set_up(ctx: Context, stack: contextlib.ExitStack) -> bool:
    os.chmod(ctx.workdir, 0o755)  # Postfix's own processes run as postfix
    postfix = DoctorPostfix(os.path.join(ctx.workdir, "postfix"))
    stack.callback(postfix.stop)
    try:
        postfix.start()
    except AssertionError as error:
        maillog = os.path.join(postfix.dir, "maillog")
        log = open(maillog, encoding="utf-8", errors="replace").read() if os.path.exists(
            maillog) else ""
        print(f"FAIL set-up: {error}\n" + "\n".join(postfix.transcript[-3:]) + log[-3000:])
        return False
    ctx.postfix = postfix
    ctx.silent = stack.enter_context(SilentServer())
    return True


runner = Runner("test_doctor_inbound")


def doctor(ctx: Context, *args: str, timeout: float = START_TIMEOUT) -> tuple[int, dict]:
    """Exit status and the --json report; the text report must agree."""
    base = [ctx.binary, "doctor", "--config", POLICY_FILE, *ctx.dns.daemon_args(),
            "--port", str(ctx.postfix.smtp_port), "--dnsbl", BLOCKLIST,
            "--ehlo-as", "doctor.example.org", *args]
    result = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=timeout)
    check(result.stdout.strip() != "", f"doctor printed nothing; stderr {result.stderr!r}")
    report = json.loads(result.stdout)
    check_equal(report["exit_status"], result.returncode, "the report's exit status")
    text = subprocess.run(base, capture_output=True, text=True, timeout=timeout)
    check_equal(text.returncode, result.returncode, "text and --json exit alike")
    for server in report["servers"]:
        for c in server["checks"]:
            check(f"{c['verdict']}: {c['evidence']}" in text.stdout,
                  f"the text report lacks {c['id']}:\n{text.stdout}")
            if "remedy" in c:
                check(c["remedy"] in text.stdout, f"the text report lacks the remedy of {c['id']}")
    return result.returncode, report


def one(ctx: Context, address: str) -> tuple[int, dict]:
    status, report = doctor(ctx, endpoint(address, ctx.postfix.smtp_port))
    check_equal(len(report["servers"]), 1, "servers")
    return status, report["servers"][0]


def verdicts(server: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in server["checks"]}


def remedy(server: dict, check_id: str) -> str:
    return next(c.get("remedy", "") for c in server["checks"] if c["id"] == check_id)


@runner.test
def aligned(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.21")
    check_equal((server["banner"], server["ehlo"], server["port"]),
                ("mx21.example.com", "mx21.example.com", ctx.postfix.smtp_port), "names heard")
    check_equal(verdicts(server), {
        "smtp": "pass", "ptr": "pass", "ptr-fqdn": "pass", "fcrdns": "pass",
        "ptr-generic": "pass", "banner-fqdn": "pass", "banner-resolves": "pass",
        "banner-ptr": "pass", f"dnsbl:{BLOCKLIST}": "pass",
    }, "verdicts")
    check_equal(status, 0, "exit status")


@runner.test
def no_ptr(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.22")
    v = verdicts(server)
    check_equal((v["smtp"], v["ptr"], v["banner-resolves"]), ("pass", "fail", "pass"), "verdicts")
    check("not your domain's DNS host" in remedy(server, "ptr"), "who changes a PTR")
    check_equal(status, 2, "exit status")


@runner.test
def ptr_without_address(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.23")
    v = verdicts(server)
    check_equal((v["ptr"], v["fcrdns"], v["banner-resolves"]), ("pass", "fail", "fail"),
                "verdicts")
    check("A record mx23.example.com -> 127.0.0.23" in remedy(server, "fcrdns"), "the record")
    check_equal(status, 2, "exit status")


@runner.test
def ptr_to_another_address(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.24")
    v = verdicts(server)
    check_equal((v["fcrdns"], v["banner-resolves"]), ("fail", "fail"), "verdicts")
    evidence = next(c["evidence"] for c in server["checks"] if c["id"] == "banner-resolves")
    check("not to 127.0.0.24" in evidence, evidence)
    check_equal(status, 2, "exit status")


@runner.test
def banner_of_another_organisation(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.25")
    check_equal((server["banner"], server["ehlo"]), ("mail.other-org.net", "mx25.example.com"),
                "banner and EHLO reply differ")
    v = verdicts(server)
    check_equal((v["fcrdns"], v["banner-resolves"], v["banner-ptr"]), ("pass", "pass", "fail"),
                "banner")
    check_equal((v["ehlo-fqdn"], v["ehlo-resolves"], v["ehlo-ptr"]), ("pass", "pass", "pass"),
                "the EHLO reply is judged on its own")
    check("myhostname" in remedy(server, "banner-ptr"), "where Postfix sets the banner")
    check_equal(status, 2, "exit status")


@runner.test
def banner_of_the_same_organisation_is_a_warning(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.26")
    v = verdicts(server)
    check_equal((v["banner-resolves"], v["banner-ptr"], v["ehlo-ptr"]), ("pass", "warn", "pass"),
                "verdicts")
    check_equal(status, 1, "warnings only")


@runner.test
def banner_not_a_fqdn(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.27")
    check_equal(server["banner"], "mailhost", "banner")
    v = verdicts(server)
    check_equal((v["fcrdns"], v["banner-fqdn"]), ("pass", "fail"), "verdicts")
    check("mx27.example.com" in remedy(server, "banner-fqdn"), "the name to use")
    check_equal(status, 2, "exit status")


@runner.test
def generic_and_provider_default_ptrs_warn(ctx: Context) -> None:
    for address, kind in (("127.0.0.28", "dynamic"), ("127.0.0.29", "provider-default")):
        status, server = one(ctx, address)
        v = verdicts(server)
        check_equal((v["ptr-generic"], v["fcrdns"], v["banner-ptr"]), ("warn", "pass", "pass"),
                    f"{address}: verdicts")
        evidence = next(c["evidence"] for c in server["checks"] if c["id"] == "ptr-generic")
        check(kind in evidence, f"{address}: why: {evidence}")
        check_equal(status, 1, f"{address}: warnings only")


@runner.test
def listed_on_a_blocklist(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.30")
    v = verdicts(server)
    check_equal((v["fcrdns"], v[f"dnsbl:{BLOCKLIST}"]), ("pass", "fail"), "verdicts")
    check_equal(status, 2, "exit status")


@runner.test
def dns_timeout_is_could_not_check(ctx: Context) -> None:
    status, server = one(ctx, "127.0.0.9")
    v = verdicts(server)
    check_equal((v["smtp"], v["ptr"]), ("pass", "could-not-check"), "verdicts")
    check("fail" not in v.values(), f"no failure from a timeout: {v}")
    check_equal(status, 3, "exit status")


@runner.test
def ipv6(ctx: Context) -> None:
    if not IPV6:
        raise SkipTest("no IPv6 loopback")
    status, server = one(ctx, "::1")
    check_equal(server["ip"], "::1", "address")
    v = verdicts(server)
    check_equal((v["smtp"], v["fcrdns"], v["banner-resolves"]), ("pass", "pass", "pass"),
                "verdicts")
    check_equal(status, 0, "exit status")


@runner.test
def a_server_that_never_greets(ctx: Context) -> None:
    started = time.monotonic()
    before = ctx.silent.accepted
    status, report = doctor(ctx, "--timeout", "2", f"{SILENT_SERVER}:{ctx.silent.port}",
                            timeout=30)
    check(ctx.silent.accepted > before, "the doctor connected")
    server = report["servers"][0]
    check_equal(verdicts(server)["smtp"], "fail", "smtp")
    evidence = next(c["evidence"] for c in server["checks"] if c["id"] == "smtp")
    check_equal(evidence, "no greeting within 2 s", "why")
    check_equal(status, 2, "exit status")
    check(time.monotonic() - started < 20, "bounded by --timeout (twice: text and --json)")


@runner.test
def a_name_with_every_address(ctx: Context) -> None:
    # A name is looked up and each of its addresses audited; a refused
    # port is a failure of that server only.
    status, report = doctor(ctx, "nomx.example.com", f"127.0.0.21:{ctx.silent.port + 0}")
    targets = [(s["target"], s["ip"]) for s in report["servers"]]
    check_equal(targets[0], ("nomx.example.com", "127.0.0.21"), "the name's address")
    check_equal(verdicts(report["servers"][1])["smtp"], "fail", "nothing listens there")
    check_equal(status, 2, "exit status")


@runner.test
def mx_hosts_lowest_preference_first(ctx: Context) -> None:
    status, report = doctor(ctx, "--mx", MX_DOMAIN)
    hosts = [(s["target"], s["ip"]) for s in report["servers"]]
    check_equal(hosts, [(f"MX of {MX_DOMAIN} (1 of 2): mx21.example.com", "127.0.0.21"),
                        (f"MX of {MX_DOMAIN} (2 of 2): mx26.example.com", "127.0.0.26")],
                "MX hosts in preference order")
    check_equal(verdicts(report["servers"][0])["mx"], "pass", "the MX check")
    check_equal([s["exit_status"] for s in report["servers"]], [0, 1], "each server")
    check_equal(status, 1, "the worst of them")


@runner.test
def a_domain_without_mx(ctx: Context) -> None:
    status, report = doctor(ctx, "--mx", "nomx.example.com")
    server = report["servers"][0]
    check_equal(server["ip"], "127.0.0.21", "the domain's own address")
    check_equal(verdicts(server)["mx"], "warn", "no MX")
    check_equal(verdicts(server)["smtp"], "pass", "still connected to")
    check_equal(status, 1, "exit status")
    status, report = doctor(ctx, "--mx", "gone.example.com")
    check_equal(verdicts(report["servers"][0])["mx"], "fail", "a domain that does not exist")
    check_equal(status, 2, "exit status")


@runner.test
def postfix_configuration(ctx: Context) -> None:
    status, report = doctor(ctx, "--postfix", ctx.postfix.config_dir)
    server = report["servers"][0]
    check_equal((server["ip"], server["port"], server["helo"], server["banner"], server["ehlo"]),
                ("127.0.0.21", 0, "mx21.example.com", "mx21.example.com", "mx21.example.com"),
                "what postconf says this Postfix announces")
    v = verdicts(server)
    check_equal((v["helo-fqdn"], v["helo-ptr"], v["banner-ptr"]), ("pass", "pass", "pass"),
                "verdicts")
    check("smtp" not in v, "nothing connected to")
    check_equal(status, 0, "exit status")


def main() -> int:
    return main_with_dns(runner, "rdns-doctor-in-", Context, set_up=set_up, zone=write_zone,
                         transparent=(V6_REVERSE,) if IPV6 else ())


if __name__ == "__main__":
    sys.exit(main())
