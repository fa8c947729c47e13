#!/usr/bin/env python3
"""End-to-end: SIGHUP reloads while the daemon is under load.

Usage: test_reload_load.py PATH-TO-rdns-policyd      (exit 0 = all passed)

Two complete rule tables, A and B, are made from policy.toml: every rule id
and every action text carries the table's name, and the default actions
differ (DUNNO vs OK), so every answer says which table decided it. The
daemon starts with A; CLIENTS threads, each on one persistent connection,
ask for clients 127.0.0.2/.3/.4 (answered from cached DNS data, so the load
is dense) while the main thread rewrites the file alternately with B and A
and sends SIGHUP, SWAPS times. Before each swap it waits until every client
has been answered a few times since the previous reload, so every table is
served on every connection.

Checked: every request is answered (no close, no timeout); every reply is
exactly what one table says for that request; the decision log has exactly
one line per request, whose rule id belongs to the same table as its action
and as the reply; each connection switches table exactly once per reload
(never back to a stale table); the daemon logs no error and exits cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
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
    parse_decision,
    policy_request,
)

CLIENTS = 8  # threads, one persistent connection each
MAX_REQUESTS = 5000  # per client: the count bound
LOAD_SECONDS = 20.0  # the time bound of the whole load
SWAPS = 10  # reloads: B, A, B, ...
ANSWERS_PER_PHASE = 25  # per client after each reload, before the next one
PHASE_TIMEOUT = 10.0
JOIN_TIMEOUT = 15.0  # > REPLY_TIMEOUT: a client stuck in a read still ends
TABLES = ("A", "B")
RELOADED = r"\breloaded .*policy\.toml: \d+ rules"

# (client, helo, rule id without its table prefix or "default",
#  the reply with {t} for the table's name); all fast, none silent.
KINDS = [
    ("127.0.0.2", "good.example.test", "default", None),
    (
        "127.0.0.2",
        "other.example.test",
        "warn-helo-not-forward-confirmed",
        "action=WARN table {t}: HELO name other.example.test does not resolve to 127.0.0.2",
    ),
    (
        "127.0.0.2",
        "localhost",
        "reject-bad-helo",
        "action=550 5.5.2 table {t}: HELO name localhost is not a valid fully-qualified"
        " domain name",
    ),
    (
        "127.0.0.3",
        "good.example.test",
        "reject-no-ptr",
        "action=550 5.7.25 table {t}: Client address 127.0.0.3 has no PTR record",
    ),
    (
        "127.0.0.4",
        "good.example.test",
        "reject-fcrdns-fail",
        "action=550 5.7.25 table {t}: Client address 127.0.0.4: PTR name other.example.test"
        " does not resolve back to it",
    ),
]
DEFAULT_ACTION = {"A": "DUNNO", "B": "OK"}

runner = Runner("test_reload_load")


class Context:
    binary: str
    dns: DnsFixture
    workdir: str


# --------------------------------------------------------------------------
# The two tables


def tag_action(action: str, table: str) -> str:
    """The action with the table's name in its text."""
    coded = re.fullmatch(r"([45]\d\d [45]\.\d{1,3}\.\d{1,3} )(.*)", action)
    if coded:
        return f"{coded.group(1)}table {table}: {coded.group(2)}"
    if action.startswith("WARN "):
        return f"WARN table {table}: {action[len('WARN '):]}"
    if action == "DUNNO":  # bare: INFO carries text and still lets mail on
        return f"INFO table {table}: exempt"
    if re.fullmatch(r"[a-z][a-z0-9_]*", action):  # a restriction class: no text of its own
        return f"INFO table {table}: class {action}"
    raise AssertionError(f"{POLICY_FILE}: no way to tag action {action!r}")


