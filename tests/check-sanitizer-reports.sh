#!/bin/sh
# Fails when any process of a sanitizer run wrote a report (the *_OPTIONS
# log_path of make test's san_env), and prints them: a report from a helper
# process counts even when no test looked at that process's exit status.
#   check-sanitizer-reports.sh DIR
#   check-sanitizer-reports.sh --self-test address|thread
# The self-test proves the path a report takes: it builds a program with a
# use-after-free (address) or a data race (thread), runs it with the same
# options, and requires the check to fail on what it wrote.
set -eu

check() {
    reports=$(find "$1" -type f | sort)
    if [ -n "$reports" ]; then
        for report in $reports; do
            echo "=== $report"
            cat "$report"
        done
        echo "sanitizer reports in $1: the run above is not clean" >&2
        return 1
    fi
    echo "no sanitizer report in $1"
}

if [ "${1:-}" = "--self-test" ]; then
    kind=$2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    case "$kind" in
        address) cat > "$work/bad.cpp" <<'CPP'
#include <cstdio>
int main() {
    int* p = new int[4];
    delete[] p;
    std::printf("%d\n", p[1]);  // heap-use-after-free
}
CPP
            ;;
        thread) cat > "$work/bad.cpp" <<'CPP'
#include <cstdio>
#include <thread>
int shared = 0;
int main() {
    std::thread a([] { for (int i = 0; i < 100000; ++i) ++shared; });
    std::thread b([] { for (int i = 0; i < 100000; ++i) ++shared; });  // data race
    a.join();
    b.join();
    std::printf("%d\n", shared);
}
CPP
            ;;
        *) echo "usage: $0 --self-test address|thread" >&2; exit 2 ;;
    esac
    clang++ -std=c++20 -g -O1 -pthread -fsanitize="$kind" "$work/bad.cpp" -o "$work/bad"
    mkdir "$work/reports"
    ASAN_OPTIONS="log_path=$work/reports/asan" TSAN_OPTIONS="log_path=$work/reports/tsan" \
        "$work/bad" > /dev/null 2>&1 || true
    if check "$work/reports" > /dev/null 2>&1; then
        echo "self-test: a report from -fsanitize=$kind did not reach the check" >&2
        exit 1
    fi
    echo "self-test: a report from -fsanitize=$kind fails the check, as it must"
    exit 0
fi

check "$1"
