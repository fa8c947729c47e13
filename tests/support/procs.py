"""Helper processes of the end-to-end tests and the benchmarks, on loopback.

One implementation of what tests/e2e/ and tests/bench/ both need (Python 3
standard library only):

- free_port(): a 127.0.0.1 port that was free for TCP (and UDP) a moment ago;
- stop_process(): SIGTERM, a bounded wait, then SIGKILL; always reaped;
- Process: a child started with a readiness signal, either the first line
  of its output matching a regex (read by an OutputCollector) or a probe
  polled until it succeeds; start_retrying() starts a fresh one again when a
  start fails, e.g. because its port was taken in between;
- Server / Daemon: a server that logs `listening on ENDPOINT` per listener
  and then `ready` (rdns-policyd, bench-ceiling), started on port 0;
  serve_on_free_port(): one whose port we choose, ready when it accepts;
- TestDns (ldns-testns) and Nsd (nsd with its query counters), each a
  DnsServer whose `forwarder` is the daemon's --forwarder; SilentUdp (a
  nameserver that never answers); write_unbound_config() (the libunbound
  configuration that sends the daemon's lookups to them).

Contract: nothing here binds, connects or sends anywhere but 127.0.0.1.
Every wait has a time limit, and readiness is a signal from the helper (a
line, an answer, an accepted connection), never a fixed sleep. Whoever
starts a process stops it: use the context managers, or stop() in a
finally. stop() is idempotent and returns the exit status of a clean exit,
None if the process had to be killed. A start that fails raises NotReady
(a RuntimeError) with the helper's exit status and output in the message,
after the helper has been stopped and reaped.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

LOOPBACK = "127.0.0.1"

# Generous upper bounds: they only matter when something is broken, and then
# they keep the caller from hanging. Callers with slower helpers pass more.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# After SIGKILL the process is gone at once; the bound only guards against
# one stuck in the kernel.
KILL_TIMEOUT = 5.0
# How much of a log file a NotReady message quotes.
LOG_TAIL_CHARS = 8000


# --------------------------------------------------------------------------
# Ports and stopping


def free_port(udp: bool = False) -> int:
    """A port on 127.0.0.1 free for TCP (and for UDP too, when `udp`) right
    now. Nothing holds it: the helper that binds it may lose it to another
    process in between, so callers start on it with start_retrying()."""
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
    for _ in range(50):
        with socket.socket(socket.AF_INET, kinds[0]) as first:
            first.bind((LOOPBACK, 0))
            port = first.getsockname()[1]
            if all(_bindable(kind, port) for kind in kinds[1:]):
                return port
    raise RuntimeError("no free port found on 127.0.0.1")


def _bindable(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM, bounded wait, then SIGKILL; the process is reaped either way.
    Returns the exit status of a clean exit (or of an earlier one), None if
    it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(KILL_TIMEOUT)
        return None


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, in seconds (/proc/PID/stat fields
    14 and 15; the command name before them may hold spaces and ends at the
    last ')')."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# Processes


class OutputCollector:
    """Reads a pipe line by line on a thread; lets callers wait for a line."""

    def __init__(self, stream, label: str):
        self.label = label
        self.lines: list[str] = []
        self._stream = stream
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

    def since(self, start: int) -> list[str]:
        with self._cond:
            return list(self.lines[start:])

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def close(self, timeout: float = 2.0) -> None:
        """Waits (bounded) for the end of the stream, then closes our end.
        Not while the reader may still be in readline: closing a file under
        a blocked reader is a race (a grandchild may hold the pipe open)."""
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._stream.close()


class NotReady(RuntimeError):
    """A helper did not become ready; it has been stopped and reaped.
    `output` is what it wrote (the collected lines or its log file)."""

    def __init__(self, message: str, output: str):
        super().__init__(message)
        self.output = output


class Process:
    """One helper process from start() (or `with`) to stop(); always reaped.

    Readiness is one of:
      ready=REGEX  its stderr (and stdout, when merge_stdout) is read by an
                   OutputCollector (`log`); ready at the first line matching,
                   kept as `ready_line`;
      probe=FN     its stderr goes to log_path (or /dev/null) and nobody reads
                   it while it runs: for a server whose log lines must not
                   cost a reader's CPU (a benchmark) or that logs nothing when
                   ready (nsd). FN() is polled every poll_interval s until it
                   returns True: there is no event to wait on, only time.
    Either way the wait ends after start_timeout s, or as soon as the process
    exits. `port` is the loopback port it serves, when the caller chose it.
    """

    def __init__(
        self,
        argv: list[str],
        what: str,
        *,
        ready: str | None = None,
        probe=None,
        merge_stdout: bool = False,
        log_path: str | None = None,
        port: int = 0,
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
        poll_interval: float = 0.02,
        env: dict[str, str] | None = None,
    ):
        if (ready is None) == (probe is None):
            raise ValueError("a Process needs exactly one of ready= and probe=")
        self.argv = argv
        self.what = what
        self.ready = re.compile(ready) if ready is not None else None
        self.probe = probe
        self.merge_stdout = merge_stdout
        self.log_path = log_path
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        # Variables added to (or replacing those of) our own environment.
        self.env = dict(os.environ, **env) if env else None
        self.proc: subprocess.Popen | None = None
        self.log: OutputCollector | None = None
        self.ready_line: str | None = None

    def __enter__(self) -> "Process":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Process":
        """Starts the process and waits until it is ready; raises NotReady
        (after stopping it) if it is not."""
        if self.ready is not None:
            ready = self._start_collected()
        else:
            ready = self._start_probed()
        if not ready:
            # Stopped and reaped first: a helper whose output just ended may
            # not have been reaped yet, and its status is the message.
            self.stop()
            status = self.proc.returncode
            output = self.text()
            raise NotReady(
                f"{self.what} not ready within {self.start_timeout:g}s (exit status {status}): "
                + " ".join(self.argv)
                + "\n"
                + (output or "(no output)"),
                output,
            )
        return self

    def _start_collected(self) -> bool:
        stdout = subprocess.PIPE if self.merge_stdout else subprocess.DEVNULL
        stderr = subprocess.STDOUT if self.merge_stdout else subprocess.PIPE
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=self.env
        )
        stream = self.proc.stdout if self.merge_stdout else self.proc.stderr
        self.log = OutputCollector(stream, self.what)
        self.ready_line = self.log.wait_for(
            lambda line: self.ready.search(line) is not None, self.start_timeout
        )
        return self.ready_line is not None

    def _start_probed(self) -> bool:
        err = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env=self.env
            )
        finally:
            if self.log_path:
                err.close()  # the child has its own copy
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.probe():
                return True
            time.sleep(self.poll_interval)
        return False

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM and the exit status (None if it had to be killed); the
        output read so far stays available. Safe to call more than once."""
        if self.proc is None:
            return None
        status = stop_process(self.proc, self.stop_timeout if timeout is None else timeout)
        if self.log is not None:
            self.log.close()
        return status

    def text(self) -> str:
        """What it wrote so far: the collected lines, or its log file's end."""
        if self.log is not None:
            return self.log.text()
        if self.log_path:
            return file_tail(self.log_path)
        return ""


