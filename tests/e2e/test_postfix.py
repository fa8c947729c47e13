#!/usr/bin/env python3
"""End-to-end: a real Postfix asks rdns-policyd; swaks plays the SMTP clients.

Usage: test_postfix.py PATH-TO-rdns-policyd      (exit 0 = all passed)

A private Postfix instance (its own config, queue and data directories in a
temp dir, smtpd on a free loopback port, nothing delivered) calls the daemon
through check_policy_service at RCPT stage. swaks connects from different
127.0.0.x source addresses and HELO names; the test asserts the RCPT reply
code and text, and the daemon's decision line for each session (rule=,
client_address=, helo=, queue_id= and instance= present).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [E2E_DIR, os.path.join(os.path.dirname(E2E_DIR), "support")]

from harness import (  # noqa: E402
    POLICY_FILE,
    REPLY_TIMEOUT,
    START_TIMEOUT,
    Daemon,
    DnsFixture,
    Runner,
    binary_from_argv,
    check,
    check_equal,
    check_no_rule_matched,
    parse_decision,
    workdir,
)
from procs import free_port  # noqa: E402

POSTFIX = "/usr/sbin/postfix"
SWAKS_TIMEOUT = 30.0

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
syslog_name = postfix-e2e
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = $mydomain
mydestination = example.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
biff = no
readme_directory = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = discard:
default_transport = discard:
relay_transport = discard:
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP e2e
smtpd_relay_restrictions = reject_unauth_destination
# A restriction class the policy hands clients to (tests/e2e/policy.toml
# greylist-by-class): defer stands in for a greylisting policy service.
smtpd_restriction_classes = rdns_greylist
rdns_greylist = defer
smtpd_recipient_restrictions =
    reject_unauth_destination,
    check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout=10s, default_action=DUNNO }}
"""

