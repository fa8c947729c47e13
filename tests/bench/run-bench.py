#!/usr/bin/env python3
"""Benchmark rdns-policyd against its ceiling and baseline, all on loopback.

What it does, in order:
  1. Generates zone files for the benchmark clients: a PTR for every client
     (c-198-18-1-2.bench.test.) and the A record that forward-confirms it,
     one reverse zone per /16. The clients are 198.18.0.0/15 (RFC 2544,
     131,072 addresses) by default, 10.0.0.0 up when --client-range is
     larger (up to 4,194,304), or from --client-base in a known block.
  2. Starts nsd in the foreground on 127.0.0.1 at a free port (non-root
     configuration in a private directory) and waits until it answers.
  3. Writes the libunbound configuration (`test.` and, for 10/8, 172.16/12
     and 100.64/10, the reverse zones are locally served by libunbound by
     default: made transparent, see write_unbound_config).
  4. Runs bench-ceiling, bench-unbound and rdns-policyd (fresh daemon per
     run, so every cold run starts with empty caches) under rdns-bench, warm
     and cold, at each connection count, and prints Markdown tables.

Every process started here is terminated and reaped (the context managers
of tests/support/procs.py); every wait and every subprocess has a time limit. Nothing is sent anywhere but 127.0.0.1.

It also reads nsd's query counters (nsd-control over a unix socket) before
and after each measured run: upstream queries per answered request.

Usage: run-bench.py [--build-dir DIR] [--duration S] [--connections 1,10,100]
                    [--log-levels warning,info] [--repeat N] [--json-out FILE]
                    [--client-range N] [--client-base IPV4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))

import procs  # noqa: E402  (free ports, nsd, servers, stopping: tests/support/procs.py)

CLIENT_BASE = (198 << 24) | (18 << 16)  # 198.18.0.0, the default block's start
BIG_CLIENT_BASE = 10 << 24  # 10.0.0.0: the default when the range exceeds 198.18.0.0/15
MAX_CLIENT_RANGE = 4_194_304  # 64 reverse zones, ~8.4 M records in nsd

# The blocks clients may come from: (first address, prefix length, the
# enclosing reverse zones libunbound 1.17 serves itself by default (its
# AS112 / RFC 6303 list: static empty zones that answer NXDOMAIN without
# asking the forwarder), which the libunbound configuration must make
# transparent). For 172.16/12 and 100.64/10 the defaults are the /16 zones
# themselves, which are declared anyway.
CLIENT_BLOCKS = [
    (CLIENT_BASE, 15, []),  # RFC 2544 benchmarking
    (BIG_CLIENT_BASE, 8, ["10.in-addr.arpa."]),  # RFC 1918
    ((172 << 24) | (16 << 16), 12, []),  # RFC 1918
    ((100 << 24) | (64 << 16), 10, []),  # RFC 6598
]

START_TIMEOUT = 60.0  # the daemon starts in well under a second; nsd with 131072 clients in ~2 s
NSD_START_TIMEOUT_PER_MILLION = 120.0  # nsd loads ~1 M clients (2 M records) in well under this
NSD_START_TIMEOUT_MAX = 900.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ipv4(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def client_name(n: int) -> str:
    return "c-" + ipv4(n).replace(".", "-") + ".bench.test."


def parse_ipv4(text: str) -> int:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        raise ValueError(f"not an IPv4 address: {text!r}")
    a, b, c, d = (int(p) for p in parts)
    return (a << 24) | (b << 16) | (c << 8) | d


def client_space(client_range: int, base_text: str | None = None) -> tuple[int, list[str]]:
    """The first client address for client_range clients (198.18.0.0 when
    they fit in 198.18.0.0/15, else 10.0.0.0, unless base_text names one)
    and the default local zones of libunbound that enclose them. Raises
    ValueError for a range out of 1..MAX_CLIENT_RANGE, a base outside every
    known block, or clients that would leave the base's block."""
    if not 1 <= client_range <= MAX_CLIENT_RANGE:
        raise ValueError(f"--client-range must be 1..{MAX_CLIENT_RANGE}")
    if base_text is None:
        base = CLIENT_BASE if client_range <= 131072 else BIG_CLIENT_BASE
    else:
        base = parse_ipv4(base_text)
    for start, prefix, parents in CLIENT_BLOCKS:
        end = start + (1 << (32 - prefix))
        if start <= base < end:
            if base + client_range > end:
                raise ValueError(f"{client_range} clients from {ipv4(base)} leave {ipv4(start)}/{prefix} "
                                 f"(room for {end - base})")
            return base, parents
    blocks = ", ".join(f"{ipv4(s)}/{p}" for s, p, _ in CLIENT_BLOCKS)
    raise ValueError(f"--client-base {ipv4(base)} is in none of the benchmark blocks ({blocks})")


