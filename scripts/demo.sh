#!/usr/bin/env bash
# README command 1: install what is missing, build, and inspect the sample
# cluster in fixtures/ (a PostgreSQL 15 data directory: PG_VERSION,
# global/pg_control, a real WAL segment, SLRU file names): pg_control, its WAL,
# the plan, and what --from-wal would change.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release >/dev/null
echo "== pgrescue-inspect fixtures/sample-cluster"
./build/tools/pgrescue-inspect fixtures/sample-cluster
echo
echo "== pgrescue-inspect --wal fixtures/sample-cluster"
./build/tools/pgrescue-inspect --wal fixtures/sample-cluster
echo
echo "== pgrescue-plan fixtures/sample-cluster"
# Exit 1: the sample's pg_control is older than its WAL, a hazard the plan names.
./build/tools/pgrescue-plan fixtures/sample-cluster || echo "(pgrescue-plan exit $?: hazards need a decision)"
echo
echo "== pgrescue-reset -n --from-wal fixtures/sample-cluster (dry run: writes nothing)"
./build/tools/pgrescue-reset -n --from-wal fixtures/sample-cluster
echo
echo "== pgrescue-inspect --json fixtures/sample-cluster"
./build/tools/pgrescue-inspect --json fixtures/sample-cluster
