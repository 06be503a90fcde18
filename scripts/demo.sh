#!/usr/bin/env bash
# README command 1: install what is missing, build, and inspect the sample
# cluster in fixtures/ (a PostgreSQL 15 data directory's PG_VERSION and
# global/pg_control).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release >/dev/null
echo "== pgrescue-inspect fixtures/sample-cluster"
./build/tools/pgrescue-inspect fixtures/sample-cluster
echo
echo "== pgrescue-plan fixtures/sample-cluster"
./build/tools/pgrescue-plan fixtures/sample-cluster
echo
echo "== pgrescue-inspect --json fixtures/sample-cluster"
./build/tools/pgrescue-inspect --json fixtures/sample-cluster
