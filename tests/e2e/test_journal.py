#!/usr/bin/env python3
"""End-to-end: decisions as journal entries, in a real systemd-journald.

Usage: test_journal.py PATH-TO-rdns-policyd      (exit 0 = all passed,
                                                  77 = skipped: not root)

The test re-runs itself in a private mount namespace (unshare -m), mounts
tmpfs on /run/systemd/journal and /run/log there (so nothing reaches the
host's journal), starts Debian's /lib/systemd/systemd-journald, and waits for
its socket. Then the real daemon, with `[log] target = "journal"` and the
e2e DNS fixture, answers requests, and `journalctl -D /run/log/journal`
must find each decision by its fields (RDNS_RULE=reject-no-ptr, ...), with
the MESSAGE, PRIORITY and values the daemon promised, and its other log
lines (start-up) as entries of their own. Every process is stopped and
reaped; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    POLICY_FILE,
    DnsFixture,
    PolicyClient,
    Runner,
    binary_from_argv,
    check,
    check_equal,
    policy_request,
    procs,
    workdir,
)

JOURNALD = "/lib/systemd/systemd-journald"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
JOURNAL_DIR = "/run/log/journal"
IN_NAMESPACE = "RDNS_JOURNAL_TEST_NAMESPACE"
ENTRY_TIMEOUT = 10.0  # journald writes an entry within milliseconds

runner = Runner("test_journal")


class Context:
    binary: str
    workdir: str
    dns: DnsFixture
    daemon: procs.Process


def journal(*matches: str) -> list[dict]:
    """The entries matching journalctl's FIELD=value matches, as JSON."""
    out = subprocess.run(["journalctl", "-D", JOURNAL_DIR, "-o", "json", "--no-pager", *matches],
                         capture_output=True, text=True, timeout=10)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def wait_for_entries(*matches: str, count: int = 1) -> list[dict]:
    """Polls until journalctl finds `count` entries (journald has no event
    to wait on from outside); bounded by ENTRY_TIMEOUT."""
    deadline = time.monotonic() + ENTRY_TIMEOUT
    while True:
        entries = journal(*matches)
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


@runner.test
def each_decision_is_one_entry_with_queryable_fields(ctx: Context) -> None:
    endpoint = f"inet:127.0.0.1:{ctx.daemon.port}"
    rejected, rejected_instance = policy_request("127.0.0.3", "good.example.test")
    passed, passed_instance = policy_request("127.0.0.2", "good.example.test",
                                             sender="alice@example.test")
    with PolicyClient(endpoint) as client:
        check_equal(client.ask(rejected),
                    "action=550 5.7.25 Client address 127.0.0.3 has no PTR record", "reply")
        check_equal(client.ask(passed), "action=DUNNO", "reply")

    entries = wait_for_entries("RDNS_RULE=reject-no-ptr", f"RDNS_INSTANCE={rejected_instance}")
    check_equal(len(entries), 1, "journal entries of the rejected request")
    entry = entries[0]
    expected = {
        "RDNS_CLIENT_ADDRESS": "127.0.0.3",
        "RDNS_IPREV": "permerror",
        "RDNS_HELO": "good.example.test",
        "RDNS_HELO_SYNTAX": "fqdn",
        "RDNS_PROTOCOL_STATE": "RCPT",
        "RDNS_FACTS": "dns",
        "RDNS_DNS_OUTAGE": "no",
        "RDNS_ACTION": "550 5.7.25 Client address 127.0.0.3 has no PTR record",
        "PRIORITY": "5",
        "SYSLOG_IDENTIFIER": "rdns-policyd",
        "_PID": str(ctx.daemon.proc.pid),
    }
    for field, value in expected.items():
        check_equal(entry.get(field), value, field)
    check(entry.get("MESSAGE", "").startswith(
        "decision: 127.0.0.3 HELO good.example.test, PTR (none), iprev permerror: "
        "rule reject-no-ptr: 550 5.7.25"), f"MESSAGE: {entry.get('MESSAGE')!r}")
    check("RDNS_ELAPSED_MS" in entry, "RDNS_ELAPSED_MS")

    entries = wait_for_entries(f"RDNS_INSTANCE={passed_instance}")
    check_equal(len(entries), 1, "journal entries of the accepted request")
    entry = entries[0]
    check_equal(entry.get("RDNS_RULE"), "default", "rule of the accepted request")
    check_equal(entry.get("RDNS_VERIFIED"), "good.example.test", "verified PTR names")
    check_equal(entry.get("RDNS_SENDER"), "alice@example.test", "sender")
    check_equal(entry.get("PRIORITY"), "6", "an accepted client is info")


