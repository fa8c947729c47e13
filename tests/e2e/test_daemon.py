#!/usr/bin/env python3
"""End-to-end: the real rdns-policyd binary, spoken to like Postfix speaks.

Usage: test_daemon.py PATH-TO-rdns-policyd      (exit 0 = all passed)

One daemon listens on TCP (port 0), a unix socket and, when the host has it,
[::1] (port 0); its DNS is ldns-testns serving zone.testns, reached through
--forwarder/--unbound-config. The tests check the action text per client,
ordering of several and of pipelined requests, concurrency between
connections, sanitised logging of hostile input, each protocol error
(connection closed, no reply, `closing connection <reason>` logged), --stdio
mode, check-config, start-up refusal of a broken config, and SIGTERM.

Tests that need other settings start a daemon of their own from a copy of
policy.toml (own_daemon): read_timeout_s (stalled vs idle peers),
max_connections, unix_socket_mode, max_request_bytes, and SIGHUP reload
(new rules on open and new connections, in-flight requests keep theirs, a
broken file is refused with file:line and the running rules kept).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [E2E_DIR, os.path.join(os.path.dirname(E2E_DIR), "support")]

from harness import (  # noqa: E402
    parse_decision,
    POLICY_FILE,
    REPLY_TIMEOUT,
    START_TIMEOUT,
    Daemon,
    DnsFixture,
    PolicyClient,
    Runner,
    SkipTest,
    binary_from_argv,
    check,
    check_equal,
    check_no_rule_matched,
    ipv6_loopback_available,
    new_instance,
    policy_request,
    workdir,
)
import procs  # noqa: E402
from procs import stop_process  # noqa: E402

# (label, client, helo, extra attributes, expected reply, expected rule id
#  or None when no rule matches, expected facts in the decision log line)
CASES = [
    (
        "fcrdns pass, helo confirmed",
        "127.0.0.2",
        "good.example.test",
        {},
        "action=DUNNO",
        None,
        {
            "iprev": "pass",
            "ptr": "good.example.test",
            "helo_syntax": "fqdn",
            "helo_forward": "pass",
        },
    ),
    (
        "helo resolves elsewhere",
        "127.0.0.2",
        "other.example.test",
        {},
        "action=WARN HELO name other.example.test does not resolve to 127.0.0.2",
        "warn-helo-not-forward-confirmed",
        {"iprev": "pass", "helo_forward": "fail"},
    ),
    (
        "helo does not exist",
        "127.0.0.2",
        "nohost.example.test",
        {},
        "action=WARN HELO name nohost.example.test does not resolve to 127.0.0.2",
        "warn-helo-not-forward-confirmed",
        {"iprev": "pass", "helo_forward": "none"},
    ),
    (
        "helo localhost",
        "127.0.0.2",
        "localhost",
        {},
        "action=550 5.5.2 HELO name localhost is not a valid fully-qualified domain name",
        "reject-bad-helo",
        {"helo_syntax": "non-fqdn"},
    ),
    (
        "helo bare ip",
        "127.0.0.2",
        "127.0.0.2",
        {},
        "action=550 5.5.2 HELO name 127.0.0.2 is not a valid fully-qualified domain name",
        "reject-bad-helo",
        {"helo_syntax": "bare-ip"},
    ),
    (
        "helo foreign address literal",
        "127.0.0.2",
        "[127.1.0.5]",
        {},
        "action=550 5.7.1 HELO address literal [127.1.0.5] is not the client address 127.0.0.2",
        "reject-foreign-address-literal",
        {"helo_syntax": "address-literal", "helo_literal": "mismatch"},
    ),
    (
        "helo own address literal",
        "127.0.0.2",
        "[127.0.0.2]",
        {},
        "action=DUNNO",
        None,
        {"helo_syntax": "address-literal", "helo_literal": "match"},
    ),
    (
        "no PTR",
        "127.0.0.3",
        "good.example.test",
        {},
        "action=550 5.7.25 Client address 127.0.0.3 has no PTR record",
        "reject-no-ptr",
        {"iprev": "permerror"},
    ),
    (
        "no PTR but postmaster",
        "127.0.0.3",
        "good.example.test",
        {"recipient": "postmaster@example.test"},
        "action=DUNNO",
        "exempt-role-recipients",
        {},
    ),
    (
        "no PTR but authenticated",
        "127.0.0.3",
        "good.example.test",
        {"sasl_method": "PLAIN", "sasl_username": "alice"},
        "action=DUNNO",
        "exempt-authenticated",
        {},
    ),
    (
        # The table decides before any rule that needs DNS, so nothing is
        # asked: the reverse zone is silent, and the answer is immediate.
        "silent reverse zone but authenticated: no lookup at all",
        "127.0.0.9",
        "good.example.test",
        {"sasl_method": "PLAIN", "sasl_username": "alice"},
        "action=DUNNO",
        "exempt-authenticated",
        {"facts": "rules", "iprev": "skipped", "helo_syntax": "fqdn"},
    ),
    (
        "PTR does not resolve back",
        "127.0.0.4",
        "good.example.test",
        {},
        "action=550 5.7.25 Client address 127.0.0.4: PTR name other.example.test"
        " does not resolve back to it",
        "reject-fcrdns-fail",
        {"iprev": "fail"},
    ),
    (
        "reverse zone silent",
        "127.0.0.9",
        "good.example.test",
        {},
        "action=450 4.7.25 Client address 127.0.0.9: reverse DNS lookup failed temporarily,"
        " try again later",
        "defer-dns-temperror",
        {"iprev": "temperror"},
    ),
]

runner = Runner("test_daemon")


class Context:
    binary: str
    dns: DnsFixture
    daemon: Daemon
    workdir: str


def check_decision(ctx: Context, label: str, instance: str, rule, facts: dict, queue_id: str):
    d = ctx.daemon.decision_for(instance)
    for key in (
        "client_address",
        "ptr",
        "iprev",
        "helo",
        "helo_syntax",
        "helo_literal",
        "helo_forward",
        "rule",
        "action",
        "queue_id",
        "instance",
        "elapsed_ms",
    ):
        check(key in d, f"{label}: decision line lacks {key}=: {d}")
    check_equal(d["queue_id"], queue_id, f"{label}: logged queue_id")
    check(re.fullmatch(r"\d+(\.\d+)?", d["elapsed_ms"]) is not None, f"{label}: elapsed_ms {d}")
    if rule is not None:
        check_equal(d["rule"], rule, f"{label}: logged rule")
    else:
        check_no_rule_matched(d["rule"], label)
    for key, value in facts.items():
        check_equal(d[key], value, f"{label}: logged {key}")


def run_cases_on(ctx: Context, endpoint: str) -> None:
    with PolicyClient(endpoint) as client:
        for n, (label, address, helo, extra, reply, rule, facts) in enumerate(CASES):
            queue_id = f"4Q{n:02d}ABC"
            request, instance = policy_request(address, helo, queue_id=queue_id, **extra)
            check_equal(client.ask(request), reply, f"{label}: reply")
            check_decision(ctx, label, instance, rule, facts, queue_id)
            logged = ctx.daemon.decision_for(instance)["action"]
            check_equal(logged, reply[len("action=") :], f"{label}: logged action")


@runner.test
def tcp_several_requests_per_connection(ctx: Context) -> None:
    run_cases_on(ctx, ctx.daemon.endpoint("inet:127.0.0.1:"))


@runner.test
def unix_socket_several_requests_per_connection(ctx: Context) -> None:
    run_cases_on(ctx, ctx.daemon.endpoint("unix:"))


@runner.test
def ipv6_listener(ctx: Context) -> None:
    if not any(ep.startswith("inet:[::1]:") for ep in ctx.daemon.endpoints):
        raise SkipTest("no IPv6 loopback on this host")
    with PolicyClient(ctx.daemon.endpoint("inet:[::1]:")) as client:
        request, _ = policy_request("127.0.0.3", "good.example.test")
        check_equal(
            client.ask(request),
            "action=550 5.7.25 Client address 127.0.0.3 has no PTR record",
            "reply over [::1]",
        )
        request, _ = policy_request("::1", "[IPv6:::1]")
        reply = client.ask(request)
        check(reply.startswith("action="), f"IPv6 client address: {reply!r}")


@runner.test
def pipelined_requests_answered_in_order(ctx: Context) -> None:
    # The first request waits for a DNS timeout, the second is answered from
    # data at hand: the replies must still come back in request order.
    slow, _ = policy_request("127.0.0.9", "good.example.test")
    fast, _ = policy_request("127.0.0.3", "good.example.test")
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as client:
        client.send(slow + fast)
        first = client.read_reply()
        second = client.read_reply()
    check(first.startswith("action=450 4.7.25"), f"first pipelined reply: {first!r}")
    check(second.startswith("action=550 5.7.25"), f"second pipelined reply: {second!r}")


@runner.test
def replies_that_outgrow_the_socket_buffers_all_arrive_in_order(ctx: Context) -> None:
    # A peer that sends thousands of requests before reading any reply: the
    # replies back up in the connection, so the daemon's writes cannot
    # complete at once and go through its asynchronous path.
    # Every reply must still arrive, whole and in request order.

    count = 5000
    requests = b"".join(
        policy_request("127.0.0.3" if i % 2 else "127.0.0.2", "good.example.test")[0]
        for i in range(count)
    )
    expected = b"".join(
        (NO_PTR.encode() if i % 2 else b"action=DUNNO") + b"\n\n" for i in range(count)
    )
    # A unix socket: its buffers are fixed (TCP on loopback grows the
    # daemon's send buffer until every reply fits and no write ever waits).
    path = ctx.daemon.endpoint("unix:")[len("unix:"):]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as peer:
        peer.settimeout(START_TIMEOUT + 2 * REPLY_TIMEOUT)
        peer.connect(path)
        failures: list = []

        def send_all() -> None:
            try:
                peer.sendall(requests)
            except OSError as exc:
                failures.append(exc)

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        # Read only once replies are waiting unread: the daemon is writing
        # into a full connection by then.
        deadline = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < deadline:  # a bounded poll on that condition
            try:
                if len(peer.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)) >= 2048:
                    break
            except BlockingIOError:
                pass
            time.sleep(0.01)
        received = b""
        while len(received) < len(expected):
            chunk = peer.recv(65536)
            if not chunk:
                break
            received += chunk
        sender.join(REPLY_TIMEOUT)
    check_equal(failures, [], "sending the requests")
    check_equal(len(received), len(expected), "bytes of replies")
    check(received == expected, "every reply whole and in request order")


@runner.test
def connections_are_served_concurrently(ctx: Context) -> None:
    # 127.0.0.8's reverse zone is silent and nobody asked for it yet, so its
    # answer waits for the lookup deadline; another connection must not wait.
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as slow, PolicyClient(
        ctx.daemon.endpoint("unix:")
    ) as fast:
        started = time.monotonic()
        request, _ = policy_request("127.0.0.8", "good.example.test")
        slow.send(request)
        time.sleep(0.1)
        request, _ = policy_request("127.0.0.2", "good.example.test")
        check_equal(fast.ask(request), "action=DUNNO", "fast connection's reply")
        fast_done = time.monotonic() - started
        reply = slow.read_reply()
        slow_done = time.monotonic() - started
    check(reply.startswith("action=450 4.7.25"), f"slow connection's reply: {reply!r}")
    check(
        fast_done < slow_done,
        f"fast reply after {fast_done:.2f}s did not overtake the slow one ({slow_done:.2f}s)",
    )
    check(slow_done < 1.5 + 3.0, f"lookup deadline of 1500 ms not kept: {slow_done:.2f}s")


@runner.test
def a_returning_client_is_judged_on_cached_facts(ctx: Context) -> None:
    # Two messages from one client with one HELO name: the second is judged
    # on the facts the first found, without assessing again; another HELO
    # name is another assessment.
    helo = f"returning-{new_instance()}.example.test"
    first, _ = policy_request("127.0.0.4", helo)
    second, _ = policy_request("127.0.0.4", helo)
    other_helo, _ = policy_request("127.0.0.4", "other-" + helo)
    mark = ctx.daemon.log.mark()
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as client:
        replies = [client.ask(r) for r in (first, second, other_helo)]
    check_equal(replies[1], replies[0], "the same client and HELO name, another message")
    lines = ctx.daemon.wait_log_count(rf" decision .* helo=[a-z-]*{re.escape(helo)} ", 3, mark)
    decisions = [parse_decision(line) for line in lines]
    check_equal([d.get("facts") for d in decisions], ["dns", "cache", "dns"],
                "where each request's facts came from")
    check_equal(decisions[1].get("iprev"), decisions[0].get("iprev"), "iprev of the cached facts")


@runner.test
def one_message_is_judged_on_its_first_facts(ctx: Context) -> None:
    # Postfix asks once per recipient, with the same instance. The first
    # request looks DNS up; the others reuse its facts (no new lookups) and
    # are still decided per recipient: postmaster@ stays exempt.
    first, instance = policy_request("127.0.0.4", "good.example.test")
    second, _ = policy_request("127.0.0.4", "good.example.test", instance=instance)
    to_postmaster, _ = policy_request(
        "127.0.0.4", "good.example.test", instance=instance, recipient="postmaster@example.test"
    )
    other_client, _ = policy_request("127.0.0.3", "good.example.test", instance=instance)
    mark = ctx.daemon.log.mark()
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as client:
        replies = [client.ask(r) for r in (first, second, to_postmaster, other_client)]
    check(replies[0].startswith("action=550 5.7.25"), f"first recipient: {replies[0]!r}")
    check_equal(replies[1], replies[0], "second recipient of the same message")
    check_equal(replies[2], "action=DUNNO", "postmaster recipient of the same message")
    check(replies[3].startswith("action=550 5.7.25 Client address 127.0.0.3 has no PTR"),
          f"same instance, other client: {replies[3]!r}")
    # The reader of the daemon's stderr may lag behind the replies: wait.
    lines = ctx.daemon.wait_log_count(rf" decision .* instance={re.escape(instance)} ", 4, mark)
    decisions = [parse_decision(line) for line in lines]
    # The first and the last may come from the facts cache: earlier tests
    # asked about these clients.
    check_equal([d.get("facts") in ("dns", "cache") for d in decisions], [True, False, False, True],
                "where each request's facts came from (assessed or cached)")
    check_equal([d.get("facts") for d in decisions[1:3]], ["instance", "instance"],
                "later requests about one message")
    check_equal([d.get("rule") for d in decisions],
                ["reject-fcrdns-fail", "reject-fcrdns-fail", "exempt-role-recipients",
                 "reject-no-ptr"], "rules")


@runner.test
def hostile_helo_is_sanitised_in_log(ctx: Context) -> None:
    helo = 'evil"name\x01\x1b[31m\x7f end\\'
    mark = ctx.daemon.log.mark()
    request, instance = policy_request("127.0.0.2", helo, queue_id='Q "quoted"')
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as client:
        reply = client.ask(request)
    check(reply.startswith("action=550 5.5.2 "), f"hostile helo reply: {reply!r}")
    check(
        re.search(r"[\x00-\x1f\x7f]", reply) is None, f"control characters in the reply: {reply!r}"
    )
    d = ctx.daemon.decision_for(instance)
    check_equal(d.get("rule"), "reject-bad-helo", "hostile helo: rule")
    check_equal(d.get("helo_syntax"), "invalid", "hostile helo: helo_syntax")
    raw = d["_raw_helo"]
    check(raw.startswith('"') and raw.endswith('"'), f"hostile helo not quoted in log: {raw}")
    for needle in ('\\"', "\\x01", "\\x1b", "\\x7f"):
        check(needle.lower() in raw.lower(), f"{needle} missing from logged helo {raw}")
    check_equal(d["_raw_queue_id"], '"Q \\"quoted\\""', "logged queue_id quoting")
    new_lines = ctx.daemon.log.lines[mark:]
    for line in new_lines:
        check(
            re.search(r"[\x00-\x08\x0a-\x1f\x7f]", line) is None,
            f"raw control character in log line {line!r}",
        )


# (label, bytes sent, reason word logged)
PROTOCOL_ERRORS = [
    (
        "over-long line",
        b"request=smtpd_access_policy\nhelo_name=" + b"a" * 5000 + b"\n\n",
        "line-too-long",
    ),
    (
        "NUL byte",
        b"request=smtpd_access_policy\nhelo_name=a\x00b\nclient_address=127.0.0.2\n\n",
        "nul-byte",
    ),
    (
        "unsupported request",
        b"request=junk_policy\nclient_address=127.0.0.2\n\n",
        "unsupported-request",
    ),
    (
        "too many attributes",
        b"request=smtpd_access_policy\n" + b"".join(b"x%d=1\n" % i for i in range(200)) + b"\n",
        "too-many-attributes",
    ),
    (
        "request too large",
        b"request=smtpd_access_policy\n"
        + b"".join(b"x%d=%s\n" % (i, b"b" * 1000) for i in range(40))
        + b"\n",
        "request-too-large",
    ),
    ("line without '='", b"request=smtpd_access_policy\nno equals sign here\n\n", "malformed-line"),
    ("empty attribute name", b"request=smtpd_access_policy\n=value\n\n", "malformed-line"),
    ("no request attribute", b"client_address=127.0.0.2\nhelo_name=a.test\n\n", "missing-request"),
]


@runner.test
def protocol_errors_close_without_reply(ctx: Context) -> None:
    endpoint = ctx.daemon.endpoint("inet:127.0.0.1:")
    for label, data, reason in PROTOCOL_ERRORS:
        mark = ctx.daemon.log.mark()
        with PolicyClient(endpoint) as client:
            try:
                client.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed while we were still writing: fine
            received = client.expect_closed()
        check_equal(received, b"", f"{label}: bytes sent before closing")
        line = ctx.daemon.log.wait_for(
            lambda l: "closing connection" in l and reason in l, REPLY_TIMEOUT, start=mark
        )
        check(line is not None, f"{label}: no 'closing connection ... {reason}' log line")


@runner.test
def good_request_then_garbage_on_same_connection(ctx: Context) -> None:
    request, _ = policy_request("127.0.0.3", "good.example.test")
    mark = ctx.daemon.log.mark()
    with PolicyClient(ctx.daemon.endpoint("unix:")) as client:
        check_equal(
            client.ask(request),
            "action=550 5.7.25 Client address 127.0.0.3 has no PTR record",
            "reply before the garbage",
        )
        client.send(b"request=smtpd_access_policy\nhelo_name=x\x00\n\n")
        check_equal(client.expect_closed(), b"", "bytes sent before closing")
    line = ctx.daemon.log.wait_for(
        lambda l: "closing connection" in l and "nul-byte" in l, REPLY_TIMEOUT, start=mark
    )
    check(line is not None, "no 'closing connection ... nul-byte' log line")
    # And the daemon still serves.
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as client:
        request, _ = policy_request("127.0.0.2", "good.example.test")
        check_equal(client.ask(request), "action=DUNNO", "reply after protocol errors")


@runner.test
def stdio_mode(ctx: Context) -> None:
    first, _ = policy_request("127.0.0.2", "good.example.test")
    second, _ = policy_request("127.0.0.3", "good.example.test")
    proc = subprocess.run(
        [ctx.binary, "--stdio", "--config", POLICY_FILE, *ctx.dns.daemon_args()],
        input=first + second,
        capture_output=True,
        timeout=START_TIMEOUT + 2 * REPLY_TIMEOUT,
    )
    detail = proc.stderr.decode("utf-8", "backslashreplace")
    check_equal(proc.returncode, 0, f"--stdio exit status (stderr: {detail})")
    check_equal(
        proc.stdout,
        b"action=DUNNO\n\naction=550 5.7.25 Client address 127.0.0.3 has no PTR record\n\n",
        "--stdio output",
    )


@runner.test
def stdio_mode_as_spawn_runs_it(ctx: Context) -> None:
    # Postfix's spawn(8) connects one socket to stdin, stdout and stderr:
    # whatever the daemon logs must not reach smtpd as part of a reply.
    first, _ = policy_request("127.0.0.2", "good.example.test")
    second, _ = policy_request("127.0.0.3", "good.example.test")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        proc = subprocess.Popen(
            [ctx.binary, "--stdio", "--config", POLICY_FILE, *ctx.dns.daemon_args()],
            stdin=theirs, stdout=theirs, stderr=theirs,
        )
        theirs.close()
        try:
            ours.sendall(first + second)
            ours.shutdown(socket.SHUT_WR)
            ours.settimeout(START_TIMEOUT + 2 * REPLY_TIMEOUT)
            received = b""
            while True:
                chunk = ours.recv(65536)
                if not chunk:
                    break
                received += chunk
            returncode = proc.wait(START_TIMEOUT)
        finally:
            stop_process(proc)
    check_equal(returncode, 0, "--stdio exit status")
    # Nothing but the two replies: the start-up and decision lines (info)
    # went to syslog.
    check_equal(
        received,
        b"action=DUNNO\n\naction=550 5.7.25 Client address 127.0.0.3 has no PTR record\n\n",
        "what smtpd reads from the spawned daemon",
    )


BROKEN_SETTINGS = """\
[daemon]
listen = ["inet:127.0.0.1:0"]
[resolver]
lookup_timeout_ms = -5
[policy]
default_action = "DUNNO"
[[rule]]
id = "bad-enum"
iprev = "maybe"
action = "DUNNO"
"""
BROKEN_SETTINGS_LINES = (4, 9)

BROKEN_SYNTAX = """\
[daemon]
listen = ["inet:127.0.0.1:0"]
[[rule]
id = "x"
"""
BROKEN_SYNTAX_LINES = (3,)


def write_config(ctx: Context, subdir: str, text: str) -> str:
    directory = os.path.join(ctx.workdir, subdir)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "policy.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def check_config(ctx: Context, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        # The test config leaves the forwarder to the command line, as the
        # daemon runs do; without it "forward" has nothing to forward to.
        [ctx.binary, "check-config", "--config", path, *ctx.dns.daemon_args()],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


@runner.test
def check_config_accepts_the_test_config(ctx: Context) -> None:
    proc = check_config(ctx, POLICY_FILE)
    check_equal(proc.returncode, 0, f"check-config exit status (stderr: {proc.stderr})")
    check("ok" in proc.stdout + proc.stderr, f"check-config did not say ok: {proc.stdout!r}")


@runner.test
def check_config_reports_every_error_with_line(ctx: Context) -> None:
    for subdir, text, lines in (
        ("bad-settings", BROKEN_SETTINGS, BROKEN_SETTINGS_LINES),
        ("bad-syntax", BROKEN_SYNTAX, BROKEN_SYNTAX_LINES),
    ):
        proc = check_config(ctx, write_config(ctx, subdir, text))
        check_equal(proc.returncode, 2, f"{subdir}: check-config exit status ({proc.stderr})")
        reported = {int(n) for n in re.findall(r"policy\.toml:(\d+):", proc.stderr)}
        for line in lines:
            check(line in reported, f"{subdir}: no 'policy.toml:{line}:' in {proc.stderr!r}")
        # One "file:line: message" line per error (a closing summary may follow).
        located = [l for l in proc.stderr.splitlines() if re.search(r"policy\.toml:\d+:", l)]
        for line in located:
            check(
                re.search(r"policy\.toml:\d+: \S", line) is not None,
                f"{subdir}: error line not 'file:line: message': {line!r}",
            )
        check(
            len(located) >= len(lines),
            f"{subdir}: {len(lines)} errors, {len(located)} located lines: {proc.stderr!r}",
        )


@runner.test
def daemon_refuses_to_start_with_broken_config(ctx: Context) -> None:
    path = write_config(ctx, "bad-start", BROKEN_SETTINGS)
    proc = subprocess.run(
        [ctx.binary, "--config", path, "--listen", "inet:127.0.0.1:0", *ctx.dns.daemon_args()],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    check(proc.returncode != 0, "daemon started with a broken config")
    check(
        re.search(r"\bready\b", proc.stderr) is None, f"broken config said ready: {proc.stderr}"
    )
    check("policy.toml:9:" in proc.stderr, f"start-up error lacks file:line: {proc.stderr!r}")


# --------------------------------------------------------------------------
# Daemons of their own: settings the shared daemon does not have.

NO_PTR = "action=550 5.7.25 Client address 127.0.0.3 has no PTR record"


def policy_text(daemon: str = "", protocol: str = "") -> str:
    """The test rule file with extra [daemon] lines and a [protocol] section."""
    with open(POLICY_FILE, encoding="utf-8") as f:
        text = f.read()
    anchor = '[daemon]\nlisten = ["inet:127.0.0.1:0"]\n'
    check(text.count(anchor) == 1, f"{POLICY_FILE}: [daemon] section is not {anchor!r}")
    return text.replace(anchor, anchor + daemon + (f"\n[protocol]\n{protocol}" if protocol else ""))


def replace_once(text: str, old: str, new: str) -> str:
    check(text.count(old) == 1, f"{old!r} is not in the rule file exactly once")
    return text.replace(old, new)


def line_of(text: str, line: str) -> int:
    """1-based number of the line `line` in `text`."""
    return text.splitlines().index(line) + 1


@contextlib.contextmanager
def own_daemon(ctx: Context, name: str, config: str, unix: bool = False):
    """A daemon of the test's own on inet:127.0.0.1:0 (and a unix socket
    next to its config), stopped when the block ends."""
    listen = ["inet:127.0.0.1:0"]
    if unix:
        listen.append(f"unix:{os.path.dirname(config)}/policy.sock")
    args = [a for ep in listen for a in ("--listen", ep)] + ctx.dns.daemon_args()
    daemon = Daemon(ctx.binary, config, args)
    runner.add_diagnostic(f"rdns-policyd ({name}) stderr", daemon.text)
    with daemon:
        yield daemon


# (label, bytes sent before stalling, replies to read before the stall)
STALLED_PEERS = [
    ("in the middle of a line", b"request=smtpd_access_policy\nclient_addr", 0),
    ("at a line boundary", b"request=smtpd_access_policy\n", 0),
    (
        "after a pipelined complete request",
        policy_request("127.0.0.3", "good.example.test")[0]
        + b"request=smtpd_access_policy\nclient_addr",
        1,
    ),
]
# (label, requests answered before idling)
IDLE_PEERS = [("never sent anything", 0), ("after one answered request", 1)]


@runner.test
def stalled_peer_is_disconnected_but_idle_peer_is_not(ctx: Context) -> None:
    config = write_config(ctx, "stall", policy_text(daemon="read_timeout_s = 1\n"))
    request, _ = policy_request("127.0.0.3", "good.example.test")
    with own_daemon(ctx, "stall", config) as daemon, contextlib.ExitStack() as clients:
        endpoint = daemon.endpoint("inet:127.0.0.1:")
        mark = daemon.log.mark()
        idle = []
        for label, answered in IDLE_PEERS:
            client = clients.enter_context(PolicyClient(endpoint))
            for _ in range(answered):
                check_equal(client.ask(request), NO_PTR, f"idle peer {label}: reply")
            idle.append((label, client))
        started = time.monotonic()
        stalled = []
        for label, data, replies in STALLED_PEERS:
            client = clients.enter_context(PolicyClient(endpoint))
            client.send(data)
            for _ in range(replies):
                check_equal(client.read_reply(), NO_PTR, f"stalled peer {label}: reply")
            stalled.append((label, client))
        for label, client in stalled:
            check_equal(client.expect_closed(5.0), b"", f"stalled peer {label}: bytes sent")
            took = time.monotonic() - started
            # The data was sent after `started`, so the 1 s timer cannot have
            # fired earlier; much earlier would be a different reason.
            check(took >= 0.9, f"stalled peer {label}: closed after {took:.2f}s, before 1 s")
        daemon.wait_log_count(r"stalled in a request; closing connection", len(STALLED_PEERS), mark)
        # The timeout is the thing under test: idle peers must outlive it.
        time.sleep(max(0.0, started + 2.0 - time.monotonic()))
        for label, client in idle:
            check_equal(client.ask(request), NO_PTR, f"idle peer {label}: reply after 2 s")
        since = daemon.log_since(mark)
        stalls = [l for l in since if "stalled in a request" in l]
        check_equal(len(stalls), len(STALLED_PEERS), f"'stalled' log lines: {stalls}")
        check(not any("idle timeout" in l for l in since), f"an idle peer timed out: {since}")


REFUSAL_FLOOD = 30


@runner.test
def connections_beyond_max_connections_are_refused(ctx: Context) -> None:
    config = write_config(ctx, "maxconn", policy_text(daemon="max_connections = 2\n"))
    request, _ = policy_request("127.0.0.3", "good.example.test")
    with own_daemon(ctx, "maxconn", config, unix=True) as daemon:
        tcp = daemon.endpoint("inet:127.0.0.1:")
        unix = daemon.endpoint("unix:")
        with PolicyClient(tcp) as first, PolicyClient(unix) as second:
            # Answered, so surely accepted and counted.
            check_equal(first.ask(request), NO_PTR, "first connection")
            check_equal(second.ask(request), NO_PTR, "second connection")
            mark = daemon.log.mark()
            for label, endpoint in (("tcp", tcp), ("unix", unix)):
                with PolicyClient(endpoint) as third:
                    check_equal(third.try_ask(request), None, f"third connection ({label})")
            daemon.wait_log(r"alarm connections-refused raised: \d+ connections refused", mark)
            # A flood of refusals is one alarm, not a line per connection.
            for _ in range(REFUSAL_FLOOD):
                with PolicyClient(tcp) as extra:
                    check_equal(extra.try_ask(request), None, "a refused connection")
            refusals = [l for l in daemon.log_since(mark) if "refused" in l]
            check_equal(len(refusals), 1, f"refusal log lines for {REFUSAL_FLOOD + 2}: {refusals}")
            check_equal(first.ask(request), NO_PTR, "first connection after the refusals")
            check_equal(second.ask(request), NO_PTR, "second connection after the refusals")
        # The daemon sees the two closes asynchronously: poll, bounded.
        deadline = time.monotonic() + 5.0
        reply = None
        while reply is None and time.monotonic() < deadline:
            with PolicyClient(tcp) as again:
                reply = again.try_ask(request)
            if reply is None:
                time.sleep(0.05)
        check_equal(reply, NO_PTR, "a new connection once the others closed")


TRICKLE_TIMEOUT_S = 2
TRICKLE_INTERVAL = 0.25  # a byte this often restarted a per-read timeout forever


@runner.test
def a_trickling_peer_cannot_stretch_the_request_deadline(ctx: Context) -> None:
    config = write_config(ctx, "trickle",
                          policy_text(daemon=f"read_timeout_s = {TRICKLE_TIMEOUT_S}\n"))
    with own_daemon(ctx, "trickle", config) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            client.send(b"request=smtpd_access_policy\nclient_address=127.0.0.")
            started = time.monotonic()
            closed = False
            # One byte per interval, bounded in count: the daemon must close
            # the connection read_timeout_s after the first byte.
            for _ in range(int(4 * TRICKLE_TIMEOUT_S / TRICKLE_INTERVAL)):
                time.sleep(TRICKLE_INTERVAL)
                try:
                    client.sock.sendall(b"3")
                    client.sock.settimeout(0.01)
                    if client.sock.recv(1) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except OSError:
                    closed = True
                    break
            took = time.monotonic() - started
        check(closed, "the trickling peer was never dropped")
        check(TRICKLE_TIMEOUT_S - 0.2 <= took <= TRICKLE_TIMEOUT_S + 1.5,
              f"dropped after {took:.2f}s, not about {TRICKLE_TIMEOUT_S}s")
        daemon.wait_log(r"stalled in a request; closing connection")


FD_LIMIT = 64  # the daemon's RLIMIT_NOFILE in the descriptor-exhaustion drill


@runner.test
def descriptor_exhaustion_pauses_accepts_and_recovers(ctx: Context) -> None:
    config = write_config(ctx, "emfile", policy_text())
    request, _ = policy_request("127.0.0.3", "good.example.test")
    argv = ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", ctx.binary, "--config", config,
            "--listen", "inet:127.0.0.1:0", *ctx.dns.daemon_args()]
    env = None
    if os.environ.get("RDNS_SANITIZED"):
        # UBSan's vptr check needs a free descriptor (the file says why).
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "ubsan-descriptor-exhaustion.supp")
        env = dict(os.environ, UBSAN_OPTIONS=os.environ.get("UBSAN_OPTIONS", "")
                   + f":suppressions={supp}")
    daemon = procs.Server(argv, "rdns-policyd (emfile)", env=env)
    runner.add_diagnostic("rdns-policyd (emfile) stderr", daemon.text)
    with daemon, contextlib.ExitStack() as clients:
        endpoint = daemon.endpoint("inet:127.0.0.1:")
        held = []
        # More connections than descriptors: the later ones wait in the backlog.
        for _ in range(FD_LIMIT + 16):
            held.append(clients.enter_context(PolicyClient(endpoint)))
        line = daemon.log.wait_for(lambda l: "pausing accepts" in l, 10.0)
        check(line is not None and "Too many open files" in line, f"the EMFILE line: {line!r}")
        # Paused, not spinning: little CPU while the descriptors stay exhausted.
        before = procs.cpu_seconds(daemon.proc.pid)
        time.sleep(1.0)
        spent = procs.cpu_seconds(daemon.proc.pid) - before
        check(spent < 0.3, f"{spent:.2f}s of CPU in 1 s while accept fails: it spins")
        failures = [l for l in daemon.text().splitlines() if "pausing accepts" in l]
        check_equal(len(failures), 1, "EMFILE log lines")
        clients.close()  # every connection goes: descriptors free up
        deadline = time.monotonic() + 10.0
        reply = None
        while reply is None and time.monotonic() < deadline:
            with PolicyClient(endpoint) as client:
                reply = client.try_ask(request)
        check_equal(reply, NO_PTR, "a request once descriptors are free again")
        check(daemon.log.wait_for(lambda l: "works again after" in l, 5.0) is not None,
              "no 'works again' line")


@runner.test
def unix_socket_mode_is_applied(ctx: Context) -> None:
    config = write_config(ctx, "mode", policy_text(daemon='unix_socket_mode = "0600"\n'))
    with own_daemon(ctx, "mode", config, unix=True) as daemon:
        for label, which, mode in (("default", ctx.daemon, 0o660), ('"0600"', daemon, 0o600)):
            path = which.endpoint("unix:")[len("unix:") :]
            info = os.lstat(path)
            check(stat.S_ISSOCK(info.st_mode), f"{label}: {path} is not a socket")
            check_equal(oct(stat.S_IMODE(info.st_mode)), oct(mode), f"{label}: mode of {path}")
        with PolicyClient(daemon.endpoint("unix:")) as client:
            request, _ = policy_request("127.0.0.3", "good.example.test")
            check_equal(client.ask(request), NO_PTR, "the owner can still connect")


def padded_request(total: int) -> bytes:
    """A valid request of exactly `total` bytes: the usual attributes and
    then 4-byte unknown attribute lines (the last one a little longer)."""
    base, _ = policy_request("127.0.0.3", "good.example.test", instance="padded")
    lines, rest = divmod(total - len(base), 4)
    check(lines >= 1, f"{total} bytes is less than a plain request ({len(base)})")
    padding = b"a=1\n" * (lines - 1) + b"a=" + b"1" * (1 + rest) + b"\n"
    data = base[:-1] + padding + b"\n"
    check_equal(len(data), total, "padded request size")
    return data


# (label, request, expected reply or None for request-too-large)
SIZE_LIMIT_CASES = [
    ("exactly max_request_bytes in short lines", padded_request(1024), NO_PTR),
    ("one byte more", padded_request(1025), None),
    ("many tiny lines", b"request=smtpd_access_policy\n" + b"a=1\n" * 700 + b"\n", None),
]


@runner.test
def request_size_limit_counts_bytes_not_lines(ctx: Context) -> None:
    # max_attributes is high so that only the byte limit can trip.
    config = write_config(
        ctx, "limits", policy_text(protocol="max_request_bytes = 1024\nmax_attributes = 4096\n")
    )
    with own_daemon(ctx, "limits", config) as daemon:
        endpoint = daemon.endpoint("inet:127.0.0.1:")
        for label, data, expected in SIZE_LIMIT_CASES:
            mark = daemon.log.mark()
            with PolicyClient(endpoint) as client:
                if expected is not None:
                    check_equal(client.ask(data), expected, f"{label}: reply")
                    continue
                try:
                    client.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # closed while we were still writing: fine
                check_equal(client.expect_closed(), b"", f"{label}: bytes sent before closing")
            daemon.wait_log(r"request-too-large \(.*1024 bytes\); closing connection", mark)


RELOAD_OLD_DEFER = (
    "action=450 4.7.25 Client address 127.0.0.9: reverse DNS lookup failed temporarily,"
    " try again later"
)
RELOAD_NEW_NO_PTR = "action=550 5.7.25 Reloaded: 127.0.0.3 has no PTR record"
RELOAD_THIRD_NO_PTR = "action=550 5.7.25 Third: 127.0.0.3 has no PTR record"


def reloaded_text(no_ptr_action: str) -> str:
    text = policy_text()
    text = replace_once(
        text,
        'action = "550 5.7.25 Client address {client_address} has no PTR record"',
        f'action = "{no_ptr_action}"',
    )
    return replace_once(
        text,
        'action = "450 4.7.25 Client address {client_address}: reverse DNS lookup failed'
        ' temporarily, try again later"',
        'action = "450 4.7.25 Reloaded: {client_address} temperror"',
    )


def broken_reloads(good: str) -> list:
    """(label, file text, line number the error must name)."""
    unknown_key = replace_once(
        good, 'id = "reject-no-ptr"\n', 'id = "reject-no-ptr"\nno_such_condition = "x"\n'
    )
    bad_toml = good + '\n[[rule]\nid = "x"\n'
    out_of_range = policy_text(daemon="read_timeout_s = 0\n")
    return [
        ("unknown condition key", unknown_key, line_of(unknown_key, 'no_such_condition = "x"')),
        ("bad TOML", bad_toml, line_of(bad_toml, "[[rule]")),
        ("setting out of range", out_of_range, line_of(out_of_range, "read_timeout_s = 0")),
    ]


@runner.test
def sighup_reloads_rules_and_keeps_them_on_a_broken_file(ctx: Context) -> None:
    config = write_config(ctx, "reload", policy_text())
    request, _ = policy_request("127.0.0.3", "good.example.test")
    with own_daemon(ctx, "reload", config) as daemon:
        endpoint = daemon.endpoint("inet:127.0.0.1:")
        with PolicyClient(endpoint) as persistent, PolicyClient(endpoint) as slow:
            check_equal(persistent.ask(request), NO_PTR, "before the reload")
            # In flight across the reload: its silent reverse zone holds the
            # answer until the 1.5 s lookup deadline.
            slow_request, slow_instance = policy_request("127.0.0.9", "good.example.test")
            slow.send(slow_request)

            good = reloaded_text("550 5.7.25 Reloaded: {client_address} has no PTR record")
            write_config(ctx, "reload", good)
            mark = daemon.log.mark()
            daemon.send_signal(signal.SIGHUP)
            reloaded = daemon.wait_log(r"\breloaded .*policy\.toml: \d+ rules", mark)
            check_equal(persistent.ask(request), RELOAD_NEW_NO_PTR, "same connection after reload")
            with PolicyClient(endpoint) as fresh:
                check_equal(fresh.ask(request), RELOAD_NEW_NO_PTR, "new connection after reload")

            # The request in flight keeps the rules it started with.
            check_equal(slow.read_reply(), RELOAD_OLD_DEFER, "request in flight during reload")
            decided = daemon.wait_log(rf"\bdecision\b.*instance={re.escape(slow_instance)}\b", mark)
            since = daemon.log_since(mark)
            check(
                since.index(reloaded) < since.index(decided),
                "the in-flight request was decided before the reload; nothing was tested",
            )

            for label, text, line in broken_reloads(good):
                write_config(ctx, "reload", text)
                mark = daemon.log.mark()
                daemon.send_signal(signal.SIGHUP)
                daemon.wait_log(r"keeping the running configuration", mark)
                since = daemon.log_since(mark)
                located = rf"reload: {re.escape(config)}:{line}: \S"
                check(
                    any(re.search(located, l) for l in since),
                    f"{label}: no 'reload: {config}:{line}: ...' line in {since}",
                )
                check(
                    not any(re.search(r"\breloaded\b", l) for l in since),
                    f"{label}: broken file was loaded: {since}",
                )
                check_equal(persistent.ask(request), RELOAD_NEW_NO_PTR, f"{label}: same conn")
                with PolicyClient(endpoint) as fresh:
                    check_equal(fresh.ask(request), RELOAD_NEW_NO_PTR, f"{label}: new conn")

            # Rules reload even when a restart-only setting changed alongside.
            third = reloaded_text("550 5.7.25 Third: {client_address} has no PTR record")
            third = replace_once(third, "[daemon]\n", "[daemon]\nread_timeout_s = 7\n")
            write_config(ctx, "reload", third)
            mark = daemon.log.mark()
            daemon.send_signal(signal.SIGHUP)
            daemon.wait_log(r"\breloaded .*policy\.toml: \d+ rules", mark)
            daemon.wait_log(r"take effect at the next restart", mark, timeout=0)
            check_equal(persistent.ask(request), RELOAD_THIRD_NO_PTR, "after the third reload")


@runner.test
def sigterm_exits_cleanly_with_idle_connection_open(ctx: Context) -> None:
    with PolicyClient(ctx.daemon.endpoint("inet:127.0.0.1:")) as idle:
        request, _ = policy_request("127.0.0.2", "good.example.test")
        check_equal(idle.ask(request), "action=DUNNO", "reply before SIGTERM")
        started = time.monotonic()
        status = ctx.daemon.stop()
        took = time.monotonic() - started
        check_equal(status, 0, f"exit status after SIGTERM (took {took:.1f}s; None = killed)")
        check_equal(idle.expect_closed(2.0), b"", "idle connection after SIGTERM")


OUTAGE_SETTINGS = """
[outage]
window_s = 60
threshold_percent = 50
min_lookups = 2
action = "DUNNO"
"""


@runner.test
def dns_outage_is_announced_once_and_its_action_applies(ctx: Context) -> None:
    # The reverse zones of 127.0.0.8 and 127.0.0.9 never answer. An
    # address-literal HELO needs no lookup, so each such request is exactly
    # one upstream temperror (identical lookups are coalesced and cached, so
    # two different clients make two).
    config = write_config(ctx, "outage", policy_text() + OUTAGE_SETTINGS)
    silent = [policy_request(a, f"[{a}]")[0] for a in ("127.0.0.8", "127.0.0.9", "127.0.0.9")]
    with own_daemon(ctx, "outage", config) as daemon:
        endpoint = daemon.endpoint("inet:127.0.0.1:")
        clients = [PolicyClient(endpoint) for _ in range(2)]
        try:
            # Both at once: they time out together, and the second answer
            # reaches min_lookups.
            for client, request in zip(clients, silent):
                client.send(request)
            first = [client.read_reply() for client in clients]
        finally:
            for client in clients:
                client.sock.close()
        check(all(r.startswith("action=450 4.7.25") or r == "action=DUNNO" for r in first),
              f"replies while the outage is being noticed: {first}")
        daemon.wait_log(r"dns outage begins: 2 of 2 upstream answers")
        with PolicyClient(endpoint) as client:
            check_equal(client.ask(silent[2]), "action=DUNNO", "temperror during the outage")
            # A client whose DNS answers is still judged by the rules.
            check_equal(client.ask(policy_request("127.0.0.3", "[127.0.0.3]")[0]), NO_PTR,
                        "no PTR during the outage")
            # Good answers outnumber the failures: the outage ends, once.
            for _ in range(3):
                client.ask(policy_request("127.0.0.2", "good.example.test")[0])
        daemon.wait_log(r"dns outage ends")
        text = daemon.text()
        check_equal(text.count("dns outage begins"), 1, "outage-begins lines")
        check_equal(text.count("dns outage ends"), 1, "outage-ends lines")
        decisions = [parse_decision(l) for l in text.splitlines() if " decision " in l]
        outage_rules = [d for d in decisions if d.get("rule") == "outage"]
        check(len(outage_rules) >= 1, "no decision logged with rule=outage")
        check(all(d.get("dns_outage") == "yes" for d in outage_rules), "dns_outage=yes")


def run_explain(ctx: Context, *args: str, config: str = POLICY_FILE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ctx.binary, "explain", *args, "--config", config, *ctx.dns.daemon_args()],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


@runner.test
def explain_shows_answers_facts_rules_and_action(ctx: Context) -> None:
    result = run_explain(ctx, "127.0.0.4", "good.example.test")
    check_equal(result.returncode, 0, f"explain exit status; stderr {result.stderr!r}")
    text = result.stdout
    for needle in (
        "4.0.0.127.in-addr.arpa PTR: ok (rcode 0, ttl 300) other.example.test",
        "other.example.test A: ok (rcode 0, ttl 300) 127.0.1.99",
        "iprev = fail",
        "verified_names = -",
        "reject-no-ptr: no, iprev is fail",
        "reject-fcrdns-fail: MATCHES",
        # good.example.test is 127.0.0.2: the client's /24, tolerated.
        "helo_forward = same-network",
        "warn-helo-not-forward-confirmed: no, helo_forward is same-network",
        # .test is no TLD of the Public Suffix List; the classifier says why.
        "ptr_tld = unknown",
        "generic_ptr_reason = not-generic: no address or keyword in host part",
        "Action (rule reject-fcrdns-fail): 550 5.7.25 Client address 127.0.0.4: PTR name "
        "other.example.test does not resolve back to it",
    ):
        check(needle in text, f"explain output lacks {needle!r}:\n{text}")

    result = run_explain(ctx, "127.0.0.2", "good.example.test", "--json",
                         "--recipient", "postmaster@example.test")
    check_equal(result.returncode, 0, f"explain --json exit status; stderr {result.stderr!r}")
    report = json.loads(result.stdout)
    check_equal(report["facts"]["iprev"], "pass", "json iprev")
    check_equal(report["facts"]["helo_ptr_alignment"], "exact", "json alignment")
    check_equal(report["facts"]["helo_provider"], "n/a", "json helo_provider")
    check_equal(report["facts"]["generic_ptr_reason"],
                "not-generic: no address or keyword in host part", "json generic_ptr_reason")
    check_equal(report["rule"], "exempt-role-recipients", "json rule")
    check_equal(report["action"], "DUNNO", "json action")
    ptr = [l for l in report["lookups"] if l["type"] == "PTR"]
    check_equal([(l["name"], l["status"], l["data"]) for l in ptr],
                [("2.0.0.127.in-addr.arpa", "ok", "good.example.test")], "json PTR lookup")
    matched = [r["id"] for r in report["rules"] if r["matched"]]
    check_equal(matched[0], "exempt-role-recipients", "first matched rule in json")

    result = run_explain(ctx, "not-an-ip")
    check_equal(result.returncode, 64, "explain with a bad address")


LIVE_CASES = """
[[case]]
name = "a forward-confirmed client passes"
client_address = "127.0.0.2"
helo_name = "good.example.test"
lookup = true
expect_rule = "default"

