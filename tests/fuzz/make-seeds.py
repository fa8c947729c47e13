#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/NAME/) from the
repository's own examples, so the seeds follow the formats as they change:
run it again after changing a format, and commit the result.

    python3 tests/fuzz/make-seeds.py
"""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def request(**attrs: str) -> bytes:
    lines = [f"{k}={v}" for k, v in attrs.items()]
    return ("\n".join(lines) + "\n\n").encode()


def codec() -> None:
    base = dict(request="smtpd_access_policy", protocol_state="RCPT", protocol_name="ESMTP",
                client_address="192.0.2.10", client_name="mail.example.com",
                reverse_client_name="mail.example.com", helo_name="mail.example.com",
                sender="alice@example.com", recipient="bob@example.net", queue_id="",
                instance="123.456.7", size="12345", client_port="40000",
                server_address="192.0.2.1", server_port="25")
    # The facts bytes of tests/fuzz/fuzz_codec.cpp (kFactsBytes): a value per
    # fact, a PTR name in wire form, the verified, outage and header-due bits.
    def facts_bytes(values: bytes, ptr: str, bits: bytes) -> bytes:
        name = wire_name(ptr)
        return (values + bytes([len(name)]) + name + bits).ljust(80, b"\0")[:80]

    facts = facts_bytes(bytes(range(8)), "mail.example.com", b"\x01\x00\x01")
    one = request(**base)
    write("codec", "one-request", b"\x00" + facts + one)
    write("codec", "two-pipelined", b"\x00" + facts + one + one.replace(b"RCPT", b"DATA"))
    write("codec", "crlf", b"\x00" + facts + one.replace(b"\n", b"\r\n"))
    write("codec", "small-limits", b"\x01" + facts + one)
    v6 = dict(base, client_address="2001:db8::25", helo_name="[IPv6:2001:db8::25]")
    write("codec", "ipv6-literal", b"\x00" + facts_bytes(bytes(8), "", b"") + request(**v6))
    outage = facts_bytes(bytes([3, 0, 3, 2, 3, 1, 0, 0]), "x.example", b"\x00\x01\x00")
    write("codec", "outage", b"\x00" + outage + one)
    write("codec", "sasl", b"\x00" + facts + request(**dict(base, sasl_username="alice",
                                                            sasl_method="PLAIN")))
    write("codec", "empty-request", b"\x00" + facts + b"\n")
    write("codec", "wrong-type", b"\x00" + facts + request(request="junk"))
    write("codec", "macros", b"\x00" + facts + request(**dict(
        base, helo_name="%{helo_name}\\x%%", sender="<>", client_address="::ffff:192.0.2.9")))


def config() -> None:
    write("config", "shipped.toml", (ROOT / "packaging/rdns-policyd.toml").read_bytes())
    write("config", "e2e-policy.toml", (ROOT / "tests/e2e/policy.toml").read_bytes())
    write("config", "minimal.toml", b'[policy]\ndefault_action = "DUNNO"\n')
    for name in ("observe", "rfc", "strict"):
        write("config", f"profile-{name}.toml", (ROOT / f"packaging/profiles/{name}.toml").read_bytes())
    # The rule language's newer parts together: a profile with own rules
    # before and after it, negation, stress, a restriction class, blocklists.
    write("config", "language.toml", b"""[policy]
profile = "strict"
disable_rules = ["reject-helo-ptr-mismatch"]
restriction_classes = ["rdns_greylist"]

[[rule]]
id = "skip-under-stress"
stress = true
action = "DUNNO"

[[rule]]
id = "greylist-generic"
after_profile = true
generic_ptr = { not = "not-generic" }
not = { ptr_name = ".partner.example", dnsbl_listed = "zen:pbl" }
action = "rdns_greylist"

[[rule]]
id = "reject-listed"
dnsbl_listed = ["zen:xbl", "dbl"]
action = "554 5.7.1 listed on {dnsbl_listed}"

[[dnsbl]]
name = "zen"
zone = "zen.example"
check = "client"
codes = { "127.0.0.4" = "xbl", "127.0.0.10" = "pbl" }

