#!/bin/sh
# Fails when any process of a sanitizer run wrote a report (the *_OPTIONS
# log_path of make test's SAN_ENV), and prints them: a report from a helper
# process counts even when no test looked at that process's exit status.
#   check-sanitizer-reports.sh DIR
set -eu
dir=$1
reports=$(find "$dir" -type f | sort)
if [ -n "$reports" ]; then
    for report in $reports; do
        echo "=== $report"
        cat "$report"
    done
    echo "sanitizer reports in $dir: the run above is not clean" >&2
    exit 1
fi
echo "no sanitizer report in $dir"