def nsd_start_timeout(client_range: int) -> float:
    """Bounded: nsd parses every record before it answers."""
    return min(NSD_START_TIMEOUT_MAX, START_TIMEOUT + NSD_START_TIMEOUT_PER_MILLION * client_range / 1e6)


# ---------------------------------------------------------------------------
# Zones (nsd itself is procs.Nsd)

# The negative TTL (SOA minimum, RFC 2308) is as long as the positive one, so
# a cached NODATA (AAAA of a client name) does not expire during a long cold
# pass over a million clients before the warm pass reaches it again.
SOA = "@ 3600 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 3600\n@ 3600 IN NS ns.bench.test.\n"


def write_zones(workdir: str, client_range: int, base: int = CLIENT_BASE) -> list[tuple[str, str]]:
    """Writes the reverse zones (one per /16) and bench.test for the clients
    base .. base + client_range - 1; returns (zone, file). One /24 at a time,
    joined in memory and written in one call: a few seconds per million."""
    zones = []
    forward_path = os.path.join(workdir, "bench.test.zone")
    with open(forward_path, "w", encoding="ascii", buffering=1 << 20) as forward:
        forward.write(f"$ORIGIN bench.test.\n$TTL 3600\n{SOA}ns IN A 127.0.0.1\n")
        n, end = base, base + client_range
        while n < end:
            a, b = n >> 24, (n >> 16) & 255
            zone = f"{b}.{a}.in-addr.arpa."
            path = os.path.join(workdir, zone + "zone")
            zone_end = min(end, ((n >> 16) + 1) << 16)
            with open(path, "w", encoding="ascii", buffering=1 << 20) as reverse:
                reverse.write(f"$ORIGIN {zone}\n$TTL 3600\n{SOA}")
                while n < zone_end:
                    c = (n >> 8) & 255
                    last = min(zone_end, (n | 255) + 1)
                    name = f"c-{a}-{b}-{c}-"
                    address = f"{a}.{b}.{c}."
                    ds = range(n & 255, (n & 255) + (last - n))
                    reverse.write("".join([f"{d}.{c} IN PTR {name}{d}.bench.test.\n" for d in ds]))
                    forward.write("".join([f"{name}{d} IN A {address}{d}\n" for d in ds]))
                    n = last
            zones.append((zone, path))
    zones.append(("bench.test.", forward_path))
    return zones


def write_unbound_config(workdir: str, reverse_zones: list[str], default_parents: list[str] = ()) -> str:
    """libunbound serves `test.` itself (NXDOMAIN) unless told otherwise, and
    likewise the reverse zones of RFC 1918 and RFC 6598 space (e.g.
    10.in-addr.arpa.; client_space() names the ones enclosing the clients):
    each is declared transparent, which replaces libunbound's default zone
    of that name, so the queries reach the forwarder. 198.18.0.0/15 is not
    among libunbound 1.17's default local zones, but every reverse zone is
    declared transparent and insecure anyway so the benchmark does not
    depend on those defaults."""
    return procs.write_unbound_config(workdir, ["test.", *default_parents, *reverse_zones])


# ---------------------------------------------------------------------------
# Servers under test