[[case]]
name = "a PTR that does not resolve back is rejected"
client_address = "127.0.0.4"
helo_name = "good.example.test"
lookup = true
expect_rule = "reject-fcrdns-fail"
expect_action = "550 5.7.25 *"

[[case]]
name = "a wrong expectation fails"
client_address = "127.0.0.2"
helo_name = "good.example.test"
lookup = true
expect_rule = "reject-no-ptr"
"""


@runner.test
def test_runs_lookup_cases_against_live_dns(ctx: Context) -> None:
    # `lookup = true` cases take their facts from the DNS server, one
    # resolver stack shared by all of them.
    cases = os.path.join(ctx.workdir, "live-cases.toml")
    with open(cases, "w", encoding="utf-8") as f:
        f.write(LIVE_CASES)
    result = subprocess.run(
        [ctx.binary, "test", cases, "--config", POLICY_FILE, *ctx.dns.daemon_args()],
        capture_output=True, text=True, timeout=START_TIMEOUT)
    check_equal(result.returncode, 1, f"test exit status (one case is wrong); {result.stderr!r}")
    for needle in ("ok   a forward-confirmed client passes",
                   "ok   a PTR that does not resolve back is rejected",
                   "FAIL a wrong expectation fails: expected rule reject-no-ptr, got rule default",
                   "2 passed, 1 failed"):
        check(needle in result.stdout, f"test output lacks {needle!r}:\n{result.stdout}")

    # A request attribute is an option of explain only.
    result = subprocess.run([ctx.binary, "check-config", "--config", POLICY_FILE,
                             "--server-port", "25"], capture_output=True, text=True,
                            timeout=START_TIMEOUT)
    check_equal(result.returncode, 64, "check-config --server-port")
    check("is an option of explain only" in result.stderr, f"message: {result.stderr!r}")
    # --help lists those options from the same table that accepts them.
    result = subprocess.run([ctx.binary, "--help"], capture_output=True, text=True,
                            timeout=START_TIMEOUT)
    for option in ("--sender", "--recipient", "--sasl-username", "--protocol-state",
                   "--policy-context", "--server-port"):
        check(option in result.stdout, f"--help lacks {option}")


EXPLAIN_EXTRA_RULES = """
[[rule]]
id = "submission-port-only"
server_port = 587
action = "REJECT not here"

