#!/usr/bin/env python3
"""The systemd units, checked by systemd's own tools.

Usage: check_units.py REPO BINARY      (exit 0 = all passed)

- `systemd-analyze verify` accepts packaging/rdns-policyd.service and
  .socket (with the built binary standing in for /usr/sbin/rdns-policyd,
  since verify insists that every command exists);
- `systemd-analyze security --offline=true` rates the service at 1.5 or
  lower (DESIGN: a policy server needs nothing but its sockets and DNS);
- every directive of the service's [Service] section sits in a block of
  lines that starts with a comment saying why (the reason for each
  hardening line, and for the others).
"""

import os
import re
import subprocess
import sys
import tempfile

MAX_EXPOSURE = 1.5
failures = []


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def uncommented_directives(unit_text: str) -> list[str]:
    """Directives of [Service] whose block (lines up to a blank line) has no
    comment before them."""
    missing = []
    section = ""
    commented = False
    for line in unit_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section, commented = stripped, False
        elif not stripped:
            commented = False
        elif stripped.startswith("#"):
            commented = True
        elif section == "[Service]" and not commented:
            missing.append(stripped)
    return missing


def main() -> int:
    repo, binary = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    service_path = os.path.join(repo, "packaging", "rdns-policyd.service")
    socket_path = os.path.join(repo, "packaging", "rdns-policyd.socket")
    with open(service_path, encoding="utf-8") as f:
        service = f.read()
    with open(socket_path, encoding="utf-8") as f:
        socket_unit = f.read()
    with tempfile.TemporaryDirectory(prefix="rdns-units-") as tmp:
        units = {"rdns-policyd.service": service.replace("/usr/sbin/rdns-policyd", binary),
                 "rdns-policyd.socket": socket_unit}
        paths = []
        for name, text in units.items():
            paths.append(os.path.join(tmp, name))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.write(text)
        verify = subprocess.run(["systemd-analyze", "verify", "--man=no", *paths],
                                capture_output=True, text=True, timeout=60)
        ours = [l for l in (verify.stdout + verify.stderr).splitlines() if "rdns-policyd" in l]
        check(verify.returncode == 0 and not ours,
              "systemd-analyze verify: " + ("clean" if not ours else "; ".join(ours)))
        security = subprocess.run(["systemd-analyze", "security", "--offline=true", paths[0]],
                                  capture_output=True, text=True, timeout=60)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
        check(match is not None, "systemd-analyze security printed an exposure level")
        if match:
            level = float(match.group(1))
            check(level <= MAX_EXPOSURE, f"exposure level {level} <= {MAX_EXPOSURE}")
    missing = uncommented_directives(service)
    check(not missing, "every [Service] directive has its reason: " +
          ("yes" if not missing else "missing for " + ", ".join(missing)))
    check(uncommented_directives("[Service]\n# why\nA=1\n\nB=2\n") == ["B=2"],
          "the reason check itself finds an uncommented directive")
    check("Type=notify" in service and "WatchdogSec=" in service, "Type=notify with a watchdog")
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