POLICY = """# rdns-policyd benchmark configuration: the shipped rule table without the
# internal-network exemption (the benchmark clients are 198.18.0.0/15 or,
# for more than 131072 of them, private addresses).
[resolver]
upstream = "forward"
lookup_timeout_ms = 3000

[log]
level = "{level}"

[policy]
default_action = "DUNNO"

[[rule]]
id = "exempt-authenticated"
sasl_username = true
action = "DUNNO"

[[rule]]
id = "exempt-role-recipients"
recipient = ["postmaster@", "abuse@"]
action = "DUNNO"

[[rule]]
id = "reject-bad-helo"
helo_syntax = ["invalid", "non-fqdn", "bare-ip"]
action = "550 5.5.2 HELO name {{helo_name}} is not a valid fully-qualified domain name"

[[rule]]
id = "reject-foreign-address-literal"
helo_literal = "mismatch"
action = "550 5.7.1 HELO address literal {{helo_name}} is not the client address {{client_address}}"

[[rule]]
id = "defer-dns-temperror"
iprev = "temperror"
action = "450 4.7.25 Client address {{client_address}}: reverse DNS lookup failed temporarily, try again later"

[[rule]]
id = "reject-no-ptr"
iprev = "permerror"
action = "550 5.7.25 Client address {{client_address}} has no PTR record"

[[rule]]
id = "reject-fcrdns-fail"
iprev = "fail"
action = "550 5.7.25 Client address {{client_address}}: PTR name {{ptr}} does not resolve back to it"

[[rule]]
id = "warn-helo-not-forward-confirmed"
helo_forward = ["fail", "none"]
action = "WARN HELO name {{helo_name}} does not resolve to {{client_address}}"
"""


def vm_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def start_daemon(daemon: str, conf: str, forwarder: str, ubconf: str, stderr_path: str | None):
    """A fresh rdns-policyd on a free port, ready when it accepts (a context
    manager). Its stderr goes to stderr_path or /dev/null, never to a pipe:
    a reader of info-level decision lines would compete with it for the
    CPU being measured."""
    return procs.serve_on_free_port(
        lambda port: [daemon, "--config", conf, "--listen", f"inet:127.0.0.1:{port}",
                      "--forwarder", forwarder, "--unbound-config", ubconf],
        "rdns-policyd", stderr_path, START_TIMEOUT)


# ---------------------------------------------------------------------------
# Runs