[[rule]]
id = "submission-context-only"
policy_context = "submission"
action = "REJECT not here"
"""


@runner.test
def explain_shows_every_condition_the_outage_action_and_the_header(ctx: Context) -> None:
    # The same table with two rules in front that test request attributes,
    # an [outage] action and an authserv-id: explain must say what each
    # condition saw and what the daemon's two overrides would answer.
    text = policy_text() + OUTAGE_SETTINGS + '\n[headers]\nauthserv_id = "mx.example.test"\n'
    first_rule = text.index("[[rule]]")
    config = write_config(ctx, "explain-overrides",
                          text[:first_rule] + EXPLAIN_EXTRA_RULES + "\n" + text[first_rule:])
    result = run_explain(ctx, "127.0.0.2", "good.example.test", "--server-port", "25",
                         "--policy-context", "smtpd", config=config)
    check_equal(result.returncode, 0, f"explain exit status; stderr {result.stderr!r}")
    out = result.stdout
    for needle in (
        "submission-port-only: no, server_port is 25",
        "submission-context-only: no, policy_context is smtpd",
        "Action (rule default): DUNNO",
        "First request of a message ([headers] authserv_id): PREPEND Authentication-Results: "
        "mx.example.test; iprev=pass policy.iprev=127.0.0.2 (good.example.test)",
    ):
        check(needle in out, f"explain output lacks {needle!r}:\n{out}")
    check("During a DNS outage" not in out, f"an outage line for iprev=pass:\n{out}")

    # 127.0.0.8's reverse zone never answers: iprev temperror, deferred by
    # the table, let through by [outage] action during an outage.
    result = run_explain(ctx, "127.0.0.8", "[127.0.0.8]", "--json", config=config)
    check_equal(result.returncode, 0, f"explain --json exit status; stderr {result.stderr!r}")
    report = json.loads(result.stdout)
    check_equal(report["facts"]["iprev"], "temperror", "json iprev of a silent zone")
    check_equal(report["rule"], "defer-dns-temperror", "json rule")
    check_equal(report["outage_action"], "DUNNO", "json outage_action")
    check(report["first_request_action"] is None,
          f"no header for a deferred client: {report['first_request_action']!r}")
    observed = {r["id"]: r.get("observed") for r in report["rules"]}
    check_equal(observed["submission-port-only"], "(empty)", "json observed server_port")


@runner.test
def stress_and_negation_through_the_daemon(ctx: Context) -> None:
    config = write_config(ctx, "stress-not", """
