#!/usr/bin/env bash
# Sweeps beyond one machine: the documented recipes (tools/README.md) for GNU
# parallel and for a Slurm array job give, after `samsa merge`, the summary a
# local sweep of the whole range gives.
# Usage: shards_test.sh parallel|slurm <path to samsa>
set -uo pipefail
mode=$1
samsa=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
cleanup() {
  [[ "$mode" == slurm ]] && "$root/tools/slurm/local-cluster" stop "$tmp/slurm" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
scenario=selftest/pingpong-dup-bug
seeds=1..12
shards=3

"$samsa" sweep "$scenario" --seeds "$seeds" --jobs 2 --out "$tmp/local" >/dev/null
[[ $? -eq 1 ]] || { echo "FAIL: the local sweep should find the duplicates (exit 1)"; exit 1; }

case "$mode" in
  parallel)
    command -v parallel >/dev/null || { echo "FAIL: GNU parallel missing (tools/setup --peers)"; exit 1; }
    # The recipe: one shard per job; `:::` lists the shard numbers.
    parallel --will-cite -j 2 "$samsa" sweep "$scenario" --seeds "$seeds" --shard {}/$shards \
      --out "$tmp/shards/shard-{}" ::: $(seq $shards) >/dev/null
    [[ $? -eq $shards ]] || { echo "FAIL: every shard should exit 1 (parallel counts failed jobs)"; exit 1; }
    ;;
  slurm)
    env_line=$("$root/tools/slurm/local-cluster" start "$tmp/slurm" 17817) \
      || { echo "FAIL: could not start a local Slurm"; cat "$tmp"/slurm/*.out 2>/dev/null; exit 1; }
    export SLURM_CONF=${env_line#export SLURM_CONF=}
    sbatch --wait --array=1-$shards -o "$tmp/task-%a.log" "$root/tools/slurm/sweep.sbatch" \
      "$samsa" "$tmp/shards" "$scenario" --seeds "$seeds" >/dev/null \
      || { echo "FAIL: the array job failed"; cat "$tmp"/task-*.log; exit 1; }
    ;;
  *) echo "usage: $0 parallel|slurm SAMSA"; exit 2 ;;
esac

"$samsa" merge "$tmp"/shards/shard-* --json >"$tmp/merged.json"
[[ $? -eq 1 ]] || { echo "FAIL: merge should exit 1 (safety violations)"; cat "$tmp/merged.json"; exit 1; }
python3 - "$tmp/local/summary.json" "$tmp/merged.json" <<'PY' || exit 1
import json, sys
local, merged = (json.load(open(p)) for p in sys.argv[1:])
for k in ("runs", "failed_seeds", "verdicts", "violation_kinds", "mismatched"):
    if local[k] != merged[k]:
        print(f"FAIL: merged {k} {merged[k]} != local {local[k]}"); sys.exit(1)
print(f"ok: {len(merged['failed_seeds'])} failing seeds of {merged['runs']}, merged from shards = local sweep")
PY
n=$(ls "$tmp"/shards/shard-*/failures | grep -c 'seed.*\.json')
[[ $n -eq 12 ]] || { echo "FAIL: $n failure files in the shards, wanted 12"; exit 1; }
echo "ok: $mode recipe"