def run_json(argv: list[str], limit: float) -> dict:
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=limit)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        raise RuntimeError(f"{argv[0]} failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout)


def bench_argv(args, port: int, conns: int, mode: str, duration: float, requests: int) -> list[str]:
    argv = [args.rdns_bench, "--server", f"127.0.0.1:{port}", "--connections", str(conns),
            "--duration", str(duration), "--requests", str(requests), "--json",
            "--client-range", str(args.client_range), "--client-base", ipv4(args.client_base)]
    if mode == "cold":
        argv.append("--cold")
    else:
        argv += ["--clients", str(args.clients)]
    return argv


def measure(args, port: int, conns: int, mode: str, nsd: procs.Nsd) -> dict:
    limit = args.duration + 60
    if mode == "warm":
        # Warm-up: every client of the warm set seen once (fills libunbound's cache).
        run_json(bench_argv(args, port, conns, mode, args.duration, args.clients), limit)
        requests = 100_000_000
    else:
        # Every request a client not seen before by this (fresh) server.
        requests = args.client_range
    before = nsd.query_counts()
    result = run_json(bench_argv(args, port, conns, mode, args.duration, requests), limit)
    add_upstream(result, before, nsd.query_counts(), result["ok"])
    return result


def add_upstream(result: dict, before: dict, after: dict, answered: int) -> None:
    """Upstream (nsd) queries during the measured run, total and per answer."""
    delta = {k: after[k] - before[k] for k in after}
    result["upstream"] = delta
    result["upstream_per_answer"] = delta["total"] / answered if answered else 0.0


def loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--connections", default="1,10,100")
    parser.add_argument("--clients", type=int, default=100, help="warm client set")
    parser.add_argument("--client-range", type=int, default=131072,
                        help=f"clients in DNS (max {MAX_CLIENT_RANGE}; above 131072 they come from 10.0.0.0)")
    parser.add_argument("--client-base", help="first client address (198.18.0.0, or 10.0.0.0 for a range "
                        "above 131072); in 198.18.0.0/15, 10.0.0.0/8, 172.16.0.0/12 or 100.64.0.0/10")
    parser.add_argument("--log-levels", default="warning,info")
    parser.add_argument("--nsd-servers", type=int, default=1, help="nsd server-count")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the whole sequence; tables show each configuration's median round")
    parser.add_argument("--json-out", help="write every result here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    try:
        args.client_base, args.default_parents = client_space(args.client_range, args.client_base)
    except ValueError as e:
        parser.error(str(e))
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be 1..20")
    if not 0 < args.duration <= 600:
        parser.error("--duration must be in (0, 600]")
    args.rdns_bench = os.path.join(args.build_dir, "tests", "bench", "rdns-bench")
    ceiling = os.path.join(args.build_dir, "tests", "bench", "bench-ceiling")
    unbound = os.path.join(args.build_dir, "tests", "bench", "bench-unbound")
    daemon = os.path.join(args.build_dir, "rdns-policyd")
    for path in (args.rdns_bench, ceiling, unbound, daemon):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not built")
    conn_list = [int(c) for c in args.connections.split(",")]
    levels = args.log_levels.split(",")

    workdir = tempfile.mkdtemp(prefix="rdns-bench-")
    results: dict = {"machine": machine(), "runs": []}
    try:
        started = time.monotonic()
        zones = write_zones(workdir, args.client_range, args.client_base)
        reverse = [z for z, _ in zones if z.endswith("in-addr.arpa.")]
        ubconf = write_unbound_config(workdir, reverse, args.default_parents)
        written = time.monotonic()
        with procs.Nsd(workdir, zones, args.nsd_servers, nsd_start_timeout(args.client_range)) as nsd:
            log(f"nsd on 127.0.0.1:{nsd.port}, {args.client_range} clients from {ipv4(args.client_base)}; "
                f"zones written in {written - started:.1f} s, loaded in {time.monotonic() - written:.1f} s; "
                f"load average {loadavg()}")
            for round_no in range(1, args.repeat + 1):
                log(f"round {round_no} of {args.repeat}; load average {loadavg()}")
                for run in run_all(args, conn_list, levels, ceiling, unbound, daemon, nsd, ubconf, workdir):
                    run["round"] = round_no
                    results["runs"].append(run)
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json_out:
        with open(args.json_out, "w", encoding="ascii") as f:
            json.dump(results, f, indent=1)
    print_tables(results, conn_list, levels)
    return 0


def machine() -> dict:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "load_before": loadavg()}


def run_all(args, conn_list, levels, ceiling, unbound, daemon, nsd, ubconf, workdir) -> list[dict]:
    runs = []

    def record(server: str, mode: str, conns: int, result: dict, **extra) -> None:
        result.update(server=server, mode=mode, conns=conns, load=loadavg(), **extra)
        runs.append(result)
        rate = result.get("req_per_s", result.get("checks_per_s"))
        log(f"{server:28} {mode:4} {conns:4} conns: {rate:10.0f}/s  p99 {result['p99_ms']:.3f} ms"
            f"  errors {result.get('errors', 0)}  upstream/answer {result.get('upstream_per_answer', 0):.2f}"
            f"  {result.get('actions', '')}")

    # The ceiling: one process for every run (it has no state).
    with procs.serve_on_free_port(lambda p: [ceiling, "--listen", f"inet:127.0.0.1:{p}"], "bench-ceiling",
                                  None, START_TIMEOUT) as srv:
        for mode in ("warm", "cold"):
            for conns in conn_list:
                record("ceiling", mode, conns, measure(args, srv.port, conns, mode, nsd))

    # libunbound alone, a fresh process per run (empty cache), as many checks
    # in flight as the daemon would have requests outstanding.
    for conns in conn_list:
        for with_helo in (False, True):
            argv = [unbound, "--forwarder", nsd.forwarder, "--unbound-config", ubconf, "--json",
                    "--inflight", str(conns), "--duration", str(args.duration),
                    "--checks", str(args.client_range), "--client-range", str(args.client_range),
                    "--client-base", ipv4(args.client_base)]
            if with_helo:
                argv.append("--with-helo")
            before = nsd.query_counts()
            result = run_json(argv, args.duration + 60)
            add_upstream(result, before, nsd.query_counts(), result["checks"])
            record("libunbound" + (" +helo" if with_helo else ""), "cold", conns, result)

    # The daemon: a fresh process per run, so cold really is cold.
    for level in levels:
        conf = os.path.join(workdir, f"policy-{level}.toml")
        with open(conf, "w", encoding="ascii") as f:
            f.write(POLICY.format(level=level))
        # With info logging the decisions go to /dev/null, else to a file
        # that is read when something goes wrong.
        stderr_path = None if level == "info" else os.path.join(workdir, "daemon.stderr")
        for mode in ("warm", "cold"):
            for conns in conn_list:
                with start_daemon(daemon, conf, nsd.forwarder, ubconf, stderr_path) as srv:
                    idle = vm_status(srv.proc.pid)
                    result = measure(args, srv.port, conns, mode, nsd)
                    after = vm_status(srv.proc.pid)
                record(f"rdns-policyd (log {level})", mode, conns, result,
                       idle_rss_kib=idle["VmRSS"], rss_after_kib=after["VmRSS"], hwm_kib=after["VmHWM"])
    return runs


def find(runs, server, mode, conns):
    """The round with the median rate of one configuration (the lower middle
    one for an even count), so one disturbed round does not set the figure."""
    matching = [r for r in runs if r["server"] == server and r["mode"] == mode and r["conns"] == conns]
    if not matching:
        return None
    matching.sort(key=lambda r: r.get("req_per_s", r.get("checks_per_s", 0)))
    return matching[(len(matching) - 1) // 2]


def print_tables(results: dict, conn_list: list[int], levels: list[str]) -> None:
    runs = results["runs"]
    m = results["machine"]
    rounds = max((r.get("round", 1) for r in runs), default=1)
    print(f"\nMachine: {m['nproc']} CPUs, {m['cpu']}; load average before: {m['load_before']}; "
          f"{rounds} round(s), median round shown\n")
    print("| server | mode | conns | req/s | p50 ms | p99 ms | max ms | errors | upstream q/answer | actions | vs target |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for mode in ("warm", "cold"):
        for conns in conn_list:
            ceil = find(runs, "ceiling", mode, conns)
            base = find(runs, "libunbound", "cold", conns)
            rows = [("ceiling", ceil)] + [(f"rdns-policyd (log {lv})", find(runs, f"rdns-policyd (log {lv})", mode, conns)) for lv in levels]
            for name, r in rows:
                if r is None:
                    continue
                verdict = ""
                if name != "ceiling" and mode == "warm" and ceil:
                    ratio = r["req_per_s"] / ceil["req_per_s"]
                    verdict = f"{ratio:.3f} × ceiling (target ≥ 0.9, p99 ≤ 3 ms)"
                elif name != "ceiling" and mode == "cold" and base:
                    ratio = r["req_per_s"] / base["checks_per_s"]
                    verdict = f"{ratio:.3f} × libunbound alone (target ≥ 0.8)"
                    helo = find(runs, "libunbound +helo", "cold", conns)
                    if helo:
                        verdict += f"; {r['req_per_s'] / helo['checks_per_s']:.3f} × with HELO lookups"
                actions = " ".join(f"{k}={v}" for k, v in r["actions"].items())
                print(f"| {name} | {mode} | {conns} | {r['req_per_s']:.0f} | {r['p50_ms']:.3f} | "
                      f"{r['p99_ms']:.3f} | {r['max_ms']:.3f} | {r['errors']} | {r['upstream_per_answer']:.2f} | "
                      f"{actions} | {verdict} |")
    print("\n| libunbound alone (cold) | in flight | checks/s | p50 ms | p99 ms | pass/checks | queries asked | upstream q/check |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted({(x["server"], x["conns"]) for x in runs if x["server"].startswith("libunbound")},
                    key=lambda k: (k[1], k[0])):
        r = find(runs, r[0], "cold", r[1])
        if r:
            print(f"| {r['server']} | {r['conns']} | {r['checks_per_s']:.0f} | {r['p50_ms']:.3f} | "
                  f"{r['p99_ms']:.3f} | {r['pass']}/{r['checks']} | {r['queries']} | {r['upstream_per_answer']:.2f} |")
    print("\n| daemon run | idle VmRSS KiB | VmRSS after KiB | VmHWM KiB |")
    print("|---|---:|---:|---:|")
    for r in runs:
        if "idle_rss_kib" in r:
            print(f"| {r['server']} {r['mode']} {r['conns']} round {r.get('round', 1)} | {r['idle_rss_kib']} | {r['rss_after_kib']} | {r['hwm_kib']} |")


if __name__ == "__main__":
    sys.exit(main())