# chroot off (column 5): the instance lives in a temp dir, not /var/spool.
MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """A private Postfix; start() retries on a port collision; stop() is
    always safe to call."""

    def __init__(self, directory: str, policy_port: int):
        self.dir = directory
        self.config_dir = os.path.join(directory, "etc")
        self.policy_port = policy_port
        self.smtp_port = 0
        self.started = False
        self.transcript: list[str] = []

    def postfix(self, *command: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [POSTFIX, "-c", self.config_dir, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.transcript.append(
            f"$ postfix {' '.join(command)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}"
        )
        return proc

    def write_config(self) -> None:
        os.makedirs(self.config_dir, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "queue"), exist_ok=True)
        # Postfix creates the queue's subdirectories itself (post-install
        # create-missing, run by `postfix start`), but wants data_directory
        # owned by mail_owner already. (`postfix set-permissions` would also
        # do it, but it rewrites the system's Postfix files too and is slow.)
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        owner = pwd.getpwnam("postfix")
        os.chown(data, owner.pw_uid, owner.pw_gid)
        with open(os.path.join(self.config_dir, "main.cf"), "w", encoding="ascii") as f:
            f.write(MAIN_CF.format(dir=self.dir, policy_port=self.policy_port))
        with open(os.path.join(self.config_dir, "master.cf"), "w", encoding="ascii") as f:
            f.write(MASTER_CF.format(smtp_port=self.smtp_port))

    def banner_ok(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=2) as s:
                    s.settimeout(2)
                    if s.recv(512).startswith(b"220 mx.example.test ESMTP e2e"):
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def start(self, attempts: int = 3) -> None:
        for _ in range(attempts):
            self.smtp_port = free_port()
            self.write_config()
            check_proc = self.postfix("check")
            check(check_proc.returncode == 0, "postfix check failed:\n" + self.transcript[-1])
            proc = self.postfix("start")
            self.started = True
            if proc.returncode == 0 and self.banner_ok(START_TIMEOUT):
                return
            self.stop()  # most likely someone took the port meanwhile: try another
        raise AssertionError(f"Postfix did not come up in {attempts} attempts")

    def master_pid(self) -> int | None:
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid"), encoding="ascii") as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def stop(self) -> None:
        if not self.started:
            return
        pid = self.master_pid()
        self.postfix("stop")
        deadline = time.monotonic() + 10
        while pid is not None and time.monotonic() < deadline and self.master_pid() is not None:
            time.sleep(0.1)
        if self.master_pid() is not None:
            self.postfix("abort")
            time.sleep(0.5)
            leftover = self.master_pid()
            if leftover is not None:
                os.kill(leftover, 9)
        self.started = False

    def maillog(self) -> str:
        try:
            with open(os.path.join(self.dir, "maillog"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError as exc:
            return f"(no maillog: {exc})"


def swaks(port: int, source: str, helo: str, recipient: str) -> tuple[str, str]:
    """Runs one SMTP session up to RCPT; returns (RCPT reply, transcript)."""
    argv = [
        "swaks",
        "--server",
        f"127.0.0.1:{port}",
        "--local-interface",
        source,
        "--helo",
        helo,
        "--from",
        "a@example.com",
        "--to",
        recipient,
        "--quit-after",
        "RCPT",
        "--timeout",
        "20",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=SWAKS_TIMEOUT)
    transcript = proc.stdout + proc.stderr
    lines = transcript.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*-> RCPT TO:", line):
            for reply in lines[i + 1 :]:
                m = re.match(r"\s*<(?:-|\*\*)\s+(\d{3}[ -].*)", reply)
                if m:
                    return m.group(1), transcript
    raise AssertionError(f"no RCPT reply in swaks transcript:\n{transcript}")


# (label, source address, HELO, recipient, RCPT reply code, text in reply
#  or None, rule id logged or None when no rule matched)
SESSIONS = [
    (
        "no PTR",
        "127.0.0.3",
        "good.example.test",
        "user@example.test",
        "550",
        "has no PTR record",
        "reject-no-ptr",
    ),
    (
        "reverse zone silent",
        "127.0.0.9",
        "good.example.test",
        "user@example.test",
        "450",
        "reverse DNS lookup failed temporarily",
        "defer-dns-temperror",
    ),
    ("fcrdns pass", "127.0.0.2", "good.example.test", "user@example.test", "250", None, None),
    (
        "PTR does not confirm",
        "127.0.0.4",
        "good.example.test",
        "user@example.test",
        "550",
        "PTR name other.example.test does not resolve back to it",
        "reject-fcrdns-fail",
    ),
    (
        "foreign address literal",
        "127.0.0.2",
        "[127.1.0.5]",
        "user@example.test",
        "550",
        "HELO address literal [127.1.0.5] is not the client address 127.0.0.2",
        "reject-foreign-address-literal",
    ),
    (
        "HELO localhost",
        "127.0.0.2",
        "localhost",
        "user@example.test",
        "550",
        "HELO name localhost is not a valid fully-qualified domain name",
        "reject-bad-helo",
    ),
    (
        # The policy answers "rdns_greylist"; Postfix applies that class.
        "handed to a Postfix restriction class",
        "127.0.0.2",
        "greylist-me.example.test",
        "user@example.test",
        "450",
        None,
        "greylist-by-class",
    ),
    (
        "postmaster from no-PTR client",
        "127.0.0.3",
        "good.example.test",
        "postmaster@example.test",
        "250",
        None,
        "exempt-role-recipients",
    ),
]

runner = Runner("test_postfix")


class Context:
    daemon: Daemon
    postfix: PostfixInstance

    def __init__(self) -> None:
        self.instances: set[str] = set()


def make_session_test(label, source, helo, recipient, code, text, rule):
    def session(ctx: Context) -> None:
        mark = ctx.daemon.log.mark()
        reply, transcript = swaks(ctx.postfix.smtp_port, source, helo, recipient)
        check(
            reply.startswith(code + " "),
            f"{label}: RCPT reply {reply!r}, expected {code}\n{transcript}",
        )
        if text is not None:
            check(text in reply, f"{label}: RCPT reply {reply!r} lacks {text!r}")
        line = ctx.daemon.log.wait_for(lambda l: "decision" in l, REPLY_TIMEOUT, start=mark)
        check(line is not None, f"{label}: no decision line")
        d = parse_decision(line)
        check_equal(d.get("client_address"), source, f"{label}: logged client_address")
        check_equal(d.get("helo"), helo, f"{label}: logged helo")
        if rule is not None:
            check_equal(d.get("rule"), rule, f"{label}: logged rule")
        else:
            check_no_rule_matched(d.get("rule"), label)
        # At RCPT stage of the first recipient smtpd has no queue file yet,
        # so queue_id is present but empty; instance is smtpd's per-message
        # id (hex.hex.hex.count), new for every session here.
        check("queue_id" in d, f"{label}: decision line lacks queue_id=: {line}")
        instance = d.get("instance", "")
        check(
            re.fullmatch(r"[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.\d+", instance) is not None,
            f"{label}: instance {instance!r} is not Postfix's: {line}",
        )
        check(instance not in ctx.instances, f"{label}: instance {instance} seen before")
        ctx.instances.add(instance)
        extra = [
            l for l in ctx.daemon.log.lines[mark:] if "decision" in l and l != line
        ]
        check(extra == [], f"{label}: more than one decision for one RCPT: {extra}")

    session.__name__ = "swaks: " + label
    return session


for _session in SESSIONS:
    runner.test(make_session_test(*_session))


def stop_daemon_cleanly(daemon: Daemon) -> None:
    status = daemon.stop()
    if status != 0:
        try:
            check_equal(status, 0, "daemon exit status after SIGTERM")
        except AssertionError:
            runner.fail_setup("daemon shutdown")


def start_and_run(ctx: Context, stack: contextlib.ExitStack, binary: str, wd: str) -> None:
    """Starts the test DNS, the daemon and Postfix on `stack` (stopped in the
    reverse order), then the tests; a failure to start is recorded."""
    dns = runner.set_up(stack, "test DNS set-up", DnsFixture(wd), "ldns-testns output")
    if dns is None:
        return
    daemon = Daemon(binary, POLICY_FILE, ["--listen", "inet:127.0.0.1:0", *dns.daemon_args()])
    ctx.daemon = runner.set_up(stack, "daemon start-up", daemon, "rdns-policyd stderr")
    if ctx.daemon is None:
        return
    stack.callback(stop_daemon_cleanly, ctx.daemon)
    policy_port = int(ctx.daemon.endpoint("inet:127.0.0.1:").rsplit(":", 1)[1])
    ctx.postfix = PostfixInstance(os.path.join(wd, "postfix"), policy_port)
    runner.add_diagnostic("postfix commands", lambda: "\n".join(ctx.postfix.transcript))
    runner.add_diagnostic("postfix maillog", ctx.postfix.maillog)
    stack.callback(ctx.postfix.stop)
    try:
        ctx.postfix.start()
    except Exception:  # noqa: BLE001
        runner.fail_setup("Postfix start-up")
        return
    runner.run(ctx)


def main() -> int:
    started = time.monotonic()
    binary = binary_from_argv()
    for tool in ("swaks", "ldns-testns"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed")
            print("0 passed, 1 failed")
            return 1
    if not os.access(POSTFIX, os.X_OK):
        print(f"{POSTFIX} is not installed")
        print("0 passed, 1 failed")
        return 1
    with workdir("rdns-e2e-postfix-") as wd:
        # Postfix's unprivileged processes must reach the queue below it.
        os.chmod(wd, 0o755)
        with contextlib.ExitStack() as stack:
            start_and_run(Context(), stack, binary, wd)
        return runner.finish(started)


if __name__ == "__main__":
    sys.exit(main())
