"""Shared helpers for the end-to-end tests (Python 3 standard library only).

What lives here: a tiny test runner (prints "N passed, M failed", exit code),
the test DNS server (ldns-testns on a random loopback port, plus a UDP socket
that never answers), the libunbound config that points the daemon at them,
the daemon process (readiness from its stderr, bounded waits on its log,
signals, SIGTERM), a policy-protocol client that speaks like Postfix's smtpd
(try_ask() tells a refused connection apart), and a parser for the daemon's
`decision` log lines.

Every wait is bounded, every process started here is killed and reaped by
whoever started it (use the context managers), and on failure the runner dumps
the diagnostics the tests registered (daemon stderr, ldns-testns output, ...);
E2E_VERBOSE=1 dumps them after a passing run too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
ZONE_FILE = os.path.join(E2E_DIR, "zone.testns")
POLICY_FILE = os.path.join(E2E_DIR, "policy.toml")

# Generous upper bounds: they only matter when something is broken, and then
# they keep the suite from hanging.
START_TIMEOUT = 15.0
REPLY_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0

# Clients whose reverse zone never answers (see SilentUdp / unbound_config).
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
# Processes


class OutputCollector:
    """Reads a pipe line by line on a thread; lets tests wait for a line."""

    def __init__(self, stream, label: str):
        self.label = label
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "backslashreplace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def wait_for(self, predicate, timeout: float, start: int = 0):
        """Returns the first line at index >= start satisfying predicate,
        or None when timeout passes or the stream ends without one."""
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    if predicate(self.lines[index]):
                        return self.lines[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def join(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


def stop_process(proc: subprocess.Popen, timeout: float = EXIT_TIMEOUT) -> int | None:
    """SIGTERM, bounded wait, then SIGKILL. Returns the exit status of a
    clean exit, or None if it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return None


# --------------------------------------------------------------------------
# DNS: ldns-testns + a silent UDP socket + the libunbound config


class TestDns:
    """ldns-testns serving zone.testns on 127.0.0.1:<random>."""

    def __init__(self, zone_file: str = ZONE_FILE):
        self.zone_file = zone_file
        self.proc: subprocess.Popen | None = None
        self.out: OutputCollector | None = None
        self.port = 0

    def __enter__(self) -> "TestDns":
        exe = shutil.which("ldns-testns")
        check(exe is not None, "ldns-testns is not installed (package ldnsutils)")
        # ldns-testns -r picks a random port; when that one is taken, its
        # retry binds the same socket again, fails with EINVAL and exits. A
        # fresh server picks a fresh port.
        for _ in range(5):
            self.proc = subprocess.Popen(
                [exe, "-r", self.zone_file],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            self.out = OutputCollector(self.proc.stdout, "ldns-testns")
            line = self.out.wait_for(lambda l: "Listening on port" in l, START_TIMEOUT)
            if line is not None:
                self.port = int(line.rsplit(" ", 1)[1])
                return self
            text = self.out.text()
            self.__exit__(None, None, None)
            if "bind()" not in text:
                break
        raise RuntimeError("ldns-testns did not start:\n" + text)

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            stop_process(self.proc, 3)
            self.out.join()
            self.proc.stdout.close()

    def text(self) -> str:
        return self.out.text() if self.out else ""

    @property
    def forwarder(self) -> str:
        return f"127.0.0.1@{self.port}"


class SilentUdp:
    """A bound UDP socket that is never read: a nameserver that never answers."""

    def __enter__(self) -> "SilentUdp":
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


def reverse_name_v4(address: str) -> str:
    return ".".join(reversed(address.split("."))) + ".in-addr.arpa."


def write_unbound_config(directory: str, silent_port: int) -> str:
    """libunbound would answer 127.in-addr.arpa and .test itself (NXDOMAIN);
    make them transparent so the forwarder is asked, keep them insecure so no
    DNSSEC chain is sought on the real internet, and send the one silent
    clients' reverse names to a socket that never answers."""
    path = os.path.join(directory, "unbound.conf")
    silent_zones = "".join(
        f'forward-zone:\n  name: "{reverse_name_v4(c)}"\n  forward-addr: 127.0.0.1@{silent_port}\n'
        for c in SILENT_CLIENTS
    )
    with open(path, "w", encoding="ascii") as f:
        f.write(
            "server:\n"
            '  local-zone: "127.in-addr.arpa." transparent\n'
            '  local-zone: "test." transparent\n'
            "  unblock-lan-zones: yes\n"
            "  insecure-lan-zones: yes\n"
            '  domain-insecure: "test."\n'
            '  domain-insecure: "127.in-addr.arpa."\n' + silent_zones
        )
    return path


class DnsFixture:
    """The test DNS world: ldns-testns, the silent socket, the unbound config."""

    def __init__(self, workdir: str):
        self.workdir = workdir

    def __enter__(self) -> "DnsFixture":
        self.dns = TestDns().__enter__()
        try:
            self.silent = SilentUdp().__enter__()
        except Exception:
            self.dns.__exit__(None, None, None)
            raise
        self.unbound_config = write_unbound_config(self.workdir, self.silent.port)
        return self

    def __exit__(self, *exc) -> None:
        self.silent.__exit__(*exc)
        self.dns.__exit__(*exc)

    def daemon_args(self) -> list[str]:
        return ["--forwarder", self.dns.forwarder, "--unbound-config", self.unbound_config]


# --------------------------------------------------------------------------
# The daemon

LISTENING_RE = re.compile(r"listening on (\S+)")


class Daemon:
    """rdns-policyd in the foreground; ready when it logs `ready`."""

    def __init__(self, binary: str, config: str, extra_args: list[str]):
        self.binary = binary
        self.argv = [binary, "--config", config, *extra_args]
        self.proc: subprocess.Popen | None = None
        self.log: OutputCollector | None = None
        self.endpoints: list[str] = []

    def __enter__(self) -> "Daemon":
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.log = OutputCollector(self.proc.stderr, "rdns-policyd")
        ready = self.log.wait_for(lambda l: re.search(r"\bready\b", l) is not None, START_TIMEOUT)
        if ready is None:
            status = self.proc.poll()
            self.__exit__(None, None, None)
            raise RuntimeError(
                f"daemon not ready within {START_TIMEOUT}s (exit status {status}):\n"
                + " ".join(self.argv)
                + "\n"
                + self.log.text()
            )
        for line in self.log.lines:
            m = LISTENING_RE.search(line)
            if m:
                self.endpoints.append(m.group(1))
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)
        if self.log is not None:
            self.log.join()

    def endpoint(self, prefix: str) -> str:
        """The actual endpoint logged for a listener, e.g. prefix
        "inet:127.0.0.1:" -> "inet:127.0.0.1:43211"."""
        for ep in self.endpoints:
            if ep.startswith(prefix):
                return ep
        raise AssertionError(f"no 'listening on {prefix}...' line; have {self.endpoints}")

    def terminate(self, timeout: float = EXIT_TIMEOUT) -> int | None:
        """SIGTERM and the exit status (None if it had to be killed)."""
        status = stop_process(self.proc, timeout)
        self.log.join()
        return status

    def text(self) -> str:
        return self.log.text() if self.log else ""

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
        with self.log._cond:  # noqa: SLF001 - the collector's own lock
            return list(self.log.lines[start:])

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


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (callers retry on collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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