[daemon]
listen = ["inet:127.0.0.1:0"]

[resolver]
upstream = "forward"
lookup_timeout_ms = 1500

[[rule]]
id = "skip-under-stress"
stress = true
action = "DUNNO"

[[rule]]
id = "reject-unless-known"
iprev = { not = "pass" }
not = { helo_name = "good.example.test", client_address = "127.0.0.3" }
action = "550 5.7.1 {client_address}: iprev {iprev}"
""")
    # 127.0.0.9's reverse zone never answers: under stress nothing is asked.
    stressed, stressed_instance = policy_request("127.0.0.9", "good.example.test", stress="yes")
    no_ptr, _ = policy_request("127.0.0.3", "mail.example.test")
    excepted, _ = policy_request("127.0.0.3", "good.example.test")
    good, _ = policy_request("127.0.0.2", "good.example.test")
    with own_daemon(ctx, "stress-not", config) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            started = time.monotonic()
            check_equal(client.ask(stressed), "action=DUNNO", "under stress")
            check(time.monotonic() - started < 1.0, "the stressed request waited for DNS")
            check_equal(client.ask(no_ptr), "action=550 5.7.1 127.0.0.3: iprev permerror",
                        "iprev = { not = \"pass\" }")
            check_equal(client.ask(excepted), "action=DUNNO", "the not table's exception")
            check_equal(client.ask(good), "action=DUNNO", "iprev pass")
        d = daemon.decision_for(stressed_instance)
        check_equal((d.get("rule"), d.get("facts"), d.get("iprev")),
                    ("skip-under-stress", "rules", "skipped"), "the stressed request's record")


@runner.test
def dnsbl_listing_through_the_resolver(ctx: Context) -> None:
    # 127.0.0.2 is on zen.example.test (zone.testns); 127.0.0.4 is not.
    config = write_config(ctx, "dnsbl", policy_text() + """