def file_tail(path: str, limit: int = LOG_TAIL_CHARS) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        return f"({path}: {exc})"
    return text if len(text) <= limit else "...\n" + text[-limit:]


def start_retrying(make, attempts: int, retry_if=lambda failure: True) -> Process:
    """Starts make()'s fresh Process, up to `attempts` times, and returns the
    first that became ready; re-raises the last NotReady. A helper binding a
    port chosen a moment earlier (by free_port(), or by itself, as
    ldns-testns -r does) can lose it to another process: a fresh attempt
    picks a fresh port. retry_if(failure) says whether a failure is worth
    another attempt."""
    failure: NotReady | None = None
    for _ in range(attempts):
        try:
            return make().start()
        except NotReady as exc:
            failure = exc
            if not retry_if(exc):
                break
    raise failure


# rdns-policyd logs "listening on EP" for each policy listener and "metrics
# listening on EP" for its metrics endpoint.
LISTENING_RE = re.compile(r"(metrics )?listening on (\S+)")


class Server(Process):
    """A server that logs `listening on ENDPOINT` once per listener and then
    `ready` on stderr (rdns-policyd, bench-ceiling). Started on port 0, so
    there is no port to race for; `endpoints` are what it logged."""

    def __init__(self, argv: list[str], what: str, **options):
        super().__init__(argv, what, ready=r"\bready\b", **options)
        self.endpoints: list[str] = []
        self.metrics_endpoints: list[str] = []

    def start(self) -> "Server":
        super().start()
        for line in self.log.since(0):
            m = LISTENING_RE.search(line)
            if m:
                (self.metrics_endpoints if m.group(1) else self.endpoints).append(m.group(2))
        return self

    def endpoint(self, prefix: str) -> str:
        """The actual endpoint logged for a listener, e.g. prefix
        "inet:127.0.0.1:" -> "inet:127.0.0.1:43211"."""
        for ep in self.endpoints:
            if ep.startswith(prefix):
                return ep
        raise AssertionError(f"no 'listening on {prefix}...' line; have {self.endpoints}")


