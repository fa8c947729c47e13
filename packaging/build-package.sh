#!/bin/sh
# make package: builds the Debian package from the tracked sources, with
# packaging/debian as debian/ and the systemd units beside it, in
# BUILD/package/, then runs lintian on it. dpkg-buildpackage wants debian/
# at the top of the source tree; the staged copy keeps the repository's own
# top level as it is.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
version=$(sed -n '1s/^rdns-policyd (\([^)]*\)).*/\1/p' "$top/packaging/debian/changelog")
stage=$build/package
src=$stage/rdns-policyd-$version
rm -rf "$stage"
mkdir -p "$src"
# The tracked files only: no build directories, nothing left over.
(cd "$top" && git ls-files -z | xargs -0 cp --parents -t "$src")
cp -r "$top/packaging/debian" "$src/debian"
cp "$top/packaging/rdns-policyd.service" "$top/packaging/rdns-policyd.socket" "$src/debian/"
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b)
deb=$(ls "$stage"/rdns-policyd_"$version"_*.deb)
echo "package: $deb"
# No error and no warning (lintian exits non-zero on errors; --fail-on
# makes warnings count too).
lintian --fail-on error,warning "$stage"/rdns-policyd_"$version"_*.changes
