#!/bin/sh
# Runs one libFuzzer target: first every seed once (a regression run), then
# fuzzes for SECONDS, or for RUNS executions when given, starting from the
# seeds and everything earlier runs left in FOUND_DIR (libFuzzer runs each
# of those first, so an earlier finding fails again until it is fixed). New
# inputs go to FOUND_DIR, never into the seed corpus in the repository; a
# crash, leak, timeout or broken invariant leaves its input there as
# crash-*, leak-* or timeout-* and fails the run.
#   run-fuzz.sh TARGET SEED_DIR FOUND_DIR SECONDS [RUNS]
set -eu
target=$1 seeds=$2 found=$3 seconds=$4 runs=${5:--1}
mkdir -p "$found"
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or a
# runaway allocation fails long before the machine notices; -max_len: the
# largest input any parser here takes whole (a policy request is at most
# 32 KiB by default).
common="-timeout=10 -rss_limit_mb=2048 -max_len=40000 -artifact_prefix=$found/"
# shellcheck disable=SC2086 # $common is a list of options
"$target" $common -runs=0 "$seeds"
# shellcheck disable=SC2086
exec "$target" $common -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 \
    "$found" "$seeds"