@runner.test
def other_log_lines_are_entries_with_their_priority(ctx: Context) -> None:
    entries = wait_for_entries("SYSLOG_IDENTIFIER=rdns-policyd", f"_PID={ctx.daemon.proc.pid}")
    messages = {e.get("MESSAGE", ""): e.get("PRIORITY") for e in entries}
    listening = [m for m in messages if m.startswith("listening on inet:127.0.0.1:")]
    check(listening != [], f"no 'listening on' entry among {sorted(messages)[:5]}")
    check(all(messages[m] == "6" for m in listening), "listening line at info")
    check(any(m.startswith("ready: ") for m in messages), "no 'ready' entry")


@runner.test
def a_hostile_helo_stays_sanitised_in_message_and_field(ctx: Context) -> None:
    request, instance = policy_request("127.0.0.2", "bad\x1b[31m helo")
    with PolicyClient(f"inet:127.0.0.1:{ctx.daemon.port}") as client:
        client.ask(request)
    entries = wait_for_entries(f"RDNS_INSTANCE={instance}")
    check_equal(len(entries), 1, "entries of the hostile request")
    entry = entries[0]
    check_equal(entry.get("RDNS_HELO"), "bad\\x1b[31m helo", "HELO field, escaped")
    check("\x1b" not in entry.get("MESSAGE", ""), "no raw escape in MESSAGE")
    check_equal(entry.get("RDNS_RULE"), "reject-bad-helo", "rule")


def in_private_journal() -> int:
    """Runs in the private mount namespace: the journal, then the tests."""
    for path in ("/run/systemd/journal", "/run/log"):
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", path], check=True, timeout=10)
    started = time.monotonic()
    binary = binary_from_argv()
    with workdir("rdns-e2e-journal-") as wd, contextlib.ExitStack() as stack:
        ctx = Context()
        ctx.binary = binary
        ctx.workdir = wd
        journald = procs.Process([JOURNALD], "systemd-journald",
                                 probe=lambda: os.path.exists(JOURNAL_SOCKET),
                                 log_path=os.path.join(wd, "journald.log"))
        if runner.set_up(stack, "systemd-journald", journald, "journald output") is None:
            return runner.finish(started)
        ctx.dns = runner.set_up(stack, "test DNS set-up", DnsFixture(wd), "ldns-testns output")
        if ctx.dns is None:
            return runner.finish(started)
        config = os.path.join(wd, "policy.toml")
        with open(POLICY_FILE, encoding="utf-8") as source, open(config, "w",
                                                                 encoding="utf-8") as out:
            out.write(source.read() + '\n[log]\ntarget = "journal"\n')
        ctx.daemon = stack.enter_context(procs.serve_on_free_port(
            lambda port: [binary, "--config", config, "--listen", f"inet:127.0.0.1:{port}",
                          *ctx.dns.daemon_args()],
            "rdns-policyd", os.path.join(wd, "daemon.stderr")))
        runner.add_diagnostic("rdns-policyd stderr", ctx.daemon.text)
        runner.add_diagnostic("journal", lambda: "\n".join(
            e.get("MESSAGE", "") for e in journal()))
        runner.run(ctx)
        check_equal(ctx.daemon.stop(), 0, "daemon exit status")
    return runner.finish(started)


def main() -> int:
    if os.environ.get(IN_NAMESPACE):
        return in_private_journal()
    if os.geteuid() != 0:
        print("test_journal: skipped: a private mount namespace needs root")
        return 77
    # A container without CAP_SYS_ADMIN cannot make one even as root: that
    # is the machine's limit, not the daemon's, and is said so.
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        print(f"test_journal: skipped: unshare -m fails here: {probe.stderr.strip()}")
        return 77
    # The tests run again in a mount namespace of their own, so the tmpfs
    # mounts (and with them the journal) vanish with it.
    env = dict(os.environ, **{IN_NAMESPACE: "1"})
    return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__), *sys.argv[1:]], env=env,
                          timeout=300).returncode


if __name__ == "__main__":
    sys.exit(main())
