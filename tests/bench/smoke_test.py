#!/usr/bin/env python3
"""Smoke test of the benchmark tools: behaviour, never speed.

usage: smoke_test.py RDNS_BENCH BENCH_CEILING

- rdns-bench against bench-ceiling, bounded by requests: exactly 200 answers,
  all DUNNO, no errors, exit status 0.
- bounded by time: a run with a huge request bound stops by itself after
  --duration (well before the subprocess limit) with answers and no errors.
- a server that closes every connection: errors counted, exit status 1.
- a non-loopback target is refused before any traffic (exit status 64).
- over a unix socket: 50 answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
import procs  # noqa: E402  (servers and stopping: tests/support/procs.py)

BENCH, CEILING = sys.argv[1], sys.argv[2]
failures = 0


def check(condition: bool, message: str) -> None:
    global failures
    if not condition:
        failures += 1
        print(f"FAIL {message}", flush=True)
    else:
        print(f"ok   {message}", flush=True)


def ceiling(listen: str) -> procs.Server:
    """bench-ceiling on `listen` (port 0 or a unix socket); its endpoint is
    the one it logs."""
    return procs.Server([CEILING, "--listen", listen], "bench-ceiling", start_timeout=10)


def bench(*args: str, limit: float = 30) -> tuple[int, dict | None, str]:
    out = subprocess.run([BENCH, "--json", *args], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=limit)
    report = json.loads(out.stdout) if out.stdout.strip() else None
    return out.returncode, report, out.stderr


def main() -> int:
    with ceiling("inet:127.0.0.1:0") as srv:
        server = srv.endpoint("inet:").removeprefix("inet:")
        rc, r, err = bench("--server", server, "--requests", "200", "--duration", "2",
                           "--connections", "4", "--clients", "10")
        check(rc == 0, f"bounded by requests: exit status 0 (got {rc}, {err.strip()})")
        check(r is not None and r["ok"] == 200, "bounded by requests: 200 answers")
        check(r is not None and r["errors"] == 0, "bounded by requests: 0 errors")
        check(r is not None and r["actions"] == {"DUNNO": 200}, "bounded by requests: all DUNNO")

        started = time.monotonic()
        rc, r, _ = bench("--server", server, "--requests", "100000000", "--duration", "1",
                         "--connections", "2", "--cold", limit=20)
        took = time.monotonic() - started
        check(rc == 0 and r is not None and r["ok"] > 0 and r["errors"] == 0,
              "bounded by time: answers and no errors")
        check(r is not None and 0.9 <= r["elapsed_s"] < 5 and took < 15,
              f"bounded by time: stopped by itself after ~1 s (reported {r and r['elapsed_s']}, took {took:.1f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ceiling.sock")
        with ceiling(f"unix:{path}") as srv:
            rc, r, _ = bench("--server", srv.endpoint("unix:"), "--requests", "50", "--duration", "2",
                             "--connections", "3")
            check(rc == 0 and r is not None and r["ok"] == 50 and r["errors"] == 0,
                  "unix socket: 50 answers, 0 errors")

    # A server that accepts and closes at once: every request fails.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    done = threading.Event()

    def closer() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=closer)
    thread.start()
    try:
        port = listener.getsockname()[1]
        rc, r, _ = bench("--server", f"127.0.0.1:{port}", "--requests", "20", "--duration", "3",
                         "--connections", "2")
        check(rc == 1, f"closing server: exit status 1 (got {rc})")
        check(r is not None and r["ok"] == 0 and r["closed"] > 0,
              "closing server: closed connections counted as errors")
    finally:
        done.set()
        thread.join(5)
        listener.close()

    rc, r, err = bench("--server", "192.0.2.1:25", "--requests", "1")
    check(rc == 64 and r is None and "loopback" in err, "non-loopback target refused")

    print(f"{failures} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