class Daemon(Server):
    """rdns-policyd in the foreground with a config and more arguments
    (--listen, --forwarder, ...); ready when it logs `ready`."""

    def __init__(self, binary: str, config: str, extra_args: list[str], **options):
        super().__init__([binary, "--config", config, *extra_args], "rdns-policyd", **options)
        self.binary = binary


def accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def serve_on_free_port(
    make_argv, what: str, log_path: str | None = None, start_timeout: float = START_TIMEOUT
):
    """A server listening on 127.0.0.1:PORT, PORT chosen by free_port() and
    given to make_argv(PORT); ready when it accepts a connection; stopped when
    the block ends. Its stderr goes to log_path or /dev/null (see Process:
    probe=). Three attempts, for a port taken in between."""

    def attempt() -> Process:
        port = free_port()
        return Process(
            make_argv(port),
            what,
            probe=lambda: accepts_tcp(port),
            log_path=log_path,
            port=port,
            start_timeout=start_timeout,
        )

    server = start_retrying(attempt, 3)
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------
# DNS servers


class DnsServer:
    """A DNS server on 127.0.0.1:`port`, the daemon's forwarder; `server` is
    its Process once __enter__ has started it, stopped by __exit__."""

    def __init__(self, start_timeout: float):
        self.start_timeout = start_timeout
        self.server: Process | None = None
        self.port = 0

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()

    def text(self) -> str:
        return self.server.text() if self.server else ""

    @property
    def forwarder(self) -> str:
        return f"{LOOPBACK}@{self.port}"


class TestDns(DnsServer):
    """ldns-testns serving a zone file on 127.0.0.1 at a port it picks."""

    def __init__(self, zone_file: str, start_timeout: float = START_TIMEOUT):
        super().__init__(start_timeout)
        self.zone_file = zone_file

    def __enter__(self) -> "TestDns":
        exe = shutil.which("ldns-testns")
        if exe is None:
            raise RuntimeError("ldns-testns is not installed (package ldnsutils)")
        # ldns-testns -r picks a random port; when that one is taken, its
        # retry binds the same socket again, fails with EINVAL and exits. A
        # fresh server picks a fresh port.
        self.server = start_retrying(
            lambda: Process(
                [exe, "-r", self.zone_file],
                "ldns-testns",
                ready="Listening on port",
                merge_stdout=True,
                start_timeout=self.start_timeout,
                stop_timeout=3.0,
            ),
            attempts=5,
            retry_if=lambda failure: "bind()" in failure.output,
        )
        self.port = int(self.server.ready_line.rsplit(" ", 1)[1])
        return self


class SilentUdp:
    """A bound UDP socket that is never read: a nameserver that never answers."""

    def __enter__(self) -> "SilentUdp":
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


def dns_query(port: int, name: str, qtype: int, timeout: float) -> bytes | None:
    """One UDP query to 127.0.0.1:port; the reply with our id, or None."""
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        packet += bytes([len(label)]) + label.encode("ascii")
    packet += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (LOOPBACK, port))
        try:
            reply, _ = s.recvfrom(4096)
        except OSError:
            return None
    return reply if reply[:2] == packet[:2] else None


def soa_answered(port: int, zone: str) -> bool:
    """The server on port answers the SOA of zone (NOERROR, an answer)."""
    reply = dns_query(port, zone, 6, 0.2)
    return reply is not None and (reply[3] & 0x0F) == 0 and struct.unpack(">H", reply[6:8])[0] > 0