def table_text(table: str) -> str:
    with open(POLICY_FILE, encoding="utf-8") as f:
        text = f.read()
    prefix = table.lower() + "-"
    ids = len(re.findall(r'^id = "', text, re.M))
    actions = len(re.findall(r'^action = "', text, re.M))
    text = re.sub(r'^id = "([^"]+)"$', rf'id = "{prefix}\1"', text, flags=re.M)
    text = re.sub(
        r'^action = "([^"]+)"$',
        lambda m: f'action = "{tag_action(m.group(1), table)}"',
        text,
        flags=re.M,
    )
    default = 'default_action = "DUNNO"\n'
    check(text.count(default) == 1, f"{POLICY_FILE}: {default!r} not there exactly once")
    text = text.replace(default, f'default_action = "{DEFAULT_ACTION[table]}"\n')
    # Every rule of the table must say which table it is, or the test proves less.
    check(ids >= len(KINDS) and ids == actions, f"{POLICY_FILE}: {ids} ids, {actions} actions")
    check_equal(len(re.findall(rf'^id = "{prefix}', text, re.M)), ids, f"{table}: tagged ids")
    check_equal(
        len(re.findall(rf'^action = "[^"]*table {table}: ', text, re.M)),
        actions,
        f"{table}: tagged actions",
    )
    return text


def expected_reply(kind: int, table: str) -> str:
    template = KINDS[kind][3]
    return f"action={DEFAULT_ACTION[table]}" if template is None else template.format(t=table)


def reply_table(kind: int, reply: str) -> str | None:
    """The one table whose answer this is, or None if it is neither's."""
    matching = [t for t in TABLES if reply == expected_reply(kind, t)]
    return matching[0] if len(matching) == 1 else None


def expected_rule(kind: int, table: str) -> str:
    rule = KINDS[kind][2]
    return rule if rule == "default" else f"{table.lower()}-{rule}"


def logged_table(fields: dict) -> str | None:
    """The table of a decision line's action text, or None if it names
    neither or both."""
    action = fields.get("action", "")
    named = [t for t in TABLES if f"table {t}:" in action]
    if action in DEFAULT_ACTION.values():
        named += [t for t in TABLES if DEFAULT_ACTION[t] == action]
    return named[0] if len(named) == 1 else None


def rule_table(rule: str | None) -> str | None:
    """The table a rule id belongs to ("default" belongs to both)."""
    for t in TABLES:
        if rule is not None and rule.startswith(t.lower() + "-"):
            return t
    return None


# --------------------------------------------------------------------------
# The load


class Client(threading.Thread):
    """One persistent connection asking in a loop, bounded by count, time
    and the stop event; records (instance, kind, reply) per answer."""

    def __init__(self, index: int, endpoint: str, stop: threading.Event, deadline: float):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.endpoint = endpoint
        self.stop = stop
        self.deadline = deadline
        self.answers: list = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            with PolicyClient(self.endpoint) as client:
                n = 0
                while (
                    n < MAX_REQUESTS and not self.stop.is_set() and time.monotonic() < self.deadline
                ):
                    kind = (self.index + n) % len(KINDS)
                    address, helo, _, _ = KINDS[kind]
                    instance = f"rl{os.getpid():x}.{self.index}.{n}"
                    request, _ = policy_request(address, helo, instance=instance)
                    reply = client.ask(request)
                    self.answers.append((instance, kind, reply))
                    n += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = f"{self.name} after {len(self.answers)} answers: {exc!r}"

    def count(self) -> int:
        return len(self.answers)


def wait_for_answers(clients: list, baseline: list, timeout: float) -> None:
    """Until every client has ANSWERS_PER_PHASE more answers than baseline."""
    deadline = time.monotonic() + timeout
    while True:
        behind = [
            c.name for c, b in zip(clients, baseline) if c.count() < b + ANSWERS_PER_PHASE
        ]
        if not behind:
            return
        failed = [c.error for c in clients if c.error]
        check(not failed, f"clients failed: {failed}")
        check(
            time.monotonic() < deadline, f"no {ANSWERS_PER_PHASE} answers in {timeout}s: {behind}"
        )
        time.sleep(0.01)


