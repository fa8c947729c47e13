#!/usr/bin/env python3
"""The layering check: every project #include must point down the layers.

The table below is the one declaration of the layers (docs/ARCHITECTURE.md
explains each). A source file may include a header of its own folder or of a
folder of a LOWER rank; anything else (a higher rank, or another folder of
the same rank) is an error, printed as `file:line: message`. Unknown folders
are errors too, so a new folder must be given its place here.

Usage: check_layers.py [REPO]   (exit 0 clean, 1 violations)
       check_layers.py --self-test  (proves the check catches an upward include)
"""
import os
import re
import sys
import tempfile

# folder -> rank; lower ranks know nothing of higher ones.
LAYERS = {
    "policyd/base": 0,      # ASCII case, DNS-name limits, sanitising, addresses, LRU index
    "policyd/protocol": 1,  # the policy wire format and Request
    "resolver": 1,          # libunbound on Asio, answer cache, coalescing, health
    "policyd/checks": 2,    # facts, their derivation, the assessment, facts caches
    "rules": 3,             # the rule table: conditions, evaluation, actions, loader
    "policyd/config": 4,    # settings, the configuration snapshot, the resolver stack
    "policyd/answer": 5,    # answering one request: decision, overrides, header, record
    "policyd/metrics": 6,   # every exported metric, declared once, and the exposition text
    "policyd/daemon": 7,    # listeners, connections, signals, logging, the metrics endpoint
    "policyd/tools": 7,     # explain, test (rule cases), man pages
    "policyd": 8,           # main.cpp only
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path):
    """The layer folder of a repository path, or None."""
    best = None
    for folder in LAYERS:
        if path.startswith(folder + "/") and "/" not in path[len(folder) + 1:]:
            best = folder
    return best


def check(repo):
    """Prints every violation under repo; returns how many there were."""
    errors = []
    checked = 0
    for top in ("policyd", "resolver", "rules"):
        for root, _dirs, files in os.walk(os.path.join(repo, top)):
            for name in sorted(files):
                if not name.endswith((".cpp", ".hpp")):
                    continue
                path = os.path.relpath(os.path.join(root, name), repo)
                here = folder_of(path)
                if here is None:
                    errors.append(f"{path}:1: folder {os.path.dirname(path)} is not a layer "
                                  "(add it to tests/check_layers.py and docs/ARCHITECTURE.md)")
                    continue
                checked += 1
                with open(os.path.join(repo, path), encoding="utf-8") as source:
                    for number, line in enumerate(source, 1):
                        match = INCLUDE.match(line)
                        if not match:
                            continue
                        target = match.group(1)
                        if "/" not in target:
                            errors.append(f"{path}:{number}: include \"{target}\" by its full "
                                          "path from the repository root")
                            continue
                        there = folder_of(target)
                        if there is None or not os.path.exists(os.path.join(repo, target)):
                            errors.append(f"{path}:{number}: \"{target}\" is not a header of "
                                          "a layer")
                            continue
                        if there == here:
                            continue
                        if LAYERS[there] >= LAYERS[here]:
                            errors.append(
                                f"{path}:{number}: {here} (rank {LAYERS[here]}) includes "
                                f"{target} of {there} (rank {LAYERS[there]}): includes must "
                                "point down the layers")
    for error in errors:
        print(error)
    print(f"check_layers: {checked} files, {len(errors)} violation(s)")
    return len(errors)


def self_test():
    """A tree with one clean include and each kind of violation."""
    files = {
        "policyd/base/a.hpp": '#pragma once\n',
        "policyd/checks/facts.hpp": '#include "policyd/base/a.hpp"\n',
        "rules/rules.hpp": '#include "policyd/checks/facts.hpp"\n'
                           '#include "policyd/daemon/server.hpp"\n',  # up: error
        "policyd/daemon/server.hpp": '#include "policyd/tools/explain.hpp"\n',  # same rank
        "policyd/tools/explain.hpp": '#include "facts.hpp"\n',  # not a full path
        "policyd/stray/x.hpp": '\n',  # not a layer
    }
    with tempfile.TemporaryDirectory() as repo:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(repo, path)), exist_ok=True)
            with open(os.path.join(repo, path), "w", encoding="utf-8") as out:
                out.write(text)
        found = check(repo)
    if found != 4:
        print(f"self-test: expected 4 violations, found {found}")
        return 1
    print("self-test: ok")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    return 1 if check(repo) else 0


if __name__ == "__main__":
    sys.exit(main())
