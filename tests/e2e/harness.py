"""Shared helpers for the end-to-end tests (Python 3 standard library only).

What lives here: a tiny test runner (prints "N passed, M failed", exit code;
set_up() starts a fixture and records a failure to start), the test DNS
world (DnsFixture: ldns-testns serving zone.testns, a UDP socket that never
answers, the libunbound config that points the daemon at them), the daemon
with waits on its log, a policy-protocol client that speaks like Postfix's
smtpd (try_ask() tells a refused connection apart), and a parser for the
daemon's `decision` log lines. The processes themselves (start, readiness,
stop, free ports, DNS servers) are tests/support/procs.py's, shared with
the benchmarks.

Every wait is bounded, every process started here is killed and reaped by
whoever started it (use the context managers), and on failure the runner dumps
the diagnostics the tests registered (daemon stderr, ldns-testns output, ...);
E2E_VERBOSE=1 dumps them after a passing run too.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import tempfile
import time
import traceback

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
ZONE_FILE = os.path.join(E2E_DIR, "zone.testns")
POLICY_FILE = os.path.join(E2E_DIR, "policy.toml")

SUPPORT_DIR = os.path.join(os.path.dirname(E2E_DIR), "support")
if SUPPORT_DIR not in sys.path:
    sys.path.insert(0, SUPPORT_DIR)

import procs  # noqa: E402
from procs import START_TIMEOUT, SilentUdp, TestDns, write_unbound_config  # noqa: E402

# Generous upper bounds (START_TIMEOUT is procs' too): they only matter when
# something is broken, and then they keep the suite from hanging.
REPLY_TIMEOUT = 10.0

# Clients whose reverse zone never answers (see SilentUdp / DnsFixture).
# 127.0.0.8 is kept for the one test that needs a lookup nobody made before.
SILENT_CLIENTS = ("127.0.0.9", "127.0.0.8")


# --------------------------------------------------------------------------
# Runner


class SkipTest(Exception):
    """Raised by a test that cannot run here (e.g. no IPv6 loopback)."""


class Runner:
    """Runs registered tests in order; collects failures; dumps diagnostics."""

    def __init__(self, title: str):
        self.title = title
        self.tests: list = []
        self.diagnostics: list = []  # callables returning (label, text)
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def add_diagnostic(self, label: str, producer) -> None:
        self.diagnostics.append((label, producer))

    def run_one(self, name: str, fn, *args) -> bool:
        started = time.monotonic()
        try:
            fn(*args)
        except SkipTest as skip:
            self.skipped += 1
            print(f"SKIP {name}: {skip}", flush=True)
            return True
        except Exception:  # noqa: BLE001 - a test failure of any kind
            self.failed += 1
            print(f"FAIL {name} ({time.monotonic() - started:.2f}s)", flush=True)
            traceback.print_exc(file=sys.stdout)
            return False
        self.passed += 1
        print(f"ok   {name} ({time.monotonic() - started:.2f}s)", flush=True)
        return True

    def run(self, *args) -> None:
        for fn in self.tests:
            self.run_one(fn.__name__, fn, *args)

    def set_up(self, stack: contextlib.ExitStack, what: str, fixture, label: str):
        """Enters `fixture` (a DnsFixture, a Daemon) on `stack` and returns
        it; its output is registered first as the diagnostic `label`, so a
        failed start shows it too. On failure records `what` as a set-up
        failure and returns None."""
        self.add_diagnostic(label, fixture.text)
        try:
            return stack.enter_context(fixture)
        except Exception:  # noqa: BLE001 - a set-up failure of any kind
            self.fail_setup(what)
            return None

    def fail_setup(self, what: str) -> None:
        """Records a failure outside any test (set-up or tear-down)."""
        self.failed += 1
        print(f"FAIL {what}", flush=True)
        traceback.print_exc(file=sys.stdout)

    def finish(self, started: float) -> int:
        if self.failed or os.environ.get("E2E_VERBOSE"):
            self.dump_diagnostics()
        extra = f", {self.skipped} skipped" if self.skipped else ""
        print(f"{self.title}: {time.monotonic() - started:.1f}s", flush=True)
        print(f"{self.passed} passed, {self.failed} failed{extra}", flush=True)
        return 1 if self.failed or not self.passed else 0

    def dump_diagnostics(self) -> None:
        for label, producer in self.diagnostics:
            try:
                text = producer()
            except Exception as exc:  # noqa: BLE001 - diagnostics must not mask the failure
                text = f"(could not collect: {exc!r})"
            print(f"----- {label} -----")
            print(text if text else "(empty)")
        print("----- end of diagnostics -----", flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_equal(actual, expected, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


# --------------------------------------------------------------------------
# DNS: ldns-testns + a silent UDP socket + the libunbound config


def reverse_name_v4(address: str) -> str:
    return ".".join(reversed(address.split("."))) + ".in-addr.arpa."


class DnsFixture:
    """The test DNS world: ldns-testns serving zone.testns, the silent
    socket, and the libunbound config: 127.in-addr.arpa. and .test made
    transparent so the forwarder is asked, and the silent clients' reverse
    names sent to a socket that never answers."""

    def __init__(self, workdir: str, zone_file: str = ZONE_FILE, transparent: tuple = ()):
        self.workdir = workdir
        self.dns = TestDns(zone_file)
        self.transparent = list(transparent)  # more zones libunbound must not answer itself

    def __enter__(self) -> "DnsFixture":
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.dns)
            self.silent = stack.enter_context(SilentUdp())
            self.unbound_config = write_unbound_config(
                self.workdir,
                ["127.in-addr.arpa.", "test.", *self.transparent],
                unblock_lan_zones=True,
                forward_zones=[(reverse_name_v4(c), self.silent.port) for c in SILENT_CLIENTS],
            )
            stack.pop_all()  # all up: from here on __exit__ stops them
        return self

    def __exit__(self, *exc) -> None:
        self.silent.__exit__(*exc)
        self.dns.__exit__(*exc)

    def text(self) -> str:
        return self.dns.text()

    def daemon_args(self) -> list[str]:
        return ["--forwarder", self.dns.forwarder, "--unbound-config", self.unbound_config]


# --------------------------------------------------------------------------
# The daemon


class Daemon(procs.Daemon):
    """rdns-policyd in the foreground (see procs.Daemon), with the waits on
    its log that the tests assert on."""

    def wait_log(self, pattern: str, start: int = 0, timeout: float = REPLY_TIMEOUT) -> str:
        """The first log line at index >= start matching the regex `pattern`;
        raises if none arrives within timeout."""
        line = self.log.wait_for(lambda l: re.search(pattern, l) is not None, timeout, start)
        check(line is not None, f"no log line matching {pattern!r} within {timeout}s")
        return line

    def wait_log_count(
        self, pattern: str, count: int, start: int = 0, timeout: float = REPLY_TIMEOUT
    ) -> list[str]:
        """The first `count` log lines at index >= start matching `pattern`;
        raises if fewer arrive within timeout."""
        seen: list[str] = []

        def counted(line: str) -> bool:
            if re.search(pattern, line) is not None:
                seen.append(line)
            return len(seen) >= count

        found = self.log.wait_for(counted, timeout, start)
        check(found is not None, f"{len(seen)} of {count} log lines matching {pattern!r}")
        return seen

    def log_since(self, start: int) -> list[str]:
        return self.log.since(start)

    def send_signal(self, signum: int) -> None:
        check(self.proc.poll() is None, f"daemon exited ({self.proc.returncode}) before a signal")
        self.proc.send_signal(signum)

    def decision_for(self, instance: str, timeout: float = REPLY_TIMEOUT) -> dict:
        """The parsed decision line whose instance= is `instance`."""
        line = self.log.wait_for(
            lambda l: "decision" in l and parse_decision(l).get("instance") == instance, timeout
        )
        check(line is not None, f"no decision line with instance={instance}")
        return parse_decision(line)


def policy_rule_ids(path: str = POLICY_FILE) -> list[str]:
    """The rule ids of a rule file, to tell "no rule matched" apart."""
    with open(path, encoding="utf-8") as f:
        return re.findall(r'^id\s*=\s*"([^"]+)"', f.read(), re.M)


def check_no_rule_matched(logged_rule: str | None, what: str) -> None:
    check(logged_rule is not None, f"{what}: no rule= in the decision line")
    check(
        logged_rule not in policy_rule_ids(),
        f"{what}: rule {logged_rule} matched, expected the default action",
    )


# --------------------------------------------------------------------------
# Log parsing

KV_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def unquote(value: str) -> str:
    """Undoes the log's quoting: \\" and \\\\; \\xHH stays as the four
    characters it was written as (that is what the tests look for)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        body = value[1:-1]
        return re.sub(r'\\(["\\])', r"\1", body)
    return value


