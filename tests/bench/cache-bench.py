#!/usr/bin/env python3
"""Measure rdns-policyd's own DNS cache, all on loopback.

Uses run-bench.py's zones and daemon configuration and tests/support/procs.py's
nsd (with its query counters), and runs three measurements, each against a
FRESH daemon:

  burst   N connections all asking about the SAME client, never seen before,
          at the same moment (rdns-bench --clients 1 --connections N
          --requests N, a client offset no other run used). nsd's counters
          before/after give the upstream queries: with coalescing, exactly
          1 PTR + the A of the PTR name (+ the A of the HELO name when it
          differs): the clients are IPv4, and only the client's family is
          asked. Also run with `[cache] size = 0` and with a HELO name
          that differs from the PTR name.
  perreq  a cold pass over K new clients, then a warm pass over the same
          K clients: upstream queries per request, cold and warm (goal 0).
  memory  VmRSS idle and after a cold pass over --fill clients with the
          caches large enough (`[cache] size` = 3 x fill + margin, and
          `[cache] clients` = fill + margin when the daemon has that
          setting), and the same pass with the caches off (both 0); the
          difference divided by the clients is the cost of one cached
          client. Also instance_cache_size 0 vs the default. Every
          `--set SECTION.KEY=VALUE` is written into these daemons'
          configuration over the defaults above (the zeros that define the
          "off" cases still win).

More than 131,072 clients (--client-range, up to 4,194,304) come from
10.0.0.0/8 (see run-bench.py's client_space()); a million-client fill takes
a few seconds of zone writing, nsd's load, and a cold pass per daemon bounded
at an hour (rdns-bench's limit).

Every process started is terminated and reaped; every run is bounded.
Usage: cache-bench.py [--build-dir DIR] [--only burst,perreq,memory]
                      [--fill 131072] [--client-range N] [--client-base IPV4]
                      [--set SECTION.KEY=VALUE ...] [--json-out FILE]
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))
import procs  # noqa: E402  (nsd, stopping: tests/support/procs.py)

_spec = importlib.util.spec_from_file_location("run_bench", os.path.join(HERE, "run-bench.py"))
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)

CACHE_MARGIN = 10_000  # entries beyond 3 per client (HELO names, NS/SOA lookups)


def fill_pass_duration(fill: int) -> float:
    """Bound of one cold pass over `fill` clients: room for ~1,000 req/s
    (the daemon does ~2,000 cold on 2 loaded CPUs) plus five minutes, at
    least ten minutes, at most rdns-bench's hour."""
    return float(min(3600, max(600, fill // 1000 + 300)))


def parse_setting(text: str) -> tuple[str, str, str]:
    """SECTION.KEY=VALUE (VALUE in TOML syntax: 5, true, "text") -> parts."""
    name, eq, value = text.partition("=")
    section, dot, key = name.strip().rpartition(".")
    if not eq or not dot or not section or not key or not value.strip():
        raise ValueError(f"--set {text!r}: expected SECTION.KEY=VALUE")
    try:
        tomllib.loads(f"v = {value.strip()}")
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"--set {text!r}: {value.strip()!r} is not a TOML value ({e})") from None
    return section, key.strip(), value.strip()


def with_settings(text: str, settings: list[tuple[str, str, str]]) -> str:
    """The TOML `text` with each (section, key, value) set: into the section's
    table when the text has one (replacing the key's line there), else in a
    new table at the end. Later settings win. Checked with tomllib."""
    lines = text.splitlines()
    for section, key, value in settings:
        header = f"[{section}]"
        if header in lines:
            start = lines.index(header) + 1
            end = start
            while end < len(lines) and not lines[end].startswith("["):
                end += 1
            lines[start:end] = [f"{key} = {value}"] + [
                ln for ln in lines[start:end] if ln.split("=", 1)[0].strip() != key]
        else:
            lines += ["", header, f"{key} = {value}"]
    out = "\n".join(lines) + "\n"
    tomllib.loads(out)  # a duplicate key or table would be a daemon start-up error
    return out


class Bench:
    def __init__(self, args, workdir: str, nsd, ubconf: str):
        self.args, self.workdir, self.nsd, self.ubconf = args, workdir, nsd, ubconf
        self.offset = 0  # next client index never used by any run (fresh clients)

    def fresh_clients(self, n: int) -> int:
        start = self.offset
        self.offset += n
        if self.offset > self.args.client_range:
            raise RuntimeError("out of fresh clients; raise --client-range or run fewer steps")
        return start

    def daemon(self, name: str, cache_size: int | None = None, instance_cache_size: int | None = None,
               settings: list[tuple[str, str, str]] = ()):
        conf = os.path.join(self.workdir, f"policy-{name}.toml")
        merged = list(settings)
        if instance_cache_size is not None:
            merged.append(("daemon", "instance_cache_size", str(instance_cache_size)))
        if cache_size is not None:
            merged.append(("cache", "size", str(cache_size)))
        text = with_settings(rb.POLICY.format(level="warning"), merged)
        with open(conf, "w", encoding="ascii") as f:
            f.write(text)
        forwarder = self.nsd.forwarder
        # A clear error now rather than "rdns-policyd not ready" later.
        check = subprocess.run([self.args.daemon, "check-config", "--config", conf, "--forwarder", forwarder,
                                "--unbound-config", self.ubconf], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"{conf} rejected: {(check.stdout + check.stderr).strip()}")
        return rb.start_daemon(self.args.daemon, conf, forwarder, self.ubconf,
                               os.path.join(self.workdir, f"daemon-{name}.stderr"))

    def bench(self, port: int, extra: list[str], limit: float = 300) -> dict:
        argv = [self.args.rdns_bench, "--server", f"127.0.0.1:{port}", "--json",
                "--client-range", str(self.args.client_range),
                "--client-base", rb.ipv4(self.args.client_base)] + extra
        before = self.nsd.query_counts()
        result = rb.run_json(argv, limit)
        rb.add_upstream(result, before, self.nsd.query_counts(), result["ok"])
        return result


def burst(b: Bench, conns: int) -> list[dict]:
    out = []
    # (label, cache size, helo); None = the default cache size
    cases = [("cache on, HELO = PTR name", None, "ptr"),
             ("cache on, HELO = other name", None, "mx.other.bench.test"),
             ("cache off (size 0), HELO = PTR name", 0, "ptr")]
    for label, size, helo in cases:
        for _ in range(b.args.burst_repeat):
            offset = b.fresh_clients(1)
            with b.daemon("burst", cache_size=size) as srv:
                r = b.bench(srv.port, ["--clients", "1", "--client-offset", str(offset),
                                       "--connections", str(conns), "--requests", str(conns),
                                       "--duration", "30", "--helo", helo], limit=60)
            r.update(case=label, offset=offset)
            rb.log(f"burst {label}: {r['ok']} answered, errors {r['errors']}, upstream {r['upstream']}")
            out.append(r)
    return out


def perreq(b: Bench, clients: int, conns: int) -> list[dict]:
    out = []
    offset = b.fresh_clients(clients)
    with b.daemon("perreq") as srv:
        cold = b.bench(srv.port, ["--clients", str(clients), "--client-offset", str(offset),
                                  "--connections", str(conns), "--requests", str(clients),
                                  "--duration", "120"])
        cold.update(case=f"cold: {clients} new clients, each once")
        warm = b.bench(srv.port, ["--clients", str(clients), "--client-offset", str(offset),
                                  "--connections", str(conns), "--requests", str(20 * clients),
                                  "--duration", str(b.args.duration)])
        warm.update(case=f"warm: the same {clients} clients again")
    for r in (cold, warm):
        rb.log(f"perreq {r['case']}: {r['ok']} answered, {r['req_per_s']:.0f}/s, p99 {r['p99_ms']:.3f} ms, "
               f"upstream {r['upstream']} = {r['upstream_per_answer']:.4f}/req")
        out.append(r)
    return out


def daemon_settings(daemon: str) -> dict:
    """The daemon's settings and their defaults (print-defaults)."""
    out = subprocess.run([daemon, "print-defaults"], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"{daemon} print-defaults failed: {out.stderr.strip()}")
    return tomllib.loads(out.stdout)


def memory(b: Bench, fill: int, conns: int) -> list[dict]:
    out = []
    # cache size in entries: 3 per client (PTR, A, AAAA; HELO = PTR name).
    size = 3 * fill + CACHE_MARGIN
    big = [("cache", "size", str(size))]
    off = [("cache", "size", "0")]
    if "clients" in daemon_settings(b.args.daemon).get("cache", {}):
        big.append(("cache", "clients", str(fill + CACHE_MARGIN)))
        off.append(("cache", "clients", "0"))
    user = [parse_setting(t) for t in b.args.set]
    # (label, settings: defaults, then --set, then what defines the case)
    cases = [("caches on", big + user, []),
             ("caches off (size 0)", big + user, off),
             ("caches on, instance cache 0", big + user, [("daemon", "instance_cache_size", "0")])]
    duration = fill_pass_duration(fill)
    for label, settings, case in cases:
        merged = settings + case
        config = {f"{s}.{k}": v for s, k, v in merged}  # the last value of each key
        rb.log(f"memory {label}: {' '.join(f'{k}={v}' for k, v in config.items())}; "
               f"each pass bounded at {duration:.0f} s")
        with b.daemon("memory", settings=merged) as srv:
            time.sleep(0.2)
            idle = rb.vm_status(srv.proc.pid)
            started = time.monotonic()
            r = b.bench(srv.port, ["--cold", "--client-offset", "0", "--connections", str(conns),
                                   "--requests", str(fill), "--duration", str(duration)], limit=duration + 120)
            after = rb.vm_status(srv.proc.pid)
            rb.log(f"memory {label}: cold pass {r['ok']} answered in {time.monotonic() - started:.0f} s, "
                   f"errors {r['errors']}, VmRSS {after['VmRSS']} KiB")
            # A second, warm pass over the same clients: must cost no upstream query.
            r2 = b.bench(srv.port, ["--cold", "--client-offset", "0", "--connections", str(conns),
                                    "--requests", str(fill), "--duration", str(duration)], limit=duration + 120)
            after2 = rb.vm_status(srv.proc.pid)
        r.update(case=label, settings=config, fill=fill, idle_rss_kib=idle["VmRSS"], rss_after_kib=after["VmRSS"],
                 hwm_kib=after["VmHWM"], rss_after_second_pass_kib=after2["VmRSS"],
                 second_pass=dict(ok=r2["ok"], req_per_s=r2["req_per_s"], p99_ms=r2["p99_ms"],
                                  upstream=r2["upstream"], upstream_per_answer=r2["upstream_per_answer"]))
        rb.log(f"memory {label}: {r['ok']} answered at {r['req_per_s']:.0f}/s, VmRSS {idle['VmRSS']} -> "
               f"{after['VmRSS']} KiB (HWM {after['VmHWM']}), second pass {after2['VmRSS']} KiB, "
               f"upstream/req {r['upstream_per_answer']:.3f} then {r2['upstream_per_answer']:.3f}")
        out.append(r)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(rb.REPO, "build-bench"))
    parser.add_argument("--only", default="burst,perreq,memory")
    parser.add_argument("--client-range", type=int, default=131072,
                        help=f"clients in DNS (max {rb.MAX_CLIENT_RANGE}; above 131072 they come from 10.0.0.0)")
    parser.add_argument("--client-base", help="first client address (see run-bench.py --help)")
    parser.add_argument("--burst-connections", type=int, default=100)
    parser.add_argument("--burst-repeat", type=int, default=3, help="fresh daemons per burst case")
    parser.add_argument("--perreq-clients", type=int, default=2000)
    parser.add_argument("--fill", type=int, default=131072, help="distinct clients cached in the memory run")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=float, default=5.0, help="bound of the warm per-request run")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting for the memory run's daemons (TOML value), e.g. cache.clients=1100000; "
                             "repeatable")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    try:
        args.client_base, args.default_parents = rb.client_space(args.client_range, args.client_base)
        for text in args.set:
            parse_setting(text)
    except ValueError as e:
        parser.error(str(e))
    if not 1 <= args.fill <= args.client_range:
        parser.error("--fill must be 1..client-range")
    args.rdns_bench = os.path.join(args.build_dir, "tests", "bench", "rdns-bench")
    args.daemon = os.path.join(args.build_dir, "rdns-policyd")
    for path in (args.rdns_bench, args.daemon):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not built")
    steps = args.only.split(",")
    workdir = tempfile.mkdtemp(prefix="rdns-cache-bench-")
    results: dict = {"machine": rb.machine(), "runs": {}}
    try:
        started = time.monotonic()
        zones = rb.write_zones(workdir, args.client_range, args.client_base)
        ubconf = rb.write_unbound_config(workdir, [z for z, _ in zones if z.endswith("in-addr.arpa.")],
                                         args.default_parents)
        written = time.monotonic()
        with procs.Nsd(workdir, zones, 1, rb.nsd_start_timeout(args.client_range)) as nsd:
            loaded = time.monotonic()
            results["zones"] = dict(clients=args.client_range, base=rb.ipv4(args.client_base),
                                    write_s=round(written - started, 2), nsd_load_s=round(loaded - written, 2))
            rb.log(f"{args.client_range} clients from {rb.ipv4(args.client_base)}: zones written in "
                   f"{written - started:.1f} s, nsd loaded them in {loaded - written:.1f} s")
            b = Bench(args, workdir, nsd, ubconf)
            # The memory runs use clients from 0 up; burst and perreq take
            # theirs from the top of the range so they never overlap.
            b.offset = args.client_range - 3 * args.burst_repeat - args.perreq_clients
            rb.log(f"nsd on 127.0.0.1:{nsd.port}; load average {rb.loadavg()}")
            if "burst" in steps:
                results["runs"]["burst"] = burst(b, args.burst_connections)
            if "perreq" in steps:
                results["runs"]["perreq"] = perreq(b, args.perreq_clients, args.connections)
            if "memory" in steps:
                results["runs"]["memory"] = memory(b, args.fill, args.connections)
            results["machine"]["load_after"] = rb.loadavg()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json_out:
        with open(args.json_out, "w", encoding="ascii") as f:
            json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
