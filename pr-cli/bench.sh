#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-cli/bench.sh [-T loop|iscsi] [-l LUNS] [-p PATHS] [-r ROUNDS] - issue 14's lab
# benchmark: node 1 unfences itself on, then fences node 2 from, every map of the lab
# (default 16 LUNs x 4 paths) three ways, in one lab boot, ROUNDS rounds (default 3) in a
# rotating order:
#   prsdk        one `prsdk unfence --all-maps`, one `prsdk fence --all-maps`
#   mpathpersist one /sbin/mpathpersist per map and step (a shell loop)
#   fence_scsi   the one-process-per-command sequence fence_scsi runs (sg_turs before each
#                sg_persist; keys read before the preempt; registration on every path of
#                a map, as --mpath-register-method=multi does; REFERENCE §4.3)
# Output: also in target/lab-bench/prsdk-<transport>-<LUNS>x<PATHS>.txt; figures in
# pr-cli/BENCHMARKS.md. Under TCG only the ratios measured in the same run mean anything.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
transport=loop luns=16 paths=4 rounds=3
while (($#)); do
  case $1 in
    -T) transport=${2-}; shift 2 ;;
    -l) luns=${2-}; shift 2 ;;
    -p) paths=${2-}; shift 2 ;;
    -r) rounds=${2-}; shift 2 ;;
    -h|--help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pr-cli/bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $transport in loop|iscsi) ;; *) echo "pr-cli/bench.sh: unknown transport '$transport'" >&2; exit 2 ;; esac
out=$root/target/lab-bench
mkdir -p "$out"
echo "pr-cli/bench.sh: building prsdk (release) ..."
(cd "$root" && cargo build -q --release -p pr-cli --bin prsdk)
log=$out/prsdk-$transport-${luns}x$paths.txt
"$root/lab/run.sh" -T "$transport" -l "$luns" -p "$paths" -n 1 -C "$root" -t 3000 -- \
  bash "$here/bench/guest.sh" "$root/target/release/prsdk" "$rounds" 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
