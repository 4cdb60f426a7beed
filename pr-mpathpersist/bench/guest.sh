#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# pr-mpathpersist/bench/guest.sh OUTDIR ITER ROUNDS - inside the lab guest (bench.sh runs it):
# the bench program on every map, alternately with Debian's libmpathpersist and ours.
set -euo pipefail
out=$1 iter=$2 rounds=$3
maps=()
for ((i = 0; i < LAB_LUNS; i++)); do v=LAB_MPATH_$i; maps+=("${!v}"); done
echo "bench: ${#maps[@]} maps, $LAB_NPATHS paths each, $iter calls per map per phase, $rounds round(s)"
for ((r = 1; r <= rounds; r++)); do
  echo "--- round $r: debian"
  env -u LD_LIBRARY_PATH "$out/bench" "$iter" 0x7e57 "${maps[@]}" | sed 's/^/debian /'
  echo "--- round $r: ours"
  LD_LIBRARY_PATH="$out/lib" "$out/bench" "$iter" 0x7e57 "${maps[@]}" | sed 's/^/ours   /'
done