def parse_decision(line: str) -> dict:
    """key=value pairs after the word `decision`; raw (quoted) forms are kept
    under the key prefixed with '_raw_'."""
    at = line.find("decision")
    if at < 0:
        return {}
    fields: dict = {}
    for m in KV_RE.finditer(line, at + len("decision")):
        fields[m.group(1)] = unquote(m.group(2))
        fields["_raw_" + m.group(1)] = m.group(2)
    return fields


# --------------------------------------------------------------------------
# The policy protocol, as Postfix's smtpd speaks it

_counter = [0]


def new_instance() -> str:
    _counter[0] += 1
    return f"e2e{os.getpid():x}.{_counter[0]}"


def policy_request(client_address: str, helo_name: str, **overrides) -> tuple[bytes, str]:
    """A request like smtpd sends at RCPT stage, and its (unique) instance."""
    instance = overrides.pop("instance", None) or new_instance()
    attrs = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": client_address,
        "client_name": "unknown",
        "client_port": "54321",
        "reverse_client_name": "unknown",
        "server_address": "127.0.0.1",
        "server_port": "25",
        "helo_name": helo_name,
        "sender": "sender@example.com",
        "recipient": "user@example.test",
        "recipient_count": "0",
        "queue_id": "",
        "instance": instance,
        "size": "0",
        "etrn_domain": "",
        "stress": "",
        "sasl_method": "",
        "sasl_username": "",
        "sasl_sender": "",
        "ccert_subject": "",
        "ccert_issuer": "",
        "ccert_fingerprint": "",
        "encryption_protocol": "",
        "encryption_cipher": "",
        "encryption_keysize": "0",
        "policy_context": "",
    }
    attrs.update(overrides)
    body = "".join(f"{k}={v}\n" for k, v in attrs.items()) + "\n"
    return body.encode("utf-8", "surrogateescape"), instance


