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
# The daemon's [alarms] min_clients here; the daemon looks every 5 s.
ALARM_MIN_CLIENTS = 2

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


def report(ctx: Context, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ctx.binary, "report", "--directory", JOURNAL_DIR, *args],
                          capture_output=True, text=True, timeout=60)


def journal_daemon(ctx: Context, name: str, extra: str = ""):
    """A daemon logging to the journal, on a free port, with the e2e rules."""
    config = os.path.join(ctx.workdir, f"{name}.toml")
    with open(POLICY_FILE, encoding="utf-8") as source, open(config, "w",
                                                             encoding="utf-8") as out:
        out.write(source.read() + '\n[log]\ntarget = "journal"\n' + extra)
    return procs.serve_on_free_port(
        lambda port: [ctx.binary, "--config", config, "--listen", f"inet:127.0.0.1:{port}",
                      *ctx.dns.daemon_args()],
        "rdns-policyd", os.path.join(ctx.workdir, f"{name}.stderr"))


@runner.test
def an_alarm_is_an_entry_with_its_fields(ctx: Context) -> None:
    # A daemon of its own raises no-ptr-anywhere after ALARM_MIN_CLIENTS
    # fresh assessments, none with a PTR; HELO names differ so the facts
    # cache does not answer them.
    extra = f"\n[alarms]\nmin_clients = {ALARM_MIN_CLIENTS}\nmin_requests = 1000000\n"
    with journal_daemon(ctx, "alarm", extra) as daemon:
        runner.add_diagnostic("rdns-policyd (alarm) stderr", daemon.text)
        with PolicyClient(f"inet:127.0.0.1:{daemon.port}") as client:
            for i in range(ALARM_MIN_CLIENTS):
                request, _ = policy_request("127.0.0.3", f"h{i}.good.example.test")
                client.ask(request)
        entries = wait_for_entries("RDNS_ALARM=no-ptr-anywhere")
    check_equal(len(entries), 1, "alarm entries")
    entry = entries[0]
    check_equal(entry.get("_PID"), str(daemon.proc.pid), "the alarm daemon's entry")
    check_equal(entry.get("RDNS_ALARM_STATE"), "raised", "alarm state")
    check_equal(entry.get("PRIORITY"), "4", "an alarm is a warning")
    check(entry.get("MESSAGE", "").startswith("alarm no-ptr-anywhere raised: "),
          f"MESSAGE: {entry.get('MESSAGE')!r}")
    check("What to do: " in entry.get("MESSAGE", ""), "the alarm says what to do")


@runner.test
def report_counts_what_the_journal_holds(ctx: Context) -> None:
    # Runs after the tests above: the decisions they made are in the journal.
    decisions = journal("SYSLOG_IDENTIFIER=rdns-policyd")
    decisions = [e for e in decisions if "RDNS_RULE" in e]
    check(len(decisions) >= 5, f"only {len(decisions)} decisions in the journal")
    rejected = [e for e in decisions if e["RDNS_ACTION"].startswith(("5", "REJECT"))]
    result = report(ctx, "--json", "--since", "-1h")
    check_equal(result.returncode, 0, f"report --json: {result.stderr}")
    data = json.loads(result.stdout)
    check_equal(data["decisions"], len(decisions), "decisions counted")
    check_equal(data["actions"]["reject"], len(rejected), "rejections counted")
    check_equal(data["rules"]["reject-no-ptr"]["reject"],
                sum(e["RDNS_RULE"] == "reject-no-ptr" for e in decisions), "reject-no-ptr")
    top = data["top_rejected_clients"][0]
    check_equal(top["client_address"], "127.0.0.3", "the most rejected client")
    check_equal(top["rejected"], sum(e["RDNS_CLIENT_ADDRESS"] == "127.0.0.3" for e in rejected),
                "its rejections")
    check_equal(sum(row["rejected"] for row in data["rejections_per_hour"]), len(rejected),
                "the hourly chart adds up")
    check_equal([a["alarm"] for a in data["alarms"]], ["no-ptr-anywhere"], "alarms named")

    text = report(ctx, "--since", "-1h")
    check_equal(text.returncode, 0, f"report: {text.stderr}")
    check(f"{len(decisions)} decisions: " in text.stdout, f"report text:\n{text.stdout}")
    check("127.0.0.3  (no PTR)" in text.stdout, "the top rejected client in the text")
    check("alarm no-ptr-anywhere raised" in text.stdout, "the alarm in the text")

    # A range before the daemon started, and a unit that is not there.
    early = json.loads(report(ctx, "--json", "--since", "-3h", "--until", "-2h").stdout)
    check_equal(early["decisions"], 0, "decisions two hours ago")
    other = json.loads(report(ctx, "--json", "--since", "-1h", "--unit", "postfix").stdout)
    check_equal(other["decisions"], 0, "decisions of another unit")
    bad = report(ctx, "--since", "next week")
    check_equal(bad.returncode, 64, "a time report cannot read")
    check("is not a time" in bad.stderr, f"why: {bad.stderr!r}")


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
        ctx.daemon = stack.enter_context(journal_daemon(ctx, "policy"))
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
