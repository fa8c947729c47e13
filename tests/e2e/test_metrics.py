"""End-to-end: the metrics endpoint of the real daemon ([metrics] listen).

What it proves, against the real binary and the test DNS world:
- a scrape taken while requests are served moves exactly the counters those
  requests should move (decisions by rule and action class, facts, sources,
  DNS lookups, caches, protocol errors, reloads), and Debian's promtool
  accepts every scrape (`promtool check metrics`);
- the endpoint answers only GET/HEAD /metrics and refuses oversized heads,
  bodies, too many connections and a trickling request, while policy
  requests keep being answered at once;
- it serves on a unix socket too, and a keep-alive scraper does not keep
  the daemon from stopping;
- Debian's real Prometheus server scrapes it and a decision counter comes
  back through Prometheus' HTTP query API.

Usage: test_metrics.py PATH-TO-rdns-policyd
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    POLICY_FILE,
    REPLY_TIMEOUT,
    Daemon,
    PolicyClient,
    Runner,
    check,
    check_equal,
    new_instance,
    main_with_dns,
    policy_request,
)

import procs  # noqa: E402  (harness put tests/support on the path)

runner = Runner("metrics")

NO_PTR = "action=550 5.7.25 Client address 127.0.0.3 has no PTR record"
GOOD = ("127.0.0.2", "good.example.test")
# The endpoint's bounds (policyd/daemon/metrics_http.hpp).
MAX_CONNECTIONS = 16
REQUEST_TIMEOUT_S = 10
# A policy answer while the endpoint is under attack: the loop never waits
# on a scraper, so this is generous; it only has to tell "answered" from
# "stuck behind the scrapers".
ANSWER_BOUND_S = 2.0
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
DASHBOARD = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "packaging",
    "grafana-dashboard.json",
)
# The dashboard's metric names: ours and the standard process ones.
METRIC_NAME_RE = re.compile(r"\b((?:rdns_policyd|process)_[a-z_]+)\b")
# Grafana's variables, as a query of the whole range would see them.
GRAFANA_VARIABLES = {"$instance": ".*", "$__rate_interval": "1m", "$__range": "1h"}


class Context:
    binary: str
    workdir: str
    dns: object
    daemon: Daemon


# --------------------------------------------------------------------------
# Scraping


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def connection(endpoint: str) -> http.client.HTTPConnection:
    if endpoint.startswith("unix:"):
        return UnixHTTPConnection(endpoint[len("unix:") :], REPLY_TIMEOUT)
    host, port = endpoint[len("inet:") :].rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=REPLY_TIMEOUT)


def get(endpoint: str, path: str = "/metrics", method: str = "GET", body=None, headers=None):
    """(status, headers, body text) of one request on a fresh connection."""
    conn = connection(endpoint)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def promtool_check(text: str) -> None:
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    check(
        result.returncode == 0,
        f"promtool check metrics: exit {result.returncode}: {result.stdout}{result.stderr}",
    )


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        check(m is not None, f"not a sample line: {line!r}")
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def scrape(endpoint: str) -> dict[tuple[str, frozenset], float]:
    status, headers, text = get(endpoint)
    check_equal(status, 200, "GET /metrics status")
    check(
        headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
        f"content type {headers.get('Content-Type')!r}",
    )
    promtool_check(text)
    return parse(text)


def value(samples: dict, name: str, **labels) -> float:
    key = (name, frozenset(labels.items()))
    check(key in samples, f"no sample {name}{labels}")
    return samples[key]


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def metrics_daemon(ctx: Context, name: str, metrics_listen: str, extra: str = "") -> Daemon:
    """A daemon (not started) with the test rule file, [metrics] listen and
    `extra` configuration text."""
    directory = os.path.join(ctx.workdir, name)
    os.makedirs(directory, exist_ok=True)
    config = os.path.join(directory, "policy.toml")
    with open(POLICY_FILE, encoding="utf-8") as f:
        text = f.read()
    with open(config, "w", encoding="utf-8") as f:
        f.write(f'{text}\n[metrics]\nlisten = "{metrics_listen}"\n{extra}')
    return Daemon(ctx.binary, config, ["--listen", "inet:127.0.0.1:0", *ctx.dns.daemon_args()])


@contextlib.contextmanager
def own_daemon(ctx: Context, name: str, metrics_listen: str, extra: str = ""):
    """A daemon of the test's own, stopped when the block ends."""
    daemon = metrics_daemon(ctx, name, metrics_listen, extra)
    runner.add_diagnostic(f"rdns-policyd ({name}) stderr", daemon.text)
    with daemon:
        check_equal(len(daemon.metrics_endpoints), 1, "metrics endpoints logged")
        yield daemon


