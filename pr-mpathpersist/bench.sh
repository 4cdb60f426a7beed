#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-mpathpersist/bench.sh [ITER [ROUNDS]] - lab benchmark of libmpathpersist.so.0 against
# Debian's libmpathpersist (multipath-tools 0.9.4): REGISTER AND IGNORE EXISTING KEY and
# READ KEYS on 16 multipath maps (4 paths each), calls per second, from one C program
# (bench/bench.c, built once, linked with -lmpathpersist) run with each library in the
# same lab boot (lab/run.sh -T loop -l 16 -p 4 -n 0). ITER calls per map and phase
# (default 3), ROUNDS alternations (default 1). Figures: pr-mpathpersist/BENCHMARKS.md.
# `bench.sh --profile PHASE [ITER]` counts instead of timing (bench/profile.sh): user-space
# instructions and system calls per call of one phase (vecs-read-keys, ...), 4 maps.
# Output directory: $BENCH_OUT (default <repo>/target/compat-bench; must be inside the
# directory the lab shares, which is the repository unless LAB_SHARE is set).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
profile=
if [[ ${1:-} == --profile ]]; then profile=${2:?--profile needs a phase, e.g. vecs-read-keys}; shift 2; fi
iter=${1:-3} rounds=${2:-1}
out=${BENCH_OUT:-$root/target/compat-bench}
share=${LAB_SHARE:-$root}
mkdir -p "$out"
bash "$here/build-compat.sh" "$out/lib" >/dev/null
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I "$here/include" -o "$out/bench" \
  "$here/bench/bench.c" -L "$out/lib" -lmpathpersist -ldl
# only LIBMPATHPERSIST_2.1.0 names: the binary must load with Debian's 0.9.4 library too
if objdump -T "$out/bench" | grep -q 'LIBMPATHPERSIST_2\.2\.0'; then
  echo "bench.sh: bench imports LIBMPATHPERSIST_2.2.0 names, which Debian 0.9.4 lacks" >&2; exit 1
fi
if [[ -n $profile ]]; then
  "$root/lab/run.sh" -T loop -l 4 -p 4 -n 0 -C "$share" -t 3000 -- \
    bash "$here/bench/profile.sh" "$out" "$iter" "$profile"
else
  "$root/lab/run.sh" -T loop -l 16 -p 4 -n 0 -C "$share" -t 1500 -- \
    bash "$here/bench/guest.sh" "$out" "$iter" "$rounds"
fi