def write_file(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@runner.test
def reload_under_load_never_fails_nor_mixes_tables(ctx: Context) -> None:
    texts = {t: table_text(t) for t in TABLES}
    config = os.path.join(ctx.workdir, "policy.toml")
    write_file(config, texts["A"])
    daemon = Daemon(ctx.binary, config, ["--listen", "inet:127.0.0.1:0", *ctx.dns.daemon_args()])
    runner.add_diagnostic("rdns-policyd stderr", daemon.text)
    with daemon:
        endpoint = daemon.endpoint("inet:127.0.0.1:")
        stop = threading.Event()
        started = time.monotonic()
        clients = [Client(i, endpoint, stop, started + LOAD_SECONDS) for i in range(CLIENTS)]
        for c in clients:
            c.start()
        reloads = 0
        baseline = [0] * CLIENTS
        try:
            for swap in range(SWAPS):
                wait_for_answers(clients, baseline, PHASE_TIMEOUT)
                write_file(config, texts[TABLES[(swap + 1) % 2]])
                mark = daemon.log.mark()
                daemon.send_signal(signal.SIGHUP)
                daemon.wait_log(RELOADED, mark)
                reloads += 1
                baseline = [c.count() for c in clients]
            wait_for_answers(clients, baseline, PHASE_TIMEOUT)
        finally:
            stop.set()
            for c in clients:
                c.join(JOIN_TIMEOUT)
        load_time = time.monotonic() - started
        stuck = [c.name for c in clients if c.is_alive()]
        check(not stuck, f"client threads still running after {JOIN_TIMEOUT}s: {stuck}")
        failed = [c.error for c in clients if c.error]
        check(not failed, f"requests failed under reload: {failed}")
        check_equal(reloads, SWAPS, "reloads done")
        check(load_time < LOAD_SECONDS, f"load hit its time bound ({load_time:.1f}s)")

        # Every reply is one table's exact answer; each connection changes
        # table once per reload and never returns to a stale one.
        table_of: dict = {}
        for c in clients:
            tables = []
            for instance, kind, reply in c.answers:
                table = reply_table(kind, reply)
                check(table is not None, f"{c.name} {instance}: reply of neither table: {reply!r}")
                table_of[instance] = (kind, table, reply)
                tables.append(table)
            check_equal(tables[0], "A", f"{c.name}: table of the first reply")
            switches = sum(1 for x, y in zip(tables, tables[1:]) if x != y)
            check_equal(switches, SWAPS, f"{c.name}: table switches in {len(tables)} replies")
        total = len(table_of)
        check_equal(total, sum(c.count() for c in clients), "unique instances")
        seen = {t for _, t, _ in table_of.values()}
        check_equal(seen, set(TABLES), "tables seen in replies")

        # One decision line per request, its rule and action from the table
        # that answered.
        pattern = rf"\bdecision\b.*\binstance=rl{os.getpid():x}\."
        daemon.wait_log_count(pattern, total, timeout=PHASE_TIMEOUT)
        decided: dict = {}
        for line in daemon.log_since(0):
            if re.search(pattern, line) is None:
                continue
            d = parse_decision(line)
            instance = d.get("instance")
            check(instance in table_of, f"decision for an instance never asked: {line}")
            check(instance not in decided, f"two decision lines for {instance}: {line}")
            decided[instance] = d
            kind, table, reply = table_of[instance]
            check_equal(logged_table(d), table, f"{instance}: table of the logged action {d}")
            rule = d.get("rule")
            if rule != "default":
                check_equal(rule_table(rule), table, f"{instance}: table of the logged rule {d}")
            check_equal(rule, expected_rule(kind, table), f"{instance}: logged rule")
            check_equal(d.get("action"), reply[len("action=") :], f"{instance}: logged action")
        check_equal(len(decided), total, "decision lines")

        errors = [l for l in daemon.log_since(0) if re.search(r": (error|critical): ", l)]
        check(not errors, f"daemon logged errors: {errors}")
        check_equal(daemon.stop(), 0, "exit status after SIGTERM (None = killed)")
        print(
            f"     {total} requests on {CLIENTS} connections, {SWAPS} reloads,"
            f" {load_time:.1f}s of load",
            flush=True,
        )


def main() -> int:
    return main_with_dns(runner, "rdns-e2e-reload-load-", Context)


if __name__ == "__main__":
    sys.exit(main())
