#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/bench.sh - pr-sgio's lab benchmark in one command: builds the `lab_bench` example
# (release) on the host, boots the lab and runs it inside, printing its tables.
#
# Usage: lab/bench.sh [-T loop|iscsi] [-t SECS] [-- BENCH-ARGS]
#   -T TRANSPORT   lab transport (default loop); the topology is -l 2 -p 3 (loop) or
#                  -l 2 -p 2 (iscsi), no node-2 paths
#   -t SECS        time limit of the lab run (default 900)
# Environment passed to the guest: BENCH_ITERS (latency samples per method, 3000),
# BENCH_CMDS (throughput batch, 1000), BENCH_REPEAT (throughput runs, 5).
# Output: also in target/lab-bench/bench-<transport>.txt.
set -uo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LAB_DIR/.." && pwd)
transport=loop tmo=900
while (($#)); do
  case $1 in
    -T) transport=${2-}; shift 2 ;;
    -t) tmo=${2-}; shift 2 ;;
    -h|--help) sed -n '/^# Usage:/,/^# Output:/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) echo "lab/bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $transport in
  loop) topo=(-T loop -l 2 -p 3) ;;
  iscsi) topo=(-T iscsi -l 2 -p 2) ;;
  *) echo "lab/bench.sh: unknown transport '$transport' (loop, iscsi)" >&2; exit 2 ;;
esac

out=$ROOT/target/lab-bench
mkdir -p "$out" || exit 1
echo "lab/bench.sh: building the lab_bench example (release) on the host ..."
exe=$(cd "$ROOT" && cargo build --release -p pr-sgio --example lab_bench --message-format=json |
  sed -n 's/.*"executable":"\([^"]*lab_bench\)".*/\1/p' | tail -n 1)
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
  echo "lab/bench.sh: FAILED: cargo build --release -p pr-sgio --example lab_bench" >&2
  exit 1
fi
# the guest sees only the repository: copy a binary built elsewhere (CARGO_TARGET_DIR)
case $exe in "$ROOT"/*) ;; *) cp "$exe" "$out/lab_bench" && exe=$out/lab_bench ;; esac

envs=()
for v in BENCH_ITERS BENCH_CMDS BENCH_REPEAT; do
  [ -n "${!v-}" ] && envs+=(-e "$v=${!v}")
done
echo "lab/bench.sh: lab/run.sh ${topo[*]} -- $exe $*"
t0=$(date +%s)
"$LAB_DIR/run.sh" "${topo[@]}" -t "$tmo" -C "$ROOT" ${envs[@]+"${envs[@]}"} -- "$exe" "$@" 2>&1 |
  tee "$out/bench-$transport.txt"
rc=${PIPESTATUS[0]}
echo "lab/bench.sh: exit $rc after $(( $(date +%s) - t0 ))s; output in $out/bench-$transport.txt"
exit "$rc"