class Nsd(DnsServer):
    """nsd in the foreground on 127.0.0.1 at a free port, serving (zone,
    file) pairs, with a non-root configuration in `workdir`; ready when the
    last zone's SOA answers (nsd answers once every zone is loaded). Its
    query counters are read with nsd-control over a unix socket."""

    def __init__(
        self,
        workdir: str,
        zones: list[tuple[str, str]],
        server_count: int,
        start_timeout: float = START_TIMEOUT,
    ):
        super().__init__(start_timeout)
        self.workdir = workdir
        self.zones = zones
        self.server_count = server_count
        self.conf = os.path.join(workdir, "nsd.conf")

    def _write_conf(self) -> None:
        with open(self.conf, "w", encoding="ascii") as f:
            f.write(
                "server:\n"
                f"  ip-address: {LOOPBACK}@{self.port}\n"
                "  do-ip6: no\n"
                f"  server-count: {self.server_count}\n"
                '  username: ""\n'
                '  chroot: ""\n'
                f'  zonesdir: "{self.workdir}"\n'
                f'  pidfile: "{self.workdir}/nsd.pid"\n'
                '  database: ""\n'
                f'  zonelistfile: "{self.workdir}/zone.list"\n'
                f'  xfrdfile: "{self.workdir}/xfrd.state"\n'
                f'  xfrdir: "{self.workdir}"\n'
                f'  logfile: "{self.workdir}/nsd.log"\n'
                "  verbosity: 1\n"
                "  hide-version: yes\n"
                # Response rate limiting would throttle the benchmark's
                # flood of NODATA (AAAA) answers to one source.
                "  rrl-ratelimit: 0\n"
                "  rrl-whitelist-ratelimit: 0\n"
                # nsd-control over a unix socket (no TLS keys needed):
                # its query counters tell how many upstream queries a
                # run caused.
                "remote-control:\n"
                "  control-enable: yes\n"
                f"  control-interface: {self.workdir}/nsd.ctl\n"
            )
            for zone, path in self.zones:
                f.write(f'zone:\n  name: "{zone}"\n  zonefile: "{path}"\n')

    def __enter__(self) -> "Nsd":
        nsd = shutil.which("nsd") or "/usr/sbin/nsd"
        last_zone = self.zones[-1][0]

        def attempt() -> Process:
            # nsd binds UDP and TCP on the port.
            self.port = free_port(udp=True)
            self._write_conf()
            port = self.port
            return Process(
                [nsd, "-d", "-c", self.conf],
                "nsd",
                probe=lambda: soa_answered(port, last_zone),
                log_path=os.path.join(self.workdir, "nsd.stderr"),
                port=port,
                start_timeout=self.start_timeout,
                poll_interval=0.05,
            )

        log = os.path.join(self.workdir, "nsd.log")
        try:
            self.server = start_retrying(attempt, 3)
        except NotReady as exc:
            raise RuntimeError(f"nsd did not start: {exc}\n{log}:\n{file_tail(log)}") from None
        return self

    def query_counts(self) -> dict[str, int]:
        """nsd's counters of queries received so far: total, PTR, A, AAAA."""
        out = subprocess.run(
            ["nsd-control", "-c", self.conf, "stats_noreset"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        wanted = {"num.queries": "total", "num.type.PTR": "PTR", "num.type.A": "A", "num.type.AAAA": "AAAA"}
        counts = {}
        for line in out.stdout.splitlines():
            key, _, value = line.partition("=")
            if key in wanted:
                counts[wanted[key]] = int(value)
        if out.returncode != 0 or len(counts) != len(wanted):
            raise RuntimeError(f"nsd-control stats failed: {out.stderr.strip()}")
        return counts


# --------------------------------------------------------------------------
# The libunbound configuration


def write_unbound_config(
    directory: str,
    transparent_zones: list[str],
    *,
    unblock_lan_zones: bool = False,
    forward_zones: list[tuple[str, int]] = (),
) -> str:
    """Writes `directory`/unbound.conf, for the daemon's --unbound-config;
    returns its path.

    libunbound answers some zones itself (NXDOMAIN) unless told otherwise:
    `test.`, 127.in-addr.arpa. and the reverse zones of private space (its
    AS112 / RFC 6303 default local zones). Each of transparent_zones is
    declared transparent, which replaces a default zone of that name, so the
    queries reach the forwarder; and insecure, so no DNSSEC chain is sought
    on the real internet. unblock_lan_zones turns the private-space defaults
    off as a whole. forward_zones sends each (zone, port) to another server
    on 127.0.0.1 (a SilentUdp, for lookups that must time out)."""
    lines = ["server:"]
    if unblock_lan_zones:
        lines += ["  unblock-lan-zones: yes", "  insecure-lan-zones: yes"]
    for zone in transparent_zones:
        lines += [f'  local-zone: "{zone}" transparent', f'  domain-insecure: "{zone}"']
    for zone, port in forward_zones:
        lines += ["forward-zone:", f'  name: "{zone}"', f"  forward-addr: {LOOPBACK}@{port}"]
    path = os.path.join(directory, "unbound.conf")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    return path