def metrics_of(daemon: Daemon) -> str:
    return daemon.metrics_endpoints[0]


# --------------------------------------------------------------------------
# Tests


@runner.test
def counters_move_with_the_requests_served(ctx: Context) -> None:
    endpoint = metrics_of(ctx.daemon)
    policy = ctx.daemon.endpoint("inet:127.0.0.1:")
    before = scrape(endpoint)
    with PolicyClient(policy) as client:
        request, _ = policy_request("127.0.0.3", "good.example.test")
        check_equal(client.ask(request), NO_PTR, "no-PTR client")
        # The same message again: its facts are the message's.
        instance = new_instance()
        request, _ = policy_request(*GOOD, instance=instance)
        check_equal(client.ask(request), "action=DUNNO", "good client")
        request, _ = policy_request(*GOOD, instance=instance)
        check_equal(client.ask(request), "action=DUNNO", "good client, same message")
        during = scrape(endpoint)
        check(value(during, "rdns_policyd_connections_open") >= 1, "our connection is open")
    # A broken request: closed without a reply, counted by reason.
    with PolicyClient(policy) as broken:
        broken.send(b"request=smtpd_access_policy\nno equals sign\n\n")
        broken.expect_closed()
    after = scrape(endpoint)

    # (metric, labels, how much the requests above moved it)
    expected_moves = [
        ("rdns_policyd_decisions_total", {"rule": "reject-no-ptr", "action": "reject"}, 1),
        ("rdns_policyd_decisions_total", {"rule": "reject-no-ptr", "action": "accept"}, 0),
        ("rdns_policyd_decisions_total", {"rule": "default", "action": "accept"}, 2),
        ("rdns_policyd_requests_total", {"source": "instance"}, 1),
        ("rdns_policyd_facts_total", {"fact": "iprev", "value": "permerror"}, 1),
        ("rdns_policyd_facts_total", {"fact": "iprev", "value": "pass"}, 2),
        ("rdns_policyd_request_duration_seconds_count", {}, 3),
        ("rdns_policyd_protocol_errors_total", {"reason": "malformed-line"}, 1),
        ("rdns_policyd_metrics_scrapes_total", {}, 2),
    ]
    for name, labels, expected in expected_moves:
        check_equal(moved(before, after, name, **labels), float(expected), f"{name}{labels}")
    answered = sum(
        moved(before, after, "rdns_policyd_requests_total", source=s)
        for s in ("dns", "cache", "instance")
    )
    check_equal(answered, 3.0, "requests by source, summed")
    # Whatever the caches already held from earlier tests, a PTR went
    # upstream for one of the clients or came from the cache.
    ptr_answers = sum(
        moved(before, after, "rdns_policyd_dns_lookups_total", type="PTR", outcome=o)
        for o in ("ok", "nxdomain", "nodata")
    )
    cache_hits = moved(before, after, "rdns_policyd_cache_hits_total", cache="answers") + moved(
        before, after, "rdns_policyd_cache_hits_total", cache="clients"
    )
    check(ptr_answers + cache_hits >= 2, f"PTR answers {ptr_answers}, cache hits {cache_hits}")
    check(
        moved(before, after, "rdns_policyd_connections_accepted_total") >= 2,
        "connections accepted",
    )


@runner.test
def reloads_are_counted_by_result(ctx: Context) -> None:
    with own_daemon(ctx, "reload", "inet:127.0.0.1:0") as daemon:
        endpoint = metrics_of(daemon)
        first = scrape(endpoint)
        check_equal(value(first, "rdns_policyd_config_last_reload_successful"), 1.0, "at start")
        loaded_at = value(first, "rdns_policyd_config_last_reload_success_timestamp_seconds")
        check(abs(loaded_at - time.time()) < 3600, f"load time {loaded_at} is not about now")
        config = daemon.proc.args[2]
        mark = daemon.log.mark()
        daemon.send_signal(signal.SIGHUP)
        daemon.wait_log(r"reloaded ", mark)
        with open(config, "a", encoding="utf-8") as f:
            f.write("\n[daemon]\nno_such_setting = 1\n")
        mark = daemon.log.mark()
        daemon.send_signal(signal.SIGHUP)
        daemon.wait_log(r"reload of .* failed", mark)
        after = scrape(endpoint)
        check_equal(moved(first, after, "rdns_policyd_reloads_total", result="success"), 1.0, "ok")
        check_equal(
            moved(first, after, "rdns_policyd_reloads_total", result="failure"), 1.0, "failed"
        )
        check_equal(value(after, "rdns_policyd_config_last_reload_successful"), 0.0, "after bad")
        check(
            value(after, "rdns_policyd_config_last_reload_success_timestamp_seconds") >= loaded_at,
            "the good reload's time",
        )
        check(value(after, "rdns_policyd_rules") > 0, "the rules of the running table")


