#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# pr-mpathpersist/bench/profile.sh OUTDIR ITER PHASE - inside the lab guest (bench.sh
# --profile runs it): the cost of one call of PHASE (see bench.c's BENCH_PHASES) with
# Debian's libmpathpersist and with ours, counted rather than timed, so that the TCG
# guest's noise does not enter:
# - user-space instructions on the calling thread inside the bench's timed calls
#   (callgrind --toggle-collect on read_keys/timed_reg: the library's whole call, nothing of
#   set-up), divided by the calls;
# - system calls of the calling thread (strace without -f), and of every thread (-f),
#   each measured with PHASE and with "none" (set-up and clean-up only): the difference
#   divided by the calls. Other threads' counts move with timing; the caller's do not.
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
  declare -A sc scf
  for p in none "$phase"; do
    f=$out/profile-$lib-$p
    run "$lib" "$p" strace -qq -c -o "$f.strace" >"$f.out"
    run "$lib" "$p" strace -f -qq -c -o "$f.strace-f" >/dev/null
    sc[$p]=$(syscalls "$f.strace") scf[$p]=$(syscalls "$f.strace-f")
  done
  f=$out/profile-$lib-$phase
  run "$lib" "$phase" valgrind --tool=callgrind --callgrind-out-file="$f.callgrind" \
    --toggle-collect=read_keys --toggle-collect=timed_reg >/dev/null 2>"$f.valgrind"
  ir=$(instructions "$f.callgrind")
  echo "$lib: calling thread's syscalls ${sc[none]} / ${sc[$phase]}, all threads' ${scf[none]} / ${scf[$phase]} (none / $phase)"
  awk -v lib="$lib" -v c="$calls" -v ir="$ir" -v s="${sc[none]}" -v t="${sc[$phase]}" -v sf="${scf[none]}" -v tf="${scf[$phase]}" \
    'BEGIN { printf "PER_CALL %s instructions=%.0f syscalls=%.1f all_threads_syscalls=%.1f\n", lib, ir / c, (t - s) / c, (tf - sf) / c }'
  grep -h '^library:' "$out/profile-$lib-$phase.out" || true
  unset sc scf
done
for lib in debian ours; do
  echo "--- $lib: system calls of the calling thread, $phase (strace -c)"
  cat "$out/profile-$lib-$phase.strace"
done
