#!/usr/bin/env bash
# Configures and builds one flavour of pgrescue into build/ (or build-asan/,
# build-fuzz/). Usage: build.sh [release|asan|fuzz] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DPGRESCUE_SANITIZE=ON) ;;
  # Optimised, as fuzzing is: -O0 code ran the pg_control target ten times slower.
  fuzz) dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DPGRESCUE_FUZZ=ON
                              -DPGRESCUE_TESTS=OFF) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan, fuzz)" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${args[@]}" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