[[dnsbl]]
name = "dbl"
zone = "dbl.example"
check = "ptr"
""")


def rule_cases() -> None:
    write("rule_cases", "e2e-cases.toml", (ROOT / "tests/e2e/cases.toml").read_bytes())


def helo() -> None:
    for i, text in enumerate([
            "mail.example.com", "localhost", "[192.0.2.1]", "[IPv6:2001:db8::1]",
            "[2001:db8::1]", "192.0.2.1", "2001:db8::1", "xn--bcher-kva.example", "a..b",
            "host.123", "[IPv6:::ffff:192.0.2.1]", "WIN-ABC123", "-bad-.example", "mail.example.com.",
            "[ipv6:2001:DB8::1]", "1.2.3.4.5", "[1.2.3]", "a" * 64 + ".example"]):
        write("helo", f"helo-{i:02d}", text.encode())


def address() -> None:
    for i, text in enumerate([
            "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "::1", "0.0.0.0", "25", "65535",
            "00025", "inet:127.0.0.1:10045", "inet:[::1]:10045", "unix:/run/rdns-policyd.sock",
            "127.0.0.1@5353", "2001:db8::53@53", "fe80::1%eth0", "1.2.3", "inet:localhost:25"]):
        write("address", f"address-{i:02d}", text.encode())


def generic_ptr() -> None:
    rows = (ROOT / "tests/unit/generic_ptr_corpus.tsv").read_text().splitlines()
    count = 0
    for row in rows:
        if not row or row.startswith("#"):
            continue
        name, client = row.split("\t")[:2]
        if ":" in client:
            import ipaddress
            packed = b"\x01" + ipaddress.IPv6Address(client).packed
        else:
            packed = b"\x00" + bytes(int(x) for x in client.split("."))
        write("generic_ptr", f"ptr-{count:03d}", packed + name.encode())
        count += 1
        if count >= 60:
            break


def wire_name(name: str) -> bytes:
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def soa_packet(rcode: int, soa_ttl: int, minimum: int) -> bytes:
    header = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, 1, 0, 1, 0)
    question = wire_name("4.3.2.1.in-addr.arpa") + struct.pack(">HH", 12, 1)
    rdata = wire_name("ns.example") + wire_name("hostmaster.example") + struct.pack(
        ">IIIII", 1, 3600, 600, 86400, minimum)
    soa = b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, soa_ttl, len(rdata)) + rdata
    return header + question + soa


def dns_answer() -> None:
    # type (0 A, 1 AAAA, 2 PTR), flags, rcode, record count, records, why_bogus, canonname,
    # packet (tests/fuzz/fuzz_dns_answer.cpp)
    def seed(type_: int, flags: int, records, why: bytes, canon: bytes, packet: bytes,
             rcode: int = 0) -> bytes:
        body = bytes([type_, flags, rcode, len(records)])
        for record in records:
            body += bytes([len(record)]) + record
        body += bytes([len(why)]) + why + bytes([len(canon)]) + canon
        return body + packet

    havedata = 0x20
    write("dns_answer", "ptr-one", seed(2, havedata, [wire_name("mail.example.com")], b"", b"",
                                        b""))
    write("dns_answer", "ptr-two", seed(2, havedata | 0x01, [wire_name("a.example"),
                                                             wire_name("B.Example")],
                                        b"", b"4.3.2.1.in-addr.arpa\x00", b""))
    write("dns_answer", "a-two", seed(0, havedata, [bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])],
                                      b"", b"", b""))
    write("dns_answer", "aaaa-one", seed(1, havedata, [bytes(15) + b"\x01"], b"", b"", b""))
    write("dns_answer", "nxdomain-soa", seed(2, 0, [], b"", b"", soa_packet(3, 300, 60), rcode=3))
    write("dns_answer", "nodata-soa", seed(0, 0, [], b"", b"", soa_packet(0, 30, 900)))
    write("dns_answer", "servfail", seed(2, 0, [], b"", b"", b"", rcode=2))
    write("dns_answer", "rcode-23", seed(0, 0, [], b"", b"", b"", rcode=23))
    write("dns_answer", "bogus", seed(2, 0x40 | 0x01 | havedata, [wire_name("x.example")],
                                      b"signature expired\x01\x7f", b"x.example\x00", b""))
    write("dns_answer", "compressed-ptr", seed(2, havedata, [b"\x04mail\xc0\x0c"], b"", b"", b""))


def main() -> None:
    codec()
    config()
    rule_cases()
    helo()
    address()
    generic_ptr()
    dns_answer()


if __name__ == "__main__":
    main()
