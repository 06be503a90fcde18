#!/usr/bin/env bash
# Runs the libFuzzer targets of build-fuzz/ (scripts/build.sh fuzz), each on
# a temporary copy of its corpus: fuzz/corpus/ only changes by hand, never
# by a run's thousands of generated inputs.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Usage: bash scripts/fuzz.sh [--seconds N | --minutes N | --runs N] [--jobs N] [target...]

Runs every fuzzer in build-fuzz/fuzz, or the named ones (control_file or
control_file_fuzzer), each on a temporary copy of fuzz/corpus/<target>/.
  --seconds N   each target for N seconds (default $PGRESCUE_FUZZ_SECONDS, else 30)
  --minutes N   each target for N minutes
  --runs N      each target for N inputs, however long that takes
  --jobs N      targets at a time (default: the number of cores)
Prints one line per target as it ends: inputs run, seconds, inputs a second,
and "no crash" or the input that crashed (kept in build-fuzz/crashes/, the
log in build-fuzz/<target>.log). Exits 1 if any target crashed, timed out
or ran out of memory.
EOF
}

seconds=${PGRESCUE_FUZZ_SECONDS:-30}
runs=
jobs=$(nproc)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; runs=; shift 2 ;;
    --minutes) seconds=$(( $2 * 60 )); runs=; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("build-fuzz/fuzz/${1%_fuzzer}_fuzzer"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(build-fuzz/fuzz/*_fuzzer)
for t in "${targets[@]}"; do
  [ -x "$t" ] || { echo "fuzz.sh: no fuzzer $t (build it: bash scripts/build.sh fuzz)" >&2; exit 2; }
done
mkdir -p build-fuzz/crashes
if [ -n "$runs" ]; then limit=(-runs="$runs") each="$runs runs"; else limit=(-max_total_time="$seconds") each="${seconds}s"; fi

# One target: prints its line, and returns 1 when it failed.
fuzz_one() {
  local fuzzer=$1 name corpus log start end status=0 ran elapsed rate artifact
  shift
  name=$(basename "$fuzzer")
  log=build-fuzz/$name.log
  corpus=$(mktemp -d)
  cp fuzz/corpus/"${name%_fuzzer}"/* "$corpus"/ 2>/dev/null || true
  start=$(date +%s.%N)
  "$fuzzer" "$@" -print_final_stats=0 -artifact_prefix="build-fuzz/crashes/$name-" "$corpus" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  rm -rf "$corpus"
  # "Done N runs" when it finishes; the last "#N" status line when it stops early.
  ran=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' ||
        grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
  ran=${ran:-0}
  elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
  rate=$(awk -v r="$ran" -v e="$elapsed" 'BEGIN { printf "%d", (e > 0 ? r / e : 0) }')
  if [ $status -eq 0 ]; then
    echo "$name: $ran runs in ${elapsed}s (${rate}/s), no crash"
  else
    artifact=$(grep -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')
    # One write, so that parallel targets' reports do not interleave.
    printf '%s\n' "FAIL $name: $ran runs in ${elapsed}s (${rate}/s), exit $status, input ${artifact:-(none written)}, log $log" \
      "$(tail -40 "$log" | sed 's/^/  /')"
    return 1
  fi
}
export -f fuzz_one

echo "fuzz.sh: ${#targets[@]} targets, $each each, $jobs at a time"
status=0
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'fuzz_one "$@"' _ {} "${limit[@]}" || status=1
[ $status -eq 0 ] && echo "fuzz.sh: no target crashed" || echo "fuzz.sh: a target crashed (FAIL above)"
exit $status
