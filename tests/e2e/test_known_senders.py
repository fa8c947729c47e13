"""End-to-end: known-good senders are never rejected (issue 13, item 5).

The shapes of legitimate large senders that trip other servers' checks
(a Microsoft 365 EHLO that does not resolve, a HELO that is not the PTR,
an untagged IPv6 address literal, a HELO with only an MX, ...) and their
forged counterparts (a provider's HELO name from a VPS, a cloud instance
or a cable line), each a row of known_senders.toml, asked of the real
daemon through its policy socket with the row's public client address.
No packet goes to those addresses: the daemon's DNS questions go to
ldns-testns on loopback (its data is generated from the table at start),
reached through --forwarder.

Two daemons, both started once for the whole file:
- shipped: packaging/rdns-policyd.toml as it is, with --listen, --forwarder
  and --unbound-config on the command line like the other e2e tests; only
  its fixed [metrics] port is turned off in the copy (there is no command
  line option for it, and a fixed port collides with the other daemon and
  with tests running beside this one), and the providers map it names is
  copied beside it, as the package installs both. It must refuse no row:
  legitimate, forged and generic-PTR senders get DUNNO, WARN or PREPEND.
- strict: the same file with [policy] profile = "strict" instead of "rfc"
  (packaging/profiles/strict.toml: rfc's rules up to reject-fcrdns-fail,
  then its own in place of the final WARN rules). It still lets every
  legitimate row through, refuses every forged one by
  reject-forged-provider-helo and every generic one by reject-generic-ptr.

Every row is also held to its own expected rule, reply and facts
(helo_provider, generic_ptr, ...) from the decision log line. A test
collects all its rows' differences before failing, so one run names every
row that decides differently.

Usage: test_known_senders.py PATH-TO-rdns-policyd
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    E2E_DIR,
    Daemon,
    DnsFixture,
    PolicyClient,
    Runner,
    check,
    check_equal,
    main_with_dns,
    policy_request,
)

runner = Runner("known senders")

REPO = os.path.dirname(os.path.dirname(E2E_DIR))
SENDERS_FILE = os.path.join(E2E_DIR, "known_senders.toml")
SHIPPED_CONFIG = os.path.join(REPO, "packaging", "rdns-policyd.toml")
PROFILES_DIR = os.path.join(REPO, "packaging", "profiles")

# The strict profile keeps profile rfc's rules up to this one, and puts its
# own in place of those after it (the final WARN rules).
LAST_KEPT_RULE = "reject-fcrdns-fail"
# The strict profile's rule that must refuse each kind of sender but the
# legitimate, and the rule that lets the large providers' verified servers
# through before the HELO rules (its first own rule).
STRICT_REFUSED_BY = {"forged": "reject-forged-provider-helo", "generic": "reject-generic-ptr"}
STRICT_ACCEPT_RULE = "accept-verified-provider"

KINDS = ("legitimate", "forged", "generic")
# A [[sender]]'s keys; every other key is a fact the decision line carries.
ROW_KEYS = ("id", "note", "kind", "client", "ptr", "helo")
PROFILES = ("shipped", "strict")
# What "let through" means: the reply's first word.
PASSING_ACTIONS = {"DUNNO", "WARN", "PREPEND"}
TTL = 300


class Context:
    binary: str
    workdir: str
    senders: list[dict]
    dns: DnsFixture
    shipped: Daemon
    strict: Daemon | None = None
    observe: Daemon | None = None


# --------------------------------------------------------------------------
# The table


def load_table(path: str = SENDERS_FILE) -> tuple[list[dict], list[dict]]:
    """The [[sender]] and [[name]] rows of known_senders.toml, checked."""
    with open(path, "rb") as f:
        table = tomllib.load(f)
    senders, names = table.get("sender", []), table.get("name", [])
    check(senders, f"{path}: no [[sender]] rows")
    ids = [s.get("id") for s in senders]
    check(len(set(ids)) == len(ids), f"{path}: sender ids repeat: {ids}")
    outcome_keys = tuple(f"{p}_{k}" for p in PROFILES for k in ("rule", "action"))
    for s in senders:
        what = f"{path}: sender {s.get('id')!r}"
        for key in ROW_KEYS + outcome_keys:
            check(key in s, f"{what} has no {key}")
        check(s["kind"] in KINDS, f"{what}: kind {s['kind']!r} is none of {KINDS}")
        ipaddress.ip_address(s["client"])  # raises on a bad address
        s["facts"] = {k: v for k, v in s.items() if k not in ROW_KEYS + outcome_keys}
        check(s["facts"], f"{what}: no facts to check")
    for n in names:
        check("name" in n and "note" in n, f"{path}: a [[name]] without name or note: {n}")
    return senders, names


# --------------------------------------------------------------------------
# The DNS world: ldns-testns data generated from the table


def dns_name(name: str) -> str:
    return name.lower().rstrip(".") + "."


def apex(name: str) -> str:
    """The zone a name's negative answers come from: its last two labels
    (every name in the table is under a two-label registrable domain)."""
    return ".".join(name.rstrip(".").split(".")[-2:]) + "."


def soa(zone: str) -> str:
    server = "a.root-servers.net." if zone == "." else f"ns1.{zone}"
    return f"{zone} {TTL} IN SOA {server} hostmaster.{zone.lstrip('.')} 1 3600 600 86400 {TTL}"


def entry(qname: str, qtype: str, answers: list[str], authority: list[str]) -> str:
    """A NOERROR answer to one question, as zone.testns writes them."""
    lines = [
        "ENTRY_BEGIN",
        "MATCH opcode qtype qname",
        "ADJUST copy_id",
        "REPLY QR AA RA NOERROR",
        "SECTION QUESTION",
        f"{qname} IN {qtype}",
    ]
    if answers:
        lines += ["SECTION ANSWER", *answers]
    if authority:
        lines += ["SECTION AUTHORITY", *authority]
    return "\n".join(lines + ["ENTRY_END", ""])


def nxdomain_entry(qname: str, zone: str) -> str:
    """NXDOMAIN for every type of qname. copy_query puts the query's own
    question in (libunbound drops an answer to another question) but keeps
    QDCOUNT as built, so a placeholder question keeps it at one."""
    return "\n".join(
        [
            "ENTRY_BEGIN",
            "MATCH opcode qname" if qname else "MATCH opcode",
            "ADJUST copy_id copy_query",
            "REPLY QR AA RA NXDOMAIN",
            "SECTION QUESTION",
            f"{qname or 'placeholder.example.'} IN A",
            "SECTION AUTHORITY",
            soa(zone),
            "ENTRY_END",
            "",
        ]
    )


def zone_text(senders: list[dict], names: list[dict]) -> str:
    """ldns-testns entries: each sender's PTR and its name's address; each
    [[name]]'s records; A, AAAA and MX answered for every name that exists
    (NODATA with an SOA where it has none: libunbound asks for the other
    family and the MX only sometimes, and an unanswered question would be a
    timeout); NXDOMAIN for the names marked so and, last, for anything else."""
    reverse: dict[str, str] = {}
    records: dict[str, dict[str, list[str]]] = {}

    def name_records(name: str) -> dict[str, list[str]]:
        return records.setdefault(dns_name(name), {"A": [], "AAAA": [], "MX": []})

    for s in senders:
        address = ipaddress.ip_address(s["client"])
        rname = address.reverse_pointer + "."
        check(rname not in reverse, f"two senders with the client {s['client']}")
        reverse[rname] = dns_name(s["ptr"])
        name_records(s["ptr"])["A" if address.version == 4 else "AAAA"].append(str(address))
    nxdomain = []
    for n in names:
        if n.get("nxdomain"):
            check(dns_name(n["name"]) not in records, f"{n['name']} is nxdomain and has records")
            check(not any(k in n for k in ("a", "aaaa", "mx")), f"{n['name']}: nxdomain and data")
            nxdomain.append(dns_name(n["name"]))
            continue
        r = name_records(n["name"])
        r["A"] += n.get("a", [])
        r["AAAA"] += n.get("aaaa", [])
        r["MX"] += [f"{10 * (i + 1)} {dns_name(mx)}" for i, mx in enumerate(n.get("mx", []))]

    out = [
        "; Generated by tests/e2e/test_known_senders.py from known_senders.toml.",
        f"$TTL {TTL}",
        "",
    ]
    for rname, ptr in reverse.items():
        out.append(entry(rname, "PTR", [f"{rname} {TTL} IN PTR {ptr}"], []))
    for name, by_type in records.items():
        for qtype, values in by_type.items():
            answers = [f"{name} {TTL} IN {qtype} {v}" for v in values]
            out.append(entry(name, qtype, answers, [] if answers else [soa(apex(name))]))
    for name in nxdomain:
        out.append(nxdomain_entry(name, apex(name)))
    out.append("; Anything else does not exist.")
    out.append(nxdomain_entry("", "."))
    return "\n".join(out)


# --------------------------------------------------------------------------
# The two configurations


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def rule_ids(toml_text: str, what: str) -> list[str]:
    try:
        parsed = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as exc:
        raise AssertionError(f"{what} is not TOML: {exc}") from None
    return [rule.get("id") for rule in parsed.get("rule", [])]


def without_fixed_metrics_port(config: str) -> str:
    """The configuration with its [metrics] listen set to "" (off)."""
    out, in_metrics = [], False
    for line in config.splitlines(keepends=True):
        if line.startswith("["):
            in_metrics = line.strip() == "[metrics]"
        elif in_metrics and re.match(r"listen\s*=", line):
            line = 'listen = ""  # off here: the shipped port is fixed\n'
        out.append(line)
    return "".join(out)


def with_profile(config: str, profile: str, path: str = SHIPPED_CONFIG) -> str:
    """`config` with its [policy] profile = "..." line naming `profile`."""
    changed, n = re.subn(r'(?m)^profile\s*=\s*"[a-z]+"', f'profile = "{profile}"', config)
    check(n == 1, f"{path}: no [policy] profile line to change")
    return changed


def profile_rule_ids(name: str) -> list[str]:
    return rule_ids(read(os.path.join(PROFILES_DIR, f"{name}.toml")), f"profile {name}")


def copy_providers_file(config: str, directory: str) -> None:
    """The providers map a relative [checks] providers_file names, from
    beside the shipped configuration to beside our copies of it, as the
    package installs both in /etc/rdns-policyd/."""
    name = tomllib.loads(config).get("checks", {}).get("providers_file", "")
    if name and not os.path.isabs(name):
        source = os.path.join(os.path.dirname(SHIPPED_CONFIG), name)
        write(directory, name, read(source))


def write(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# --------------------------------------------------------------------------
# Asking and judging


def decision_text(d: dict) -> str:
    """The decision log line again, from its parsed fields."""
    return "decision " + " ".join(
        f"{k}={d['_raw_' + k]}" for k in d if not k.startswith("_raw_")
    )


def first_word(action: str) -> str:
    return action.split(" ", 1)[0].upper()


def ask_all(daemon: Daemon, rows: list[dict]) -> list[tuple[dict, str, dict]]:
    """(row, reply's action text, parsed decision line) for each row, on
    one connection, as smtpd asks at RCPT."""
    answers = []
    with PolicyClient(daemon.endpoint("inet:127.0.0.1:")) as client:
        for row in rows:
            request, instance = policy_request(row["client"], row["helo"])
            reply = client.ask(request)
            answers.append((row, reply[len("action=") :], daemon.decision_for(instance)))
    return answers


def differences(profile: str, row: dict, action: str, d: dict) -> list[str]:
    """How a row's outcome under `profile` differs from what its kind and
    its own expectation say; empty when it is as expected."""
    found = []
    kind = row["kind"]
    expected = {k: row[f"{profile}_{k}"] for k in ("rule", "action")}
    word = first_word(action)
    if profile == "strict" and kind in STRICT_REFUSED_BY:
        by = STRICT_REFUSED_BY[kind]
        if not re.fullmatch(r"5\d\d|REJECT", word) or d.get("rule") != by:
            found.append(f"{kind} sender not refused by {by}: {action!r}")
    elif word not in PASSING_ACTIONS:
        found.append(f"{kind} sender refused: {action!r}")
    if d.get("rule") != expected["rule"]:
        found.append(f"rule {d.get('rule')!r}, expected {expected['rule']!r}")
    if word != expected["action"].upper():
        found.append(f"reply {action!r}, expected {expected['action']} ...")
    if d.get("action") != action:
        found.append(f"logged action {d.get('action')!r} is not the reply {action!r}")
    for fact, value in row["facts"].items():
        if d.get(fact) != value:
            found.append(f"{fact}={d.get(fact)} (expected {value})")
    if not found:
        return []
    return [
        f"{profile}: {row['id']} ({row['client']} HELO {row['helo']}): " + "; ".join(found)
        + f"\n    {decision_text(d)}"
    ]


def judge(ctx: Context, profile: str, kinds: tuple[str, ...]) -> None:
    daemon = ctx.shipped if profile == "shipped" else ctx.strict
    check(daemon is not None, f"the {profile} daemon did not start (see the set-up failure)")
    rows = [row for row in ctx.senders if row["kind"] in kinds]
    check(rows, f"no {'/'.join(kinds)} rows in {SENDERS_FILE}")
    problems = []
    for row, action, d in ask_all(daemon, rows):
        problems += differences(profile, row, action, d)
    check(not problems, f"{len(problems)} of {len(rows)} rows:\n" + "\n".join(problems))


# --------------------------------------------------------------------------
# Tests


@runner.test
def strict_profile_is_rfc_then_its_own_rules(ctx: Context) -> None:
    check(ctx.strict is not None, "the strict daemon did not start (see the set-up failure)")
    rfc, strict = profile_rule_ids("rfc"), profile_rule_ids("strict")
    kept = rfc[: rfc.index(LAST_KEPT_RULE) + 1]
    own = strict[len(kept) :]
    check_equal(strict[: len(kept)], kept, "the rules of profile rfc that strict keeps")
    for rule in (STRICT_ACCEPT_RULE, *STRICT_REFUSED_BY.values()):
        check(rule in own, f"profile strict has no rule {rule}")
    check_equal(own[0], STRICT_ACCEPT_RULE, "the first rule of strict's own")


@runner.test
def shipped_table_lets_every_legitimate_sender_through(ctx: Context) -> None:
    judge(ctx, "shipped", ("legitimate",))


@runner.test
def shipped_table_refuses_no_forged_or_generic_sender_for_that_alone(ctx: Context) -> None:
    judge(ctx, "shipped", ("forged", "generic"))


@runner.test
def strict_profile_lets_every_legitimate_sender_through(ctx: Context) -> None:
    judge(ctx, "strict", ("legitimate",))


@runner.test
def strict_profile_rejects_every_forged_provider_helo(ctx: Context) -> None:
    judge(ctx, "strict", ("forged",))


@runner.test
def strict_profile_rejects_honest_helos_from_generic_ptr_names(ctx: Context) -> None:
    judge(ctx, "strict", ("generic",))


# What profile observe adds for each kind of sender but the legitimate.
OBSERVE_HEADER = {
    "forged": "PREPEND X-RDNS-Policy: forged-provider-helo; ",
    "generic": "PREPEND X-RDNS-Policy: generic-ptr; ",
}


@runner.test
def observe_profile_refuses_nothing_and_tags_what_strict_refuses(ctx: Context) -> None:
    check(ctx.observe is not None, "the observe daemon did not start (see the set-up failure)")
    problems = []
    for row, action, d in ask_all(ctx.observe, ctx.senders):
        want = OBSERVE_HEADER.get(row["kind"])
        if first_word(action) not in ("DUNNO", "PREPEND", "WARN"):
            problems.append(f"{row['id']}: refused or deferred: {action}")
        elif want is not None and not action.startswith(want):
            problems.append(f"{row['id']} ({row['kind']}): {action!r}, not {want!r}...")
        elif row["kind"] == "legitimate" and "X-RDNS-Policy" in action:
            problems.append(f"{row['id']} (legitimate) tagged: {action}")
        if d.get("action") != action:
            problems.append(f"{row['id']}: logged {d.get('action')!r}, answered {action!r}")
    check(not problems, "\n".join(problems))


# --------------------------------------------------------------------------
# Set-up


def start_daemons(ctx: Context, stack: contextlib.ExitStack) -> bool:
    """The shipped daemon (without it nothing runs) and the strict one (a
    failure to build or start it is recorded, and its tests fail)."""
    args = ["--listen", "inet:127.0.0.1:0", *ctx.dns.daemon_args()]
    shipped = without_fixed_metrics_port(read(SHIPPED_CONFIG))
    copy_providers_file(shipped, ctx.workdir)
    path = write(ctx.workdir, "shipped.toml", shipped)
    daemon = Daemon(ctx.binary, path, args)
    label = "rdns-policyd (shipped) stderr"
    ctx.shipped = runner.set_up(stack, "the shipped daemon", daemon, label)
    if ctx.shipped is None:
        return False
    try:
        strict = with_profile(shipped, "strict")
        path = write(ctx.workdir, "strict.toml", strict)
    except Exception:  # noqa: BLE001 - reported as a set-up failure
        runner.fail_setup("building the strict profile")
        return True
    daemon = Daemon(ctx.binary, path, args)
    label = "rdns-policyd (strict) stderr"
    ctx.strict = runner.set_up(stack, "the strict daemon", daemon, label)
    path = write(ctx.workdir, "observe.toml", with_profile(shipped, "observe"))
    daemon = Daemon(ctx.binary, path, args)
    ctx.observe = runner.set_up(stack, "the observe daemon", daemon, "rdns-policyd (observe) stderr")
    return True


def write_zone(ctx: Context) -> str:
    """The DNS data of the table, for ldns-testns."""
    ctx.senders, names = load_table()
    return write(ctx.workdir, "known_senders.testns", zone_text(ctx.senders, names))


def main() -> int:
    return main_with_dns(runner, "rdns-known-senders-", Context, set_up=start_daemons,
                         zone=write_zone)


if __name__ == "__main__":
    sys.exit(main())
