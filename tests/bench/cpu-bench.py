#!/usr/bin/env python3
"""CPU per warm request: the ceiling and one or more daemon builds, in one run.

A req/s ratio against the ceiling moves by ±20 % between runs on a shared
2-CPU machine, so comparing two builds of the daemon (before and after a
change) needs something steadier: the CPU time the server itself spends per
answered request (utime + stime from /proc/PID/stat before and after a
bounded run), measured for every server in the same round, rounds
alternating, the median round reported.

What it does, in order:
  1. Writes run-bench.py's zones for --clients clients and starts nsd.
  2. Per round, per server (bench-ceiling, then each --daemon in the order
     given): starts it fresh, asks about every client once (warm-up: the
     daemon's caches fill), reads its CPU time, runs --requests warm
     requests at --connections connections (rdns-bench, bounded by
     --duration too), reads its CPU time again, stops it.
  3. Prints per server the median round's µs of CPU per request, req/s and
     p99, and each daemon's ratio to the ceiling and to the first daemon.

Usage: cpu-bench.py --build-dir DIR [--daemon NAME=PATH ...] [--rounds 3]
                    [--requests 200000] [--connections 100] [--clients 100]
                    [--log-level warning] [--log-target stderr|journal]
                    [--json-out FILE]
With --log-target journal the daemons log to journald (one entry per
decision, at info level); run it where a journald listens, e.g. a private
one: see tests/e2e/test_journal.py for how.
Without --daemon it measures DIR/rdns-policyd as "daemon".

Every process started is terminated and reaped; every run is bounded in
requests and time; nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("run_bench", os.path.join(HERE, "run-bench.py"))
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)
procs = rb.procs

def measure(args, server, port: int) -> dict:
    bench = argparse.Namespace(rdns_bench=args.rdns_bench, client_range=args.clients,
                               client_base=args.client_base, clients=args.clients)
    limit = args.duration + 60
    rb.run_json(rb.bench_argv(bench, port, args.connections, "warm", args.duration, args.clients),
                limit)
    before = procs.cpu_seconds(server.proc.pid)
    result = rb.run_json(rb.bench_argv(bench, port, args.connections, "warm", args.duration,
                                       args.requests), limit)
    spent = procs.cpu_seconds(server.proc.pid) - before
    answered = result["ok"]
    result["cpu_s"] = spent
    result["cpu_us_per_request"] = spent / answered * 1e6 if answered else float("nan")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(rb.REPO, "build-bench"),
                        help="where rdns-bench and bench-ceiling are (tests/bench/)")
    parser.add_argument("--daemon", action="append", default=[], metavar="NAME=PATH",
                        help="a daemon binary to measure; repeatable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000, help="warm requests per run")
    parser.add_argument("--duration", type=float, default=30.0, help="bound of one run, seconds")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--clients", type=int, default=100, help="the warm client set")
    parser.add_argument("--log-level", default="warning", choices=["warning", "info"])
    parser.add_argument("--log-target", default="stderr", choices=["stderr", "journal"])
    parser.add_argument("--json-out")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20 or not 1 <= args.requests <= 10_000_000:
        parser.error("--rounds must be 1..20 and --requests 1..10000000")
    if not 0 < args.duration <= 600 or not 1 <= args.clients <= 131072:
        parser.error("--duration must be in (0, 600] and --clients 1..131072")
    args.rdns_bench = os.path.join(args.build_dir, "tests", "bench", "rdns-bench")
    ceiling = os.path.join(args.build_dir, "tests", "bench", "bench-ceiling")
    daemons = []
    for spec in args.daemon or [f"daemon={os.path.join(args.build_dir, 'rdns-policyd')}"]:
        name, sep, path = spec.partition("=")
        if not sep or not name:
            parser.error(f"--daemon {spec!r}: expected NAME=PATH")
        daemons.append((name, path))
    for path in [args.rdns_bench, ceiling] + [path for _, path in daemons]:
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not built")
    args.client_base, parents = rb.client_space(args.clients)

    workdir = tempfile.mkdtemp(prefix="rdns-cpu-bench-")
    runs: list[dict] = []
    try:
        zones = rb.write_zones(workdir, args.clients, args.client_base)
        reverse = [z for z, _ in zones if z.endswith("in-addr.arpa.")]
        ubconf = rb.write_unbound_config(workdir, reverse, parents)
        conf = os.path.join(workdir, "policy.toml")
        with open(conf, "w", encoding="ascii") as f:
            # [log] target goes into the [log] section run-bench.py writes.
            f.write(rb.POLICY.format(level=args.log_level).replace(
                "[log]\n", f'[log]\ntarget = "{args.log_target}"\n', 1))
        with procs.Nsd(workdir, zones, 1, rb.nsd_start_timeout(args.clients)) as nsd:
            for round_no in range(1, args.rounds + 1):
                rb.log(f"round {round_no} of {args.rounds}; load average {rb.loadavg()}")
                with procs.serve_on_free_port(lambda p: [ceiling, "--listen", f"inet:127.0.0.1:{p}"],
                                              "bench-ceiling", None, rb.START_TIMEOUT) as srv:
                    runs.append(dict(measure(args, srv, srv.port), server="ceiling", round=round_no))
                for name, path in daemons:
                    with rb.start_daemon(path, conf, nsd.forwarder, ubconf, None) as srv:
                        runs.append(dict(measure(args, srv, srv.port), server=name, round=round_no))
                for run in runs[-1 - len(daemons):]:
                    rb.log(f"  {run['server']:12} {run['cpu_us_per_request']:7.2f} µs CPU/request"
                           f"  {run['req_per_s']:9.0f} req/s  p99 {run['p99_ms']:.3f} ms"
                           f"  errors {run.get('errors', 0)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    names = ["ceiling"] + [name for name, _ in daemons]
    median = {}
    for name in names:
        mine = sorted((r for r in runs if r["server"] == name), key=lambda r: r["cpu_us_per_request"])
        median[name] = mine[len(mine) // 2]
    print(f"\nCPU per warm request, {args.connections} connections, {args.requests} requests, "
          f"log level {args.log_level} to {args.log_target}, median of {args.rounds} "
          "round(s):\n")
    print("| server | µs CPU / request | req/s | p99 ms | CPU vs ceiling | CPU vs "
          f"{names[1]} | every round (µs) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in names:
        m = median[name]
        each = ", ".join(f"{r['cpu_us_per_request']:.2f}" for r in runs if r["server"] == name)
        vs_ceiling = m["cpu_us_per_request"] / median["ceiling"]["cpu_us_per_request"]
        vs_first = m["cpu_us_per_request"] / median[names[1]]["cpu_us_per_request"]
        print(f"| {name} | {m['cpu_us_per_request']:.2f} | {m['req_per_s']:.0f} | {m['p99_ms']:.3f} "
              f"| {vs_ceiling:.3f} × | {vs_first:.3f} × | {each} |")
    spread = [r["cpu_us_per_request"] for r in runs if r["server"] == "ceiling"]
    if len(spread) > 1:
        print(f"\nCeiling spread across rounds: {statistics.pstdev(spread):.2f} µs "
              f"(mean {statistics.mean(spread):.2f}).")
    if args.json_out:
        with open(args.json_out, "w", encoding="ascii") as f:
            json.dump({"machine": rb.machine(), "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
