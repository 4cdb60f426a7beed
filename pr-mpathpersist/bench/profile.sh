#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# pr-mpathpersist/bench/profile.sh OUTDIR ITER PHASE - inside the lab guest (bench.sh
# --profile runs it): the cost of one call of PHASE (see bench.c's BENCH_PHASES) with
# Debian's libmpathpersist and with ours, counted rather than timed, so that the TCG
# guest's noise does not enter: user-space instructions (callgrind, every thread) and
# system calls (strace -f -c). Each is measured twice per library, with PHASE and with
# "none" (set-up and clean-up only); the difference divided by the calls is per call.
set -euo pipefail
out=$1 iter=$2 phase=$3
maps=()
for ((i = 0; i < LAB_LUNS; i++)); do v=LAB_MPATH_$i; maps+=("${!v}"); done
calls=$((iter * ${#maps[@]}))
echo "profile: phase $phase, ${#maps[@]} maps x $LAB_NPATHS paths, $calls calls"
run() { # LIB PHASES CMD... : the bench under CMD with LIB's library
  local lib=$1 phases=$2; shift 2
  if [[ $lib == ours ]]; then
    BENCH_PHASES=$phases LD_LIBRARY_PATH="$out/lib" "$@" "$out/bench" "$iter" 0x7e57 "${maps[@]}"
  else
    env -u LD_LIBRARY_PATH BENCH_PHASES="$phases" "$@" "$out/bench" "$iter" 0x7e57 "${maps[@]}"
  fi
}
instructions() { # FILE: total Ir of a callgrind output
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
}
syscalls() { # FILE: total calls of an strace -c summary
  awk '$NF == "total" { print $4; exit }' "$1"
}
for lib in debian ours; do
  declare -A ir sc
  for p in none "$phase"; do
    f=$out/profile-$lib-$p
    run "$lib" "$p" valgrind --tool=callgrind --callgrind-out-file="$f.callgrind" \
      >"$f.out" 2>"$f.valgrind"
    run "$lib" "$p" strace -f -qq -c -o "$f.strace" >/dev/null
    ir[$p]=$(instructions "$f.callgrind") sc[$p]=$(syscalls "$f.strace")
  done
  echo "$lib: instructions ${ir[none]} / ${ir[$phase]}, syscalls ${sc[none]} / ${sc[$phase]} (none / $phase)"
  awk -v lib="$lib" -v c="$calls" -v a="${ir[none]}" -v b="${ir[$phase]}" -v s="${sc[none]}" -v t="${sc[$phase]}" \
    'BEGIN { printf "PER_CALL %s instructions=%.0f syscalls=%.1f\n", lib, (b - a) / c, (t - s) / c }'
  grep -h '^library:' "$out/profile-$lib-$phase.out" || true
  unset ir sc
done
for lib in debian ours; do
  echo "--- $lib: system calls of $phase (strace -c)"
  cat "$out/profile-$lib-$phase.strace"
done
