#!/usr/bin/env python3
"""End-to-end: the daemon under systemd's protocols, without systemd.

Usage: test_systemd.py PATH-TO-rdns-policyd      (exit 0 = all passed)

- notify: the test owns a unix datagram socket and names it in
  NOTIFY_SOCKET (with WATCHDOG_USEC), as systemd does for Type=notify; the
  real daemon must send READY=1 with a STATUS= line once it serves,
  WATCHDOG=1 at half the interval from its event loop, RELOADING=1 (with
  MONOTONIC_USEC) then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM.
- socket activation: Debian's systemd-socket-activate listens on a TCP and
  a unix socket and starts the daemon on the first connection, passing both
  (LISTEN_FDS); the daemon must serve them, matched to daemon.listen, and
  serve a passed socket that daemon.listen does not name, with a warning.

Every process is stopped and reaped; every wait is bounded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    POLICY_FILE,
    Daemon,
    DnsFixture,
    PolicyClient,
    Runner,
    check,
    check_equal,
    main_with_dns,
    policy_request,
    procs,
)

WATCHDOG_USEC = 400_000
MESSAGE_TIMEOUT = 5.0

runner = Runner("test_systemd")


class Context:
    binary: str
    workdir: str
    dns: DnsFixture


class NotifySocket:
    """The datagram socket a service manager listens on."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)

    def wait_for(self, predicate, timeout: float = MESSAGE_TIMEOUT) -> dict | None:
        """The first message (as a dict of its fields) that predicate accepts."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            if predicate(fields):
                return fields


def write_config(ctx: Context, name: str, listen: list[str]) -> str:
    with open(POLICY_FILE, encoding="utf-8") as f:
        text = f.read()
    anchor = 'listen = ["inet:127.0.0.1:0"]'
    check(anchor in text, f"{POLICY_FILE} has no {anchor!r}")
    text = text.replace(anchor, "listen = [" + ", ".join(f'"{e}"' for e in listen) + "]")
    path = os.path.join(ctx.workdir, f"{name}.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@runner.test
def notify_ready_watchdog_reload_and_stop(ctx: Context) -> None:
    notify = NotifySocket(os.path.join(ctx.workdir, "notify.sock"))
    env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    daemon = Daemon(ctx.binary, POLICY_FILE, ctx.dns.daemon_args(), env=env)
    runner.add_diagnostic("rdns-policyd (notify) stderr", daemon.text)
    try:
        with daemon:
            ready = notify.wait_for(lambda m: m.get("READY") == "1")
            check(ready is not None, "no READY=1")
            check("requests answered" in ready.get("STATUS", ""), f"STATUS with READY: {ready}")

            request, _ = policy_request("127.0.0.3", "good.example.test")
            with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
                check(client.ask(request).startswith("action=550 "), "a reject")
            # The loop pings at half the interval; its status counts the request.
            pings = []
            started = time.monotonic()
            while len(pings) < 2:
                ping = notify.wait_for(lambda m: m.get("WATCHDOG") == "1")
                check(ping is not None, f"{len(pings)} WATCHDOG=1 within {MESSAGE_TIMEOUT}s")
                pings.append(ping)
            took = time.monotonic() - started
            check(took < 4 * WATCHDOG_USEC / 1e6, f"two pings took {took:.2f}s")
            check("1 requests answered" in pings[-1].get("STATUS", ""),
                  f"STATUS with the ping: {pings[-1]}")

            daemon.send_signal(signal.SIGHUP)
            reloading = notify.wait_for(lambda m: m.get("RELOADING") == "1")
            check(reloading is not None and re.fullmatch(r"\d+", reloading.get("MONOTONIC_USEC",
                                                                                "")) is not None,
                  f"RELOADING=1 with MONOTONIC_USEC: {reloading}")
            check(notify.wait_for(lambda m: m.get("READY") == "1") is not None,
                  "READY=1 after the reload")

            daemon.send_signal(signal.SIGTERM)
            check(notify.wait_for(lambda m: m.get("STOPPING") == "1") is not None, "STOPPING=1")
            check_equal(daemon.stop(), 0, "exit status after SIGTERM")
    finally:
        notify.close()


def activated(ctx: Context, name: str, listen: list[str], tcp_port: int, unix_path: str):
    """systemd-socket-activate holding both sockets, the daemon as its child
    (started on the first connection)."""
    config = write_config(ctx, name, listen)
    argv = ["systemd-socket-activate", "-l", f"127.0.0.1:{tcp_port}", "-l", unix_path,
            ctx.binary, "--config", config, *ctx.dns.daemon_args()]
    # It prints one "Listening on ..." line per socket, then waits.
    return procs.Process(argv, f"systemd-socket-activate ({name})",
                         ready=re.escape(unix_path) + r" as 4\b")


def ask_both(tcp_port: int, unix_path: str) -> tuple[str, str]:
    request, _ = policy_request("127.0.0.3", "good.example.test")
    with PolicyClient(f"inet:127.0.0.1:{tcp_port}") as client:
        over_tcp = client.ask(request)
    with PolicyClient(f"unix:{unix_path}") as client:
        over_unix = client.ask(request)
    return over_tcp, over_unix


@runner.test
def socket_activation_serves_both_passed_sockets(ctx: Context) -> None:
    tcp_port = procs.free_port()
    unix_path = os.path.join(ctx.workdir, "activated.sock")
    proc = activated(ctx, "activated", [f"inet:127.0.0.1:{tcp_port}", f"unix:{unix_path}"],
                     tcp_port, unix_path)
    runner.add_diagnostic("systemd-socket-activate (both) output", proc.text)
    with proc:
        over_tcp, over_unix = ask_both(tcp_port, unix_path)
        expected = "action=550 5.7.25 Client address 127.0.0.3 has no PTR record"
        check_equal(over_tcp, expected, "reply over the passed TCP socket")
        check_equal(over_unix, expected, "reply over the passed unix socket")
        for endpoint in (f"inet:127.0.0.1:{tcp_port}", f"unix:{unix_path}"):
            line = proc.log.wait_for(
                lambda l, e=endpoint: f"listening on {e} (socket passed by systemd)" in l, 5.0)
            check(line is not None, f"no 'listening on {endpoint} (socket passed by systemd)'")
        check("not in daemon.listen" not in proc.text(), "a matched socket reported unmatched")


@runner.test
def a_passed_socket_not_in_the_configuration_is_served_with_a_warning(ctx: Context) -> None:
    tcp_port = procs.free_port()
    unix_path = os.path.join(ctx.workdir, "extra.sock")
    proc = activated(ctx, "extra", [f"inet:127.0.0.1:{tcp_port}"], tcp_port, unix_path)
    runner.add_diagnostic("systemd-socket-activate (extra) output", proc.text)
    with proc:
        over_tcp, over_unix = ask_both(tcp_port, unix_path)
        check(over_tcp.startswith("action=550 "), f"reply over TCP: {over_tcp!r}")
        check(over_unix.startswith("action=550 "), f"reply over unix: {over_unix!r}")
        line = proc.log.wait_for(lambda l: "not in daemon.listen; serving it anyway" in l, 5.0)
        check(line is not None and unix_path in line, f"warning for the unix socket: {line!r}")


def main() -> int:
    return main_with_dns(runner, "rdns-e2e-systemd-", Context)


if __name__ == "__main__":
    sys.exit(main())
