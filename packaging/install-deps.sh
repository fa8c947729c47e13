#!/bin/sh
# Install the Debian 12 packages one set-up step needs: `build` (to compile
# and run the daemon) or `test` (build + everything the three test layers
# start). Already-installed packages are not touched. As root it runs apt-get;
# otherwise it prints the exact command to run and fails.
set -eu

build="build-essential cmake pkg-config libboost-dev libunbound-dev libspdlog-dev
libfmt-dev libsystemd-dev libtomlplusplus-dev libre2-dev libpsl-dev publicsuffix"
# ldnsutils: ldns-testns, the scripted DNS server of the integration and e2e
# layers, and ldns-keygen/ldns-signzone for the DNSSEC test zones; nsd: the
# authoritative server that serves those zones; postfix + swaks: the
# end-to-end layer; python3: the e2e driver and the layering check;
# clang-format: the format check; git: the list of tracked sources;
# systemd: systemd-journald and journalctl for the journal test,
# systemd-socket-activate and systemd-analyze for the systemd tests;
# groff-base: the man pages' render check; clang, libclang-rt-14-dev (its
# sanitizer and libFuzzer runtimes) and llvm (llvm-symbolizer, for reports
# that name source lines): the sanitizer trees and the fuzz targets;
# prometheus: promtool and the real server the metrics test scrapes with.
test="$build catch2 ldnsutils postfix swaks python3 iproute2 nsd clang-format git systemd
groff-base clang libclang-rt-14-dev llvm prometheus"

# package: what dpkg-buildpackage, debhelper and lintian need (make package,
# and the install / purge test of make test, which renders the installed man
# page with man-db).
package="$build debhelper dpkg-dev lintian git man-db"

case "${1:-}" in
  build) wanted=$build ;;
  test) wanted="$test $package" ;;
  package) wanted=$package ;;
  *) echo "usage: $0 build|test|package" >&2; exit 2 ;;
esac

missing=""
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $pkg" ;;
  esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "rdns-policyd: missing Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi

echo "rdns-policyd: installing$missing" >&2
# Postfix asks a debconf question at install time; answer it so the install
# never blocks and leaves the system's own Postfix unconfigured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
# The servers installed here (postfix, nsd, prometheus) are started by the
# tests as private instances on loopback; none may start as a system
# service on all interfaces at install time. policy-rc.d(8) says so to
# invoke-rc.d, for the install only, where the machine has no policy yet.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -q --no-install-recommends $missing
