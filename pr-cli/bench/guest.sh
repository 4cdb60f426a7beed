#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-cli/bench/guest.sh PRSDK ROUNDS - the guest side of pr-cli/bench.sh (see there).
# Node 1 (K1, the maps' paths) unfences itself and fences node 2 (K2, one node-2 nexus per
# LUN, holding a Write Exclusive, registrants only reservation). Before each method,
# untimed: node 2 clears the LUN, registers K2 and reserves; the unit attentions the CLEAR
# left on node 1's nexuses are consumed. After each method, untimed: every LUN is checked
# (K1 on each node-1 path, K2 gone, K1 holds type 5). A failed check fails the bench.
set -uo pipefail
prsdk=$1 rounds=$2
K1=0x1111 K2=0x2222
case $LAB_TRANSPORT in
  # PREEMPT AND ABORT of another nexus deadlocks LIO over tcm_loop (REFERENCE §8).
  loop) abort=0 ;;
  *) abort=1 ;;
esac
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", a - b}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", a / b}'; }
die() { echo "bench: FAILED: $*"; exit 1; }
q() { "$@" >/dev/null 2>&1; }

prepare() {
  local i p n2
  for ((i = 0; i < LAB_LUNS; i++)); do
    eval "n2=\${LAB_NODE2_PATHS_$i%% *}"
    q sg_turs "$n2"; q sg_turs "$n2"
    q sg_persist -n -o -I -S $K2 -d "$n2" || die "prepare: register K2 on $n2"
    q sg_persist -n -o -C -K $K2 -d "$n2" || die "prepare: clear on $n2"
    q sg_persist -n -o -I -S $K2 -d "$n2" || die "prepare: register K2 on $n2"
    q sg_persist -n -o -R -T 5 -K $K2 -d "$n2" || die "prepare: reserve on $n2"
    eval "set -- \$LAB_PATHS_$i"
    for p; do q sg_turs "$p"; q sg_turs "$p"; q sg_turs "$p"; done
  done
}

verify() {
  local i p k r paths
  for ((i = 0; i < LAB_LUNS; i++)); do
    eval "paths=\$LAB_PATHS_$i"
    p=${paths%% *}
    k=$(sg_persist -n -i -k -d "$p" 2>&1) || die "$1: read keys on $p: $k"
    [ "$(grep -c "^ *$K1\$" <<<"$k")" = "$(wc -w <<<"$paths")" ] ||
      die "$1: LUN $i: K1 not on every node-1 path: $k"
    grep -q "$K2" <<<"$k" && die "$1: LUN $i: K2 still registered: $k"
    r=$(sg_persist -n -i -r -d "$p" 2>&1) || die "$1: read reservation on $p: $r"
    grep -qi "key=$K1" <<<"$r" && grep -q "Write Exclusive, registrants only" <<<"$r" ||
      die "$1: LUN $i: K1 does not hold type 5: $r"
  done
}

# Each method prints "unfence SECONDS fence SECONDS PROCESSES".
m_prsdk() {
  local t0 t1 t2 pre=--preempt
  ((abort)) && pre=
  t0=$(now)
  q "$prsdk" unfence --key $K1 --all-maps || die "prsdk unfence: $("$prsdk" unfence --key $K1 --all-maps 2>&1)"
  t1=$(now)
  q "$prsdk" fence --key $K1 --victim $K2 --type wr_ex_ro $pre --all-maps || die "prsdk fence"
  t2=$(now)
  echo "$(sub "$t1" "$t0") $(sub "$t2" "$t1") 2"
}

m_mpathpersist() {
  local t0 t1 t2 i map act=--preempt
  ((abort)) && act=--preempt-abort
  t0=$(now)
  for ((i = 0; i < LAB_LUNS; i++)); do
    eval "map=\$LAB_MPATH_$i"
    q mpathpersist --out --register-ignore --param-sark=$K1 -d "$map" || die "mpathpersist register-ignore $map"
  done
  t1=$(now)
  for ((i = 0; i < LAB_LUNS; i++)); do
    eval "map=\$LAB_MPATH_$i"
    q mpathpersist --out $act --param-rk=$K1 --param-sark=$K2 --prout-type=5 -d "$map" ||
      die "mpathpersist $act $map"
  done
  t2=$(now)
  echo "$(sub "$t1" "$t0") $(sub "$t2" "$t1") $((2 * LAB_LUNS))"
}

m_fence_scsi() {
  local t0 t1 t2 i p first n=0 act=-P
  ((abort)) && act=-A
  t0=$(now)
  for ((i = 0; i < LAB_LUNS; i++)); do
    eval "set -- \$LAB_PATHS_$i"
    for p; do
      q sg_turs "$p"
      q sg_persist -n -o -I -S $K1 -d "$p" || die "sg_persist register on $p"
      n=$((n + 2))
    done
  done
  t1=$(now)
  for ((i = 0; i < LAB_LUNS; i++)); do
    eval "first=\${LAB_PATHS_$i%% *}"
    q sg_turs "$first"
    sg_persist -n -i -k -d "$first" 2>/dev/null | grep -q "$K2" || die "fence_scsi: K2 not seen on $first"
    q sg_turs "$first"
    q sg_persist -n -o $act -T 5 -K $K1 -S $K2 -d "$first" || die "sg_persist $act on $first"
    n=$((n + 4))
  done
  t2=$(now)
  echo "$(sub "$t1" "$t0") $(sub "$t2" "$t1") $n"
}

maps=$(multipathd show maps 2>/dev/null | tail -n +2 | wc -l)
echo "bench: $LAB_STACK, $LAB_TRANSPORT, $LAB_LUNS LUNs x $LAB_NPATHS paths ($maps maps), $rounds rounds, fence by $([ $abort = 1 ] && echo 'PREEMPT AND ABORT' || echo PREEMPT)"
methods=(prsdk mpathpersist fence_scsi)
declare -A U F P
for ((r = 0; r < rounds; r++)); do
  for ((j = 0; j < ${#methods[@]}; j++)); do
    m=${methods[$(((j + r) % ${#methods[@]}))]}
    prepare
    res=$(m_$m) || { echo "$res"; exit 1; }
    read -r u f p <<<"$res"
    [ -n "${p-}" ] || die "$m gave no timing: $res"
    verify "$m"
    U[$m]+="$u " F[$m]+="$f " P[$m]=$p
    printf 'round %d %-13s unfence %8.3f s  fence %8.3f s  (%d processes)\n' $((r + 1)) "$m" "$u" "$f" "$p"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "bench: medians over $rounds rounds (seconds) and ratios to prsdk (x times prsdk's time)"
pu=$(median "${U[prsdk]}") pf=$(median "${F[prsdk]}")
for m in "${methods[@]}"; do
  u=$(median "${U[$m]}") f=$(median "${F[$m]}")
  printf '%-13s unfence %8.3f (%5.2fx)  fence %8.3f (%5.2fx)  %d processes\n' "$m" "$u" \
    "$(div "$u" "$pu")" "$f" "$(div "$f" "$pf")" "${P[$m]}"
done
