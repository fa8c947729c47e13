#!/usr/bin/env python3
"""Measure rdns-policyd's own DNS cache, all on loopback.

Uses run-bench.py's zones, nsd (with its query counters) and daemon
configuration, and runs three measurements, each against a FRESH daemon:

  burst   N connections all asking about the SAME client, never seen before,
          at the same moment (rdns-bench --clients 1 --connections N
          --requests N, a client offset no other run used). nsd's counters
          before/after give the upstream queries: with coalescing, exactly
          1 PTR + A + AAAA of the PTR name (+ A + AAAA of the HELO name when
          it differs). Also run with `[cache] size = 0` and with a HELO name
          that differs from the PTR name.
  perreq  a cold pass over K new clients, then a warm pass over the same
          K clients: upstream queries per request, cold and warm (goal 0).
  memory  VmRSS idle and after a cold pass over --fill clients with
          `[cache] size` large enough, and the same pass with the cache off;
          the difference divided by the clients is the cost of one cached
          client. Also instance_cache_size 0 vs the default.

Every process started is terminated and reaped; every run is bounded.
Usage: cache-bench.py [--build-dir DIR] [--only burst,perreq,memory]
                      [--fill 131072] [--json-out FILE]
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("run_bench", os.path.join(HERE, "run-bench.py"))
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)


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

    def daemon(self, name: str, cache_size: int | None = None, instance_cache_size: int | None = None):
        conf = os.path.join(self.workdir, f"policy-{name}.toml")
        text = rb.POLICY.format(level="warning")
        if instance_cache_size is not None:
            text = f"[daemon]\ninstance_cache_size = {instance_cache_size}\n\n" + text
        if cache_size is not None:
            text += f"\n[cache]\nsize = {cache_size}\n"
        with open(conf, "w", encoding="ascii") as f:
            f.write(text)
        forwarder = f"127.0.0.1@{self.nsd.port}"
        return rb.start_with_free_port(
            lambda p: [self.args.daemon, "--config", conf, "--listen", f"inet:127.0.0.1:{p}",
                       "--forwarder", forwarder, "--unbound-config", self.ubconf],
            "rdns-policyd", os.path.join(self.workdir, f"daemon-{name}.stderr"))

    def bench(self, port: int, extra: list[str], limit: float = 300) -> dict:
        argv = [self.args.rdns_bench, "--server", f"127.0.0.1:{port}", "--json",
                "--client-range", str(self.args.client_range)] + extra
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


def memory(b: Bench, fill: int, conns: int) -> list[dict]:
    out = []
    # cache size in entries: 3 per client (PTR, A, AAAA; HELO = PTR name).
    cases = [("cache size 1000000", 1_000_000, None),
             ("cache off (size 0)", 0, None),
             ("cache size 1000000, instance cache 0", 1_000_000, 0)]
    for label, size, inst in cases:
        with b.daemon("memory", cache_size=size, instance_cache_size=inst) as srv:
            time.sleep(0.2)
            idle = rb.vm_status(srv.proc.pid)
            r = b.bench(srv.port, ["--cold", "--client-offset", "0", "--connections", str(conns),
                                   "--requests", str(fill), "--duration", "600"], limit=660)
            after = rb.vm_status(srv.proc.pid)
            # A second, warm pass over the same clients: must cost no upstream query.
            r2 = b.bench(srv.port, ["--cold", "--client-offset", "0", "--connections", str(conns),
                                    "--requests", str(fill), "--duration", "600"], limit=660)
            after2 = rb.vm_status(srv.proc.pid)
        r.update(case=label, fill=fill, idle_rss_kib=idle["VmRSS"], rss_after_kib=after["VmRSS"],
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
    parser.add_argument("--client-range", type=int, default=131072, help="clients in DNS (max 131072)")
    parser.add_argument("--burst-connections", type=int, default=100)
    parser.add_argument("--burst-repeat", type=int, default=3, help="fresh daemons per burst case")
    parser.add_argument("--perreq-clients", type=int, default=2000)
    parser.add_argument("--fill", type=int, default=131072, help="distinct clients cached in the memory run")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=float, default=5.0, help="bound of the warm per-request run")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    if not 1 <= args.client_range <= 131072 or not 1 <= args.fill <= args.client_range:
        parser.error("--client-range must be 1..131072 and --fill 1..client-range")
    args.rdns_bench = os.path.join(args.build_dir, "tests", "bench", "rdns-bench")
    args.daemon = os.path.join(args.build_dir, "rdns-policyd")
    for path in (args.rdns_bench, args.daemon):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not built")
    steps = args.only.split(",")
    workdir = tempfile.mkdtemp(prefix="rdns-cache-bench-")
    results: dict = {"machine": rb.machine(), "runs": {}}
    try:
        zones = rb.write_zones(workdir, args.client_range)
        ubconf = rb.write_unbound_config(workdir, [z for z, _ in zones if z.endswith("in-addr.arpa.")])
        with rb.Nsd(workdir, zones, 1) as nsd:
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