@runner.test
def only_get_and_head_of_metrics_are_served(ctx: Context) -> None:
    endpoint = metrics_of(ctx.daemon)
    status, _, text = get(endpoint, "/")
    check_equal(status, 404, "GET /")
    status, _, _ = get(endpoint, "/metrics/../secret")
    check_equal(status, 404, "GET /metrics/../secret")
    status, headers, _ = get(endpoint, "/metrics", method="POST", body="x=1")
    check(status in (405, 413), f"POST with a body: {status}")
    status, headers, _ = get(endpoint, "/metrics", method="DELETE")
    check_equal(status, 405, "DELETE")
    check_equal(headers.get("Allow"), "GET, HEAD", "Allow header")
    status, headers, body = get(endpoint, "/metrics", method="HEAD")
    check_equal(status, 200, "HEAD")
    check_equal(body, "", "HEAD body")
    check(int(headers.get("Content-Length", "0")) > 1000, "HEAD says how long GET would be")
    status, _, text = get(endpoint, "/metrics?format=prometheus")
    check_equal(status, 200, "a query string is ignored")
    status, _, _ = get(endpoint, "/metrics", headers={"X-Big": "a" * 9000})
    check_equal(status, 431, "a head over 8 KiB")
    many = {f"X-Field-{i}": "1" for i in range(80)}
    status, _, _ = get(endpoint, "/metrics", headers=many)
    check_equal(status, 431, "80 header fields")
    status, _, _ = get(endpoint, "/metrics", method="GET", body="unexpected")
    check_equal(status, 413, "GET with a body")
    # Garbage instead of HTTP.
    with socket.create_connection(tuple_of(endpoint), timeout=REPLY_TIMEOUT) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00 not http\r\n\r\n")
        reply = read_all(raw)
    check(reply.startswith(b"HTTP/1.1 400"), f"garbage: {reply[:40]!r}")


def tuple_of(endpoint: str) -> tuple[str, int]:
    host, port = endpoint[len("inet:") :].rsplit(":", 1)
    return host, int(port)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the peer closes; a reset (it closed with our bytes
    unread) is a close too."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


@runner.test
def hostile_scrapers_never_delay_a_policy_answer(ctx: Context) -> None:
    endpoint = metrics_of(ctx.daemon)
    policy = ctx.daemon.endpoint("inet:127.0.0.1:")
    request, _ = policy_request("127.0.0.3", "good.example.test")
    with contextlib.ExitStack() as stack, PolicyClient(policy) as client:
        # Every connection the endpoint allows, each trickling half a head.
        stalled = []
        for _ in range(MAX_CONNECTIONS):
            s = stack.enter_context(socket.create_connection(tuple_of(endpoint), timeout=30))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            stalled.append(s)
        started = time.monotonic()
        # One more is closed at once.
        extra = stack.enter_context(socket.create_connection(tuple_of(endpoint), timeout=5))
        extra.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        check_equal(read_all(extra), b"", "a connection beyond the limit gets nothing")
        for round_ in range(5):
            asked = time.monotonic()
            check_equal(client.ask(request), NO_PTR, f"policy answer {round_} under attack")
            took = time.monotonic() - asked
            check(took < ANSWER_BOUND_S, f"policy answer {round_} took {took:.2f} s")
            for s in stalled:
                s.sendall(b"X")  # a byte each: the request deadline does not restart
        # The trickled requests are cut at REQUEST_TIMEOUT_S of their first byte.
        for i, s in enumerate(stalled):
            s.settimeout(REQUEST_TIMEOUT_S + 10)
            data = read_all(s)
            check_equal(data, b"", f"stalled scraper {i} closed without an answer")
        waited = time.monotonic() - started
        check(
            REQUEST_TIMEOUT_S - 1 <= waited <= REQUEST_TIMEOUT_S + 8,
            f"the trickling scrapers were closed after {waited:.1f} s",
        )
    # The endpoint serves again.
    scrape(endpoint)


