#!/bin/sh
# The Debian package, for real on this machine: built by `make package`
# (lintian: no error, no warning), installed with dpkg, its installed
# rdns-policyd check-config run on its installed configuration, its
# installed units verified by systemd-analyze, its man page rendered, then
# purged: nothing of it may remain (dpkg -L gone, /etc/rdns-policyd gone,
# every file it listed gone).
#
# Usage: test_package.sh REPO BUILD_DIR    (exit 0 passed, 77 skipped: not root)
set -eu
repo=$1
build=$2
if [ "$(id -u)" -ne 0 ]; then
    echo "test_package: skipped: installing a package needs root"
    exit 77
fi
if dpkg -s rdns-policyd >/dev/null 2>&1; then
    echo "test_package: FAIL: rdns-policyd is already installed here; purge it first" >&2
    exit 1
fi
fail() {
    echo "test_package: FAIL: $*" >&2
    exit 1
}

sh "$repo/packaging/build-package.sh" "$build" || fail "make package (or lintian) failed"
deb=$(ls "$build"/package/rdns-policyd_*.deb | grep -v dbgsym)

# From here on the package must not stay behind, whatever fails.
trap 'dpkg --purge rdns-policyd >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb" || fail "dpkg -i"
files=$(dpkg -L rdns-policyd)
grep -qx /etc/rdns-policyd/rdns-policyd.toml /var/lib/dpkg/info/rdns-policyd.conffiles ||
    fail "the configuration is not a conffile"
grep -qx /etc/rdns-policyd/providers.toml /var/lib/dpkg/info/rdns-policyd.conffiles ||
    fail "the providers map is not a conffile"
/usr/sbin/rdns-policyd check-config --config /etc/rdns-policyd/rdns-policyd.toml ||
    fail "the installed check-config refuses the installed configuration"
out=$(systemd-analyze verify --man=no /lib/systemd/system/rdns-policyd.service \
    /lib/systemd/system/rdns-policyd.socket 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify said: $out"
page=$(MANWIDTH=80 man -l /usr/share/man/man5/rdns-policyd.toml.5.gz 2>&1) ||
    fail "the installed man page does not render"
echo "$page" | grep -q "idle_timeout_s" || fail "rdns-policyd.toml(5) lacks the settings"

dpkg --purge rdns-policyd || fail "dpkg --purge"
trap - EXIT
if dpkg -L rdns-policyd >/dev/null 2>&1; then
    fail "dpkg still lists rdns-policyd's files after purge"
fi
[ ! -e /etc/rdns-policyd ] || fail "/etc/rdns-policyd remains after purge"
left=""
for file in $files; do
    if [ -e "$file" ] && [ ! -d "$file" ]; then
        left="$left $file"
    fi
done
[ -z "$left" ] || fail "left after purge:$left"
echo "test_package: built, lintian-clean, installed, checked, purged: ok"
