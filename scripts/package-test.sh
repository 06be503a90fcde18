#!/usr/bin/env bash
# Builds the .deb from a release build directory, installs it with dpkg,
# runs every tool's --version and --help from where the package put it,
# checks the man pages and README are there, and removes the package.
# Usage: package-test.sh [BUILD_DIR]  (default build/). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
tools=(pgrescue-check pgrescue-inspect pgrescue-plan pgrescue-reset pgrescue-salvage)
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { echo "package-test: cpack failed:" >&2; tail -20 "$build/cpack.log" >&2; exit 1; }
deb="$build/pgrescue_${version}_amd64.deb"
[[ -f $deb ]] || { echo "package-test: $deb was not built" >&2; exit 1; }
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes; $(dpkg-deb -f "$deb" Depends)"
dpkg -i "$deb" >/dev/null
# Removed however the checks below end.
trap 'dpkg -r pgrescue >/dev/null 2>&1 || true' EXIT
status=0
for tool in "${tools[@]}"; do
  got=$("/usr/bin/$tool" --version) || true
  if [[ $got != "$tool (pgrescue) $version" ]]; then echo "FAIL: /usr/bin/$tool --version printed '$got'"; status=1; fi
  help=$("/usr/bin/$tool" --help) || { echo "FAIL: /usr/bin/$tool --help exited $?"; status=1; }
  grep -q "^Usage: $tool" <<<"$help" || { echo "FAIL: /usr/bin/$tool --help has no usage line"; status=1; }
  [[ -f /usr/share/man/man1/$tool.1 ]] || { echo "FAIL: no man page /usr/share/man/man1/$tool.1"; status=1; }
done
[[ -f /usr/share/doc/pgrescue/README.md ]] || { echo "FAIL: no /usr/share/doc/pgrescue/README.md"; status=1; }
dpkg -r pgrescue >/dev/null
for tool in "${tools[@]}"; do
  [[ ! -e /usr/bin/$tool ]] || { echo "FAIL: /usr/bin/$tool left after dpkg -r"; status=1; }
done
[[ $status == 0 ]] && echo "installed with dpkg -i, ${#tools[@]} tools' --version and --help run from /usr/bin, removed"
exit $status
