#!/usr/bin/env python3
"""Tests of tests/support/procs.py, the helper processes every e2e test and
benchmark relies on: a wrong readiness wait or a process left unreaped
would make those tests flaky or leave strays behind, so each mechanism is
checked here against real child processes (python3 itself), bounded.

Usage: test_procs.py   (exit 0 all passed, 1 a failure)
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import procs  # noqa: E402

PY = sys.executable
failures = []


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def free_port_can_be_bound() -> None:
    port = procs.free_port(udp=True)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind((procs.LOOPBACK, port))
        udp.bind((procs.LOOPBACK, port))
    check(1024 <= port <= 65535, f"free_port: {port} is bindable for TCP and UDP")


def ready_line_is_awaited_and_the_process_reaped() -> None:
    script = "import sys, time; print('starting', file=sys.stderr, flush=True); " \
             "time.sleep(0.2); print('ready now', file=sys.stderr, flush=True); time.sleep(60)"
    proc = procs.Process([PY, "-c", script], "sleeper", ready=r"^ready", start_timeout=10)
    started = time.monotonic()
    with proc:
        check(proc.ready_line is not None and proc.ready_line.startswith("ready"),
              "Process: ready at the first matching line")
        check(time.monotonic() - started >= 0.2, "Process: not ready before the line came")
        check(proc.proc.poll() is None, "Process: running while in use")
    check(proc.proc.poll() is not None, "Process: reaped when the block ends")
    check("starting" in proc.text(), "Process: output kept after stop")


def a_helper_that_exits_early_is_not_ready() -> None:
    script = "import sys; print('bad config', file=sys.stderr); sys.exit(3)"
    started = time.monotonic()
    try:
        procs.Process([PY, "-c", script], "quitter", ready=r"^ready", start_timeout=10).start()
        check(False, "NotReady: raised for a helper that exits")
    except procs.NotReady as failure:
        check("exit status 3" in str(failure), "NotReady: names the exit status")
        check("bad config" in failure.output, "NotReady: carries the helper's output")
    check(time.monotonic() - started < 5, "NotReady: as soon as the helper exits, not at the timeout")


def stop_process_kills_what_ignores_sigterm() -> None:
    script = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
             "print('ready', file=sys.stderr, flush=True); time.sleep(60)"
    proc = procs.Process([PY, "-c", script], "stubborn", ready=r"^ready", start_timeout=10)
    proc.start()
    started = time.monotonic()
    status = proc.stop(timeout=0.5)
    check(status is None, "stop_process: None when it had to kill")
    check(proc.proc.poll() is not None, "stop_process: the killed process is reaped")
    check(time.monotonic() - started < 5, "stop_process: bounded by its timeout")
    proc.stop()  # a second stop must neither raise nor wait
    check(time.monotonic() - started < 5, "stop: safe to call again")


def a_probed_server_is_ready_when_it_accepts() -> None:
    script = "import socket, sys, time; time.sleep(0.2); s = socket.socket(); " \
             "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); " \
             "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(60)"
    with procs.serve_on_free_port(lambda port: [PY, "-c", script, str(port)], "listener", None,
                                  10) as srv:
        check(procs.accepts_tcp(srv.port), "serve_on_free_port: ready when it accepts")


def cpu_seconds_counts_a_busy_child() -> None:
    # Busy until it has used 0.5 s of CPU (bounded by 30 s of wall time), not
    # for 0.5 s of wall time: on a loaded machine that may be far less CPU.
    script = "import sys, time; print('ready', file=sys.stderr, flush=True); " \
             "end = time.monotonic() + 30\n" \
             "while time.process_time() < 0.5 and time.monotonic() < end: pass\n" \
             "time.sleep(60)"
    with procs.Process([PY, "-c", script], "busy", ready=r"^ready", start_timeout=10) as proc:
        before = procs.cpu_seconds(proc.proc.pid)
        deadline = time.monotonic() + 30
        while procs.cpu_seconds(proc.proc.pid) - before < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(procs.cpu_seconds(proc.proc.pid) - before >= 0.3, "cpu_seconds: counts a busy child")


def main() -> int:
    for test in (free_port_can_be_bound, ready_line_is_awaited_and_the_process_reaped,
                 a_helper_that_exits_early_is_not_ready, stop_process_kills_what_ignores_sigterm,
                 a_probed_server_is_ready_when_it_accepts, cpu_seconds_counts_a_busy_child):
        test()
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