[[rule]]
id = "reject-dnsbl"
dnsbl_listed = "zen:xbl"
action = "554 5.7.1 {client_address} is listed on {dnsbl_listed}"

[[dnsbl]]
name = "zen"
zone = "zen.example.test"
check = "client"
codes = { "127.0.0.4" = "xbl" }
""")
    listed, listed_instance = policy_request("127.0.0.2", "good.example.test")
    clean, clean_instance = policy_request("127.0.0.4", "[127.0.0.4]")
    with own_daemon(ctx, "dnsbl", config) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            check_equal(client.ask(listed), "action=554 5.7.1 127.0.0.2 is listed on zen:xbl",
                        "a listed client")
            client.ask(clean)
        d = daemon.decision_for(listed_instance)
        check_equal((d.get("client_dnsbl"), d.get("dnsbl_listed"), d.get("rule")),
                    ("listed", "zen:xbl", "reject-dnsbl"), "the listed client's record")
        d = daemon.decision_for(clean_instance)
        check_equal((d.get("client_dnsbl"), d.get("dnsbl_listed")), ("not-listed", ""),
                    "the other client's record")
        check_equal((d.get("ptr_rhsbl"), d.get("helo_rhsbl")), ("n/a", "n/a"),
                    "no list of those kinds")


@runner.test
def authentication_results_with_the_helo_results(ctx: Context) -> None:
    config = write_config(ctx, "headers-helo", policy_text() +
                          '\n[headers]\nauthserv_id = "mx.example.test"\nhelo = "yes"\n')
    aligned, _ = policy_request("127.0.0.2", "good.example.test")
    # other.example.test's address is outside the client's /24.
    misaligned, _ = policy_request("127.0.0.2", "other.example.test")
    literal, _ = policy_request("127.0.0.2", "[127.0.0.2]")
    with own_daemon(ctx, "headers-helo", config) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            check_equal(
                client.ask(aligned),
                "action=PREPEND Authentication-Results: mx.example.test; iprev=pass "
                "policy.iprev=127.0.0.2 (good.example.test); x-helo=pass "
                "smtp.helo=good.example.test policy.helo-syntax=fqdn policy.helo-forward=pass; "
                "x-ptr=pass smtp.helo=good.example.test policy.ptr=good.example.test",
                "a HELO that is the client's PTR name",
            )
            reply = client.ask(misaligned)
            check(reply.startswith("action=WARN "), f"the table still decides first: {reply!r}")
            check_equal(
                client.ask(literal),
                "action=PREPEND Authentication-Results: mx.example.test; iprev=pass "
                "policy.iprev=127.0.0.2 (good.example.test); x-helo=pass "
                'smtp.helo="[127.0.0.2]" policy.helo-syntax=address-literal; x-ptr=none '
                'smtp.helo="[127.0.0.2]"',
                "the client's own address literal",
            )


@runner.test
def authentication_results_once_per_message_and_helo_change_noted(ctx: Context) -> None:
    config = write_config(ctx, "headers", policy_text() + '\n[headers]\nauthserv_id = "mx.example.test"\n')
    first, instance = policy_request("127.0.0.2", "good.example.test", client_port="40001")
    second, _ = policy_request("127.0.0.2", "good.example.test", client_port="40001",
                               instance=instance, recipient="other@example.test")
    # smtpd reconnected in the middle of the message (its policy connection
    # reached smtpd_policy_service_max_ttl): still the same message.
    third, _ = policy_request("127.0.0.2", "good.example.test", client_port="40001",
                              instance=instance, recipient="third@example.test")
    rejected, _ = policy_request("127.0.0.3", "good.example.test", client_port="40002")
    # Same SMTP session (address and port), new HELO: noted.
    changed, changed_instance = policy_request("127.0.0.3", "mail.example.test",
                                               client_port="40002")
    with own_daemon(ctx, "headers", config) as daemon:
        mark = daemon.log.mark()
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            check_equal(
                client.ask(first),
                "action=PREPEND Authentication-Results: mx.example.test; iprev=pass "
                "policy.iprev=127.0.0.2 (good.example.test)",
                "first request of a message",
            )
            check_equal(client.ask(second), "action=DUNNO", "second request of the same message")
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            check_equal(client.ask(third), "action=DUNNO",
                        "the same message after a reconnect: no second header")
            check_equal(client.ask(rejected), NO_PTR, "a rejection is never replaced")
            client.ask(changed)
        lines = daemon.wait_log_count(r" decision ", 5, mark)
        decisions = [parse_decision(l) for l in lines]
        check_equal([d.get("helo_changed") for d in decisions],
                    ["no", "no", "no", "no", "yes"], "helo_changed per request")
        check_equal([d.get("facts") for d in decisions[:3]], ["dns", "instance", "instance"],
                    "facts of the message, before and after the reconnect")
        # Two check_policy_service entries naming this daemon give smtpd two
        # open connections asking about one message: one header, not two.
        one, shared = policy_request("127.0.0.2", "good.example.test", client_port="40003")
        other, _ = policy_request("127.0.0.2", "good.example.test", client_port="40003",
                                  instance=shared, policy_context="data")
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as a, PolicyClient(
            daemon.endpoint("inet:127.0.0.1:")
        ) as b:
            check(a.ask(one).startswith("action=PREPEND Authentication-Results:"),
                  "the message's first request on one connection")
            check_equal(b.ask(other), "action=DUNNO",
                        "the same message on a second open connection")


SHADOW_RULE = """
[[rule]]
id = "shadow-strict-no-ptr"
mode = "shadow"
iprev = "permerror"
action = "554 5.7.25 would reject {client_address} earlier"
"""


@runner.test
def shadow_rules_and_dry_run_log_without_deciding(ctx: Context) -> None:
    base = policy_text()
    # The shadow rule goes first, so it is always considered.
    first_rule = base.index("[[rule]]")
    shadowed = base[:first_rule] + SHADOW_RULE.lstrip() + "\n" + base[first_rule:]
    config = write_config(ctx, "shadow", shadowed)
    request, instance = policy_request("127.0.0.3", "good.example.test")
    with own_daemon(ctx, "shadow", config) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            check_equal(client.ask(request), NO_PTR, "the shadow rule does not decide")
        d = daemon.decision_for(instance)
        check_equal(d.get("rule"), "reject-no-ptr", "deciding rule")
        check_equal(d.get("shadow"), "shadow-strict-no-ptr", "shadow rules that matched")
        mark = daemon.log.mark()
        daemon.send_signal(signal.SIGUSR1)
        daemon.wait_log(r"rule counters: rule=shadow-strict-no-ptr decided=0 shadow_matched=1",
                        mark)
        daemon.wait_log(r"rule counters: rule=reject-no-ptr decided=1 shadow_matched=0", mark)

    dry = replace_once(base, 'default_action = "DUNNO"\n',
                       'default_action = "DUNNO"\ndry_run = true\n')
    config = write_config(ctx, "dry-run", dry)
    request, instance = policy_request("127.0.0.3", "good.example.test")
    with own_daemon(ctx, "dry-run", config) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            check_equal(client.ask(request), "action=DUNNO", "dry-run answer")
        d = daemon.decision_for(instance)
        check_equal(d.get("rule"), "reject-no-ptr", "dry-run: the rule that would decide")
        check_equal(d.get("dry_run"), "yes", "dry-run flag")
        check(d.get("action", "").startswith("550 5.7.25"), f"dry-run: would-be action {d}")


def start_and_run(ctx: Context, stack: contextlib.ExitStack) -> None:
    """Starts the test DNS and the shared daemon on `stack`, then the tests;
    a failure to start is recorded by the runner."""
    ctx.dns = runner.set_up(stack, "test DNS set-up", DnsFixture(ctx.workdir), "ldns-testns output")
    if ctx.dns is None:
        return
    listen = ["inet:127.0.0.1:0", f"unix:{ctx.workdir}/policy.sock"]
    if ipv6_loopback_available():
        listen.append("inet:[::1]:0")
    args = [a for ep in listen for a in ("--listen", ep)] + ctx.dns.daemon_args()
    daemon = Daemon(ctx.binary, POLICY_FILE, args)
    ctx.daemon = runner.set_up(stack, "daemon start-up", daemon, "rdns-policyd stderr")
    if ctx.daemon is not None:
        runner.run(ctx)


def main() -> int:
    started = time.monotonic()
    binary = binary_from_argv()
    with workdir("rdns-e2e-daemon-") as wd:
        os.chmod(wd, 0o755)
        ctx = Context()
        ctx.binary = binary
        ctx.workdir = wd
        with contextlib.ExitStack() as stack:
            start_and_run(ctx, stack)
        return runner.finish(started)


if __name__ == "__main__":
    sys.exit(main())
