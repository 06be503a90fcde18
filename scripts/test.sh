#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole suite:
# unit and tool tests (also under ASan+UBSan), real PostgreSQL 10-18 servers
# plus Debian's 15, and short fuzzing runs. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
cache=${PGRESCUE_CACHE:-/var/cache/pgrescue}
test_user=${PGRESCUE_TEST_USER:-pgrescue-test}
fuzz_seconds=${PGRESCUE_FUZZ_SECONDS:-30}

bash scripts/install-deps.sh --test
echo "== fetching PostgreSQL 10-18 into $cache"
bash scripts/fetch-postgres.sh "$cache"
# PostgreSQL refuses to run as root.
id "$test_user" >/dev/null 2>&1 ||
  useradd --system --no-create-home --shell /usr/sbin/nologin "$test_user"

echo "== build: release (warnings are errors)"
bash scripts/build.sh release -DPGRESCUE_POSTGRES_DIR="$cache/pg" -DPGRESCUE_TEST_USER="$test_user"
echo "== build: ASan + UBSan"
bash scripts/build.sh asan
echo "== build: fuzzers"
bash scripts/build.sh fuzz

status=0
echo "== tests: ASan + UBSan, unit and tools"
(cd build-asan && ctest -L unit -j "$(nproc)" --output-on-failure) || status=1
echo "== tests: hostile data directories, ASan + UBSan"
(cd build-asan && ctest -L hostile --output-on-failure) || status=1
echo "== fuzzing, ${fuzz_seconds}s per target, $(nproc) at a time"
fuzz_one() {
  local fuzzer=$1 seconds=$2 name corpus
  name=$(basename "$fuzzer")
  corpus=$(mktemp -d)
  cp fuzz/corpus/"${name%_fuzzer}"/* "$corpus"/ 2>/dev/null || true
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=0 "$corpus" >"build-fuzz/$name.log" 2>&1; then
    { echo "FAIL $name:"; tail -40 "build-fuzz/$name.log"; } >"build-fuzz/$name.result"
  else
    runs=$(grep -o 'Done [0-9]* runs' "build-fuzz/$name.log" | grep -o '[0-9]*' || echo 0)
    echo "$name: $runs runs in ${seconds}s ($(( runs / seconds ))/s), no crash" >"build-fuzz/$name.result"
  fi
  rm -rf "$corpus"
}
export -f fuzz_one
rm -f build-fuzz/*.result
printf '%s\n' build-fuzz/fuzz/*_fuzzer | xargs -P "$(nproc)" -I{} bash -c 'fuzz_one "$1" "$2"' _ {} "$fuzz_seconds"
for result in build-fuzz/*.result; do
  cat "$result"
  if grep -q '^FAIL' "$result"; then status=1; fi
done
echo "== benchmarks (ratios, not pass/fail)"
./build/bench/plan_bench build/tools/pgrescue-plan fixtures || status=1
python3 bench/wal_bench.py --inspect build/tools/pgrescue-inspect --user "$test_user" || status=1
python3 bench/check_bench.py --check build/tools/pgrescue-check --user "$test_user" || status=1
python3 bench/salvage_bench.py --salvage build/tools/pgrescue-salvage --user "$test_user" || status=1
echo "== package: build the .deb, install it, run the tools from /usr/bin, remove it"
bash scripts/package-test.sh build || status=1
echo "== tests: release, unit, tools and real servers (last, so its summary closes the run)"
(cd build && ctest -j "$(nproc)" -LE hostile --output-on-failure) || status=1
echo "== whole suite took $(( $(date +%s) - start ))s"
exit $status
