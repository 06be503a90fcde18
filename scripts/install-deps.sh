#!/usr/bin/env bash
# Installs what building and testing pgrescue needs, from Debian's packages.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

packages=(cmake g++ make libboost-filesystem-dev libboost-dev libcli11-dev libfmt-dev
          nlohmann-json3-dev googletest libgtest-dev libssl-dev libpq-dev zlib1g-dev pkg-config python3)
if [[ "${1:-}" == "--test" ]]; then
  # Real servers and tools to compare against, clang for the fuzzers, strace
  # for the crash-injection tests.
  packages+=(postgresql-15 postgresql-client-15 clang libclang-rt-14-dev strace)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  # Debian's postgresql-common would otherwise create and start a cluster.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