@runner.test
def keep_alive_scrapes_and_stop(ctx: Context) -> None:
    with own_daemon(ctx, "keepalive", "inet:127.0.0.1:0") as daemon:
        conn = connection(metrics_of(daemon))
        for i in range(3):
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            check_equal(response.status, 200, f"scrape {i} on one connection")
            text = response.read().decode()
        samples = parse(text)
        check_equal(value(samples, "rdns_policyd_metrics_scrapes_total"), 3.0, "scrapes")
        # The scraper keeps its connection open: SIGTERM still stops the daemon.
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.proc.wait(timeout=REPLY_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        check_equal(code, 0, "exit status after SIGTERM with a scraper connected")
        check(time.monotonic() - started < 5, "stopped without waiting for the scraper")
        conn.close()


@runner.test
def metrics_on_a_unix_socket(ctx: Context) -> None:
    path = os.path.join(ctx.workdir, "metrics.sock")
    with own_daemon(ctx, "unix", f"unix:{path}") as daemon:
        check_equal(metrics_of(daemon), f"unix:{path}", "the endpoint logged")
        samples = scrape(f"unix:{path}")
        check_equal(value(samples, "rdns_policyd_metrics_scrapes_total"), 1.0, "scrapes")
    check(not os.path.exists(path), "the socket file is removed at stop")


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query the shipped dashboard makes."""
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)
    queries = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable.get("type") == "query":
            queries.append((f"variable {variable['name']}", variable["query"]))
    check(len(queries) >= 10, f"only {len(queries)} queries in {DASHBOARD}")
    return queries


def without_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    check("$" not in expr, f"an unknown Grafana variable in {expr!r}")
    return expr


@runner.test
def the_dashboard_queries_only_exported_metrics(ctx: Context) -> None:
    exported = {name for name, _ in scrape(metrics_of(ctx.daemon))}
    for title, expr in dashboard_queries():
        names = METRIC_NAME_RE.findall(expr)
        check(names, f"panel {title!r}: no metric in {expr!r}")
        for name in names:
            check(name in exported, f"panel {title!r} queries {name}, which is not exported")


# Each alarm test makes the other alarms' thresholds unreachable, so exactly
# its own alarm may be raised.
ALARM_NAMES = ("internal-clients", "no-ptr-anywhere", "connections-refused")
ALARM_INTERVAL_S = 5  # how often the daemon looks (policyd/daemon/server.cpp)


def alarm_daemon(ctx: Context, name: str, min_requests: int, min_clients: int):
    return own_daemon(
        ctx,
        name,
        "inet:127.0.0.1:0",
        f"\n[alarms]\nwindow_s = 600\nmin_requests = {min_requests}\n"
        f"min_clients = {min_clients}\n",
    )


def check_one_alarm(daemon: Daemon, alarm: str, detail: str) -> None:
    line = daemon.wait_log(rf"alarm {alarm} raised: ", 0, timeout=ALARM_INTERVAL_S + 5)
    check(detail in line, f"alarm line {line!r} lacks {detail!r}")
    check("What to do: " in line, f"alarm line {line!r} says no remedy")
    samples = scrape(metrics_of(daemon))
    for other in ALARM_NAMES:
        expected = 1.0 if other == alarm else 0.0
        check_equal(value(samples, "rdns_policyd_alarm", alarm=other), expected, f"alarm {other}")
        check_equal(
            value(samples, "rdns_policyd_alarms_raised_total", alarm=other),
            expected,
            f"{other} raised",
        )
    # Raised once: the next looks add no line.
    time.sleep(ALARM_INTERVAL_S + 1)
    lines = [l for l in daemon.log_since(0) if f"alarm {alarm} " in l]
    check_equal(len(lines), 1, f"lines of alarm {alarm}: {lines}")


@runner.test
def alarm_internal_clients(ctx: Context) -> None:
    # Every test client is on 127.0.0.0/8: a site whose proxy hides its clients.
    with alarm_daemon(ctx, "alarm-internal", min_requests=6, min_clients=1000) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            for i in range(6):
                request, _ = policy_request(*GOOD)
                check_equal(client.ask(request), "action=DUNNO", f"request {i}")
            # Authenticated (submission) requests do not count either way.
            request, _ = policy_request(*GOOD, sasl_username="alice")
            check_equal(client.ask(request), "action=DUNNO", "authenticated request")
        check_one_alarm(daemon, "internal-clients", "6 of 6 unauthenticated requests")


@runner.test
def alarm_no_ptr_anywhere(ctx: Context) -> None:
    with alarm_daemon(ctx, "alarm-noptr", min_requests=1000, min_clients=3) as daemon:
        with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
            # Three fresh assessments of the client without a PTR (three
            # HELO names, so the facts cache does not answer).
            for i in range(3):
                request, _ = policy_request("127.0.0.3", f"h{i}.good.example.test")
                check_equal(client.ask(request), NO_PTR, f"client {i}")
        check_one_alarm(daemon, "no-ptr-anywhere", "3 of 3 clients assessed")


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: rdns-policyd
    static_configs:
      - targets: ["{target}"]
"""


def prometheus_ready(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REPLY_TIMEOUT)
        try:
            conn.request("GET", "/-/ready")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    return False


def prometheus_query(port: int, query: str):
    url = f"/api/v1/query?query={urllib.parse.quote(query)}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REPLY_TIMEOUT)
    try:
        conn.request("GET", url)
        response = conn.getresponse()
        text = response.read()
    finally:
        conn.close()
    check_equal(response.status, 200, f"query {query}: {text[:200]!r}")
    body = json.loads(text)
    check_equal(body.get("status"), "success", f"query {query}")
    return body["data"]["result"]


@runner.test
def real_prometheus_reads_a_decision_counter(ctx: Context) -> None:
    endpoint = metrics_of(ctx.daemon)
    policy = ctx.daemon.endpoint("inet:127.0.0.1:")
    with PolicyClient(policy) as client:
        request, _ = policy_request("127.0.0.3", "good.example.test")
        check_equal(client.ask(request), NO_PTR, "a rejection to count")
    expected = value(
        parse(get(endpoint)[2]),
        "rdns_policyd_decisions_total",
        rule="reject-no-ptr",
        action="reject",
    )
    directory = os.path.join(ctx.workdir, "prometheus")
    os.makedirs(directory, exist_ok=True)
    config = os.path.join(directory, "prometheus.yml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(PROMETHEUS_CONFIG.format(target=endpoint[len("inet:") :]))
    log = os.path.join(directory, "prometheus.log")
    runner.add_diagnostic("prometheus log", lambda: open(log, encoding="utf-8").read())

    def argv(port: int) -> list[str]:
        return [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={directory}/data",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]

    query = 'rdns_policyd_decisions_total{rule="reject-no-ptr",action="reject"}'
    with procs.serve_on_free_port(argv, "prometheus", log_path=log, start_timeout=60) as server:
        # Prometheus accepts connections before its storage is open, and
        # answers 503 until then: wait for /-/ready (bounded).
        check(prometheus_ready(server.port, 60), "Prometheus not ready within 60 s")
        deadline = time.monotonic() + 60
        result = []
        while time.monotonic() < deadline:
            result = prometheus_query(server.port, query)
            if result and float(result[0]["value"][1]) >= expected:
                break
            time.sleep(0.5)
        check(result, f"Prometheus has no {query} after 60 s")
        check_equal(float(result[0]["value"][1]), expected, "the counter through Prometheus")
        check_equal(result[0]["metric"].get("job"), "rdns-policyd", "the scrape job")
        up = prometheus_query(server.port, 'up{job="rdns-policyd"}')
        check(up and up[0]["value"][1] == "1", f"up: {up}")
        # Every query of the shipped dashboard is one Prometheus runs.
        for title, expr in dashboard_queries():
            if expr.startswith("label_values("):
                continue  # Grafana's own function, not PromQL
            prometheus_query(server.port, without_variables(expr))


def start_shared_daemon(ctx: Context, stack: contextlib.ExitStack) -> bool:
    """Most tests share one daemon and look at what their own requests
    moved; those that need a fresh one start it."""
    shared = metrics_daemon(ctx, "shared", "inet:127.0.0.1:0")
    ctx.daemon = runner.set_up(stack, "the shared daemon", shared, "rdns-policyd (shared) stderr")
    return ctx.daemon is not None


def main() -> int:
    return main_with_dns(runner, "rdns-metrics-", Context, start_shared_daemon)


if __name__ == "__main__":
    sys.exit(main())