def connect(endpoint: str, timeout: float = REPLY_TIMEOUT) -> socket.socket:
    """Connects to "inet:HOST:PORT", "inet:[V6]:PORT" or "unix:/path"."""
    kind, _, rest = endpoint.partition(":")
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = rest
    elif kind == "inet":
        host, _, port = rest.rpartition(":")
        if host.startswith("["):
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            address = (host[1:-1], int(port))
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (host, int(port))
    else:
        raise ValueError(f"bad endpoint {endpoint}")
    sock.settimeout(timeout)
    sock.connect(address)
    return sock


class PolicyClient:
    """One connection to the daemon; replies are read up to the empty line."""

    def __init__(self, endpoint: str):
        self.sock = connect(endpoint)
        self.buffer = b""

    def __enter__(self) -> "PolicyClient":
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self, timeout: float = REPLY_TIMEOUT) -> str:
        """The next reply's first line ("action=..."); raises if the
        connection closes or nothing complete arrives in time."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            check(remaining > 0, f"no complete reply within {timeout}s; have {self.buffer!r}")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            check(chunk != b"", f"connection closed before a reply; have {self.buffer!r}")
            self.buffer += chunk
        return self._take_reply()

    def try_ask(self, data: bytes, timeout: float = REPLY_TIMEOUT) -> str | None:
        """Like ask(), but None when the daemon closes the connection without
        sending a byte (a refused connection); a partial reply still raises."""
        try:
            self.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return None
        return self.read_or_closed(timeout)

    def read_or_closed(self, timeout: float = REPLY_TIMEOUT) -> str | None:
        """The next reply, or None when the daemon closed the connection
        before sending a byte of it; a partial reply raises."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            check(remaining > 0, f"no complete reply within {timeout}s; have {self.buffer!r}")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                check(self.buffer == b"", f"connection closed mid-reply; have {self.buffer!r}")
                return None
            self.buffer += chunk
        return self._take_reply()

    def _take_reply(self) -> str:
        reply, _, self.buffer = self.buffer.partition(b"\n\n")
        text = reply.decode("utf-8", "backslashreplace")
        check("\n" not in text, f"reply has more than one line: {text!r}")
        check(text.startswith("action="), f"reply is not action=...: {text!r}")
        return text

    def ask(self, data: bytes) -> str:
        self.send(data)
        return self.read_reply()

    def expect_closed(self, timeout: float = REPLY_TIMEOUT) -> bytes:
        """Waits until the daemon closes the connection; returns whatever it
        sent before closing (tests expect nothing)."""
        deadline = time.monotonic() + timeout
        received = self.buffer
        while True:
            remaining = deadline - time.monotonic()
            check(remaining > 0, f"connection not closed within {timeout}s; got {received!r}")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return received
            if not chunk:
                return received
            received += chunk


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def workdir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix)


def binary_from_argv() -> str:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} PATH-TO-rdns-policyd", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        print(f"{binary}: not an executable", file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
    return binary


def main_with_dns(runner: Runner, prefix: str, make_context, set_up=None, zone=None,
                  transparent: tuple = ()) -> int:
    """The main() of an e2e script whose tests need only the DNS fixture:
    a work directory, a context from make_context() with .binary, .workdir
    and .dns set, every test of `runner` run on it; the exit status.
    set_up(ctx, stack), when given, starts what the tests share once the
    DNS is up (entering it on `stack`) and returns False if that failed.
    zone(ctx), when given, writes the ldns-testns data to serve instead of
    zone.testns and returns its path (an exception is a set-up failure).
    transparent: more zones for DnsFixture to send to the test DNS."""
    started = time.monotonic()
    binary = binary_from_argv()
    with workdir(prefix) as wd:
        ctx = make_context()
        ctx.binary = binary
        ctx.workdir = wd
        zone_file = ZONE_FILE
        if zone is not None:
            try:
                zone_file = zone(ctx)
            except Exception:  # noqa: BLE001 - reported as a set-up failure
                runner.fail_setup("writing the DNS data")
                return runner.finish(started)
        with contextlib.ExitStack() as stack:
            dns = DnsFixture(wd, zone_file, transparent)
            ctx.dns = runner.set_up(stack, "test DNS set-up", dns, "ldns-testns output")
            if ctx.dns is not None and (set_up is None or set_up(ctx, stack)):
                runner.run(ctx)
        return runner.finish(started)
