#!/bin/sh
# The format check: every C++ source of the repository is formatted as the
# checked-in .clang-format says (clang-format --dry-run -Werror prints each
# place that differs). `make format` fixes them.
set -eu
cd "${1:-$(dirname "$0")/..}"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files '*.cpp' '*.hpp')
else
    files=$(find policyd resolver rules tests -name '*.cpp' -o -name '*.hpp')
fi
[ -n "$files" ] || { echo "check_format: no sources found" >&2; exit 1; }
# shellcheck disable=SC2086 # one argument per file is intended
clang-format --dry-run -Werror $files
echo "check_format: $(echo "$files" | wc -l) files formatted"
