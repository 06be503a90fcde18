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
bash scripts/fuzz.sh --seconds "$fuzz_seconds" || status=1
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
