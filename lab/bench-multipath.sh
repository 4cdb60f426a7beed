#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/bench-multipath.sh - pr-multipath's lab benchmark in one command: builds the
# `lab_fence_bench` example (release) on the host, boots the lab with many LUNs x 4 paths
# and one node-2 nexus per LUN, and runs it inside: unfence then fence with pr-multipath,
# with a loop of Debian's mpathpersist, and as raw concurrent SG_IO (pr-multipath/BENCHMARKS.md).
#
# Usage: lab/bench-multipath.sh [-T loop|iscsi] [-l LUNS] [-p PATHS] [-t SECS] [-- BENCH-ARGS]
#   -T TRANSPORT   lab transport (default loop: the fence is PREEMPT; iscsi: PREEMPT AND ABORT)
#   -l LUNS        LUNs (default 16)
#   -p PATHS       node-1 paths per LUN (default 4)
#   -t SECS        time limit of the lab run (default 1500)
# Environment passed to the guest: BENCH_SKIP_MPATHPERSIST, BENCH_ROUNDS (default 3).
# Output: also in target/lab-bench/fence-<transport>-<LUNS>x<PATHS>.txt.
set -uo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LAB_DIR/.." && pwd)
transport=loop luns=16 paths=4 tmo=1500
while (($#)); do
  case $1 in
    -T) transport=${2-}; shift 2 ;;
    -l) luns=${2-}; shift 2 ;;
    -p) paths=${2-}; shift 2 ;;
    -t) tmo=${2-}; shift 2 ;;
    -h|--help) sed -n '/^# Usage:/,/^# Output:/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) echo "lab/bench-multipath.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $transport in loop|iscsi) ;; *) echo "lab/bench-multipath.sh: unknown transport '$transport'" >&2; exit 2 ;; esac

out=$ROOT/target/lab-bench
mkdir -p "$out" || exit 1
echo "lab/bench-multipath.sh: building the lab_fence_bench example (release) on the host ..."
exe=$(cd "$ROOT" && cargo build --release -p pr-multipath --example lab_fence_bench --message-format=json |
  sed -n 's/.*"executable":"\([^"]*lab_fence_bench\)".*/\1/p' | tail -n 1)
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
  echo "lab/bench-multipath.sh: FAILED: cargo build --release -p pr-multipath --example lab_fence_bench" >&2
  exit 1
fi
case $exe in "$ROOT"/*|/work/*) ;; *) cp "$exe" "$out/lab_fence_bench" && exe=$out/lab_fence_bench ;; esac

envs=()
[ -n "${BENCH_SKIP_MPATHPERSIST-}" ] && envs+=(-e "BENCH_SKIP_MPATHPERSIST=$BENCH_SKIP_MPATHPERSIST")
[ -n "${BENCH_ROUNDS-}" ] && envs+=(-e "BENCH_ROUNDS=$BENCH_ROUNDS")
log=$out/fence-$transport-${luns}x$paths.txt
topo=(-T "$transport" -l "$luns" -p "$paths" -n 1)
echo "lab/bench-multipath.sh: lab/run.sh ${topo[*]} -- $exe $*"
t0=$(date +%s)
"$LAB_DIR/run.sh" "${topo[@]}" -t "$tmo" -C "$ROOT" ${envs[@]+"${envs[@]}"} -- \
  bash -c 'echo "lab-bench: guest ready after $(cat /run/lab/ready) s; multipathd maps: $(multipathd show maps | tail -n +2 | wc -l)"; exec "$0" "$@"' "$exe" "$@" 2>&1 |
  tee "$log"
rc=${PIPESTATUS[0]}
echo "lab/bench-multipath.sh: exit $rc after $(( $(date +%s) - t0 ))s; output in $log"
exit "$rc"
