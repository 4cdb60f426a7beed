#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-helper/bench.sh [-r ROUNDS] [-s SECONDS] [-c "1 4 32"] [-P] [-S STACK] - lab bench of
# pr-helper against Debian's /usr/bin/qemu-pr-helper (issue 13). Builds, release, on the
# host: the daemon and the `helper_bench` example (examples/helper_bench.rs); boots one
# lab (lab/run.sh -l 1 -p 2 -n 1) and, in it, starts both helpers on their own sockets and
# runs helper_bench against each on the same LIO path device (LUN 0's node-2 path, in no
# map) with each client count, ROUNDS times (default 3), ours and theirs alternating
# (ours first in odd rounds, theirs first in even ones), SECONDS per run (default 3);
# then our daemon alone on the LUN's multipath map (Debian's qemu-pr-helper is built
# without multipath). With -P, a last phase profiles one client's run through each
# helper: the helper's system calls (strace -c -f) and, for ours, perf samples
# (cpu-clock, call graphs).
# Prints a table: commands/s and latency (p50, p99) of each, and ours/theirs ratios,
# the median over rounds of each round's ratio. The lab runs under TCG: compare ratios.
# Output: target/helper-bench/ (bench.txt: the raw lines; table.txt; profile files).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out=$root/target/helper-bench

# ---- inside the guest: bench.sh --guest OUT ROUNDS SECONDS "CLIENTS" PROFILE ----------
if [[ ${1:-} == --guest ]]; then
  out=$2 rounds=$3 secs=$4 clients=$5 profile=$6
  ours=$root/target/release/pr-helper bench=$root/target/release/examples/helper_bench
  theirs=/usr/bin/qemu-pr-helper
  [[ -x $theirs ]] || { echo "bench.sh: $theirs is missing (qemu-system-common)" >&2; exit 1; }
  dev=${LAB_NODE2_PATHS_0%% *} map=${LAB_MPATH_0:-}
  [[ -b $dev && -b $map ]] || { echo "bench.sh: need LAB_NODE2_PATHS_0 and LAB_MPATH_0 (lab -n 1)" >&2; exit 1; }
  run=/run/pr-helper-bench
  mkdir -p "$run"
  declare -A pid=()
  # shellcheck disable=SC2317 # run by the EXIT trap
  cleanup() { for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done; }
  trap cleanup EXIT
  start() { # NAME PROGRAM SOCKET
    rm -f "$3"
    "$2" -k "$3" &
    pid[$1]=$!
    for _ in $(seq 200); do [[ -S $3 ]] && return 0; sleep 0.1; done
    echo "bench.sh: $1: no socket $3 after 20 s" >&2; exit 1
  }
  start ours "$ours" "$run/ours.sock"
  start theirs "$theirs" "$run/qemu.sock"
  sock() { if [[ $1 == ours ]]; then echo "$run/ours.sock"; else echo "$run/qemu.sock"; fi; }
  echo "bench.sh: device $dev, map $map, $rounds rounds of $secs s, clients $clients"
  echo "bench.sh: theirs $("$theirs" --version | head -n 1)"
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then order="ours theirs"; else order="theirs ours"; fi
    for n in $clients; do
      for who in $order; do
        "$bench" --socket "$(sock "$who")" --device "$dev" --clients "$n" --seconds "$secs" \
          --label "$who/dev/r$r"
      done
    done
    for n in $clients; do
      "$bench" --socket "$run/ours.sock" --device "$map" --clients "$n" --seconds "$secs" \
        --label "ours/map/r$r"
    done
  done
  if [[ $profile == 1 ]]; then
    for who in ours theirs; do
      strace -c -f -p "${pid[$who]}" -o "$out/strace-$who.txt" &
      st=$!
      sleep 1
      "$bench" --socket "$(sock "$who")" --device "$dev" --clients 1 --seconds "$secs" \
        --label "$who/strace/r0"
      kill -INT "$st"; wait "$st" || true
    done
    # Which system calls one command costs ours: a trace of a short run of the mix.
    strace -f -tt -p "${pid[ours]}" -o "$out/strace-ours-trace.txt" &
    st=$!
    sleep 1
    "$bench" --socket "$run/ours.sock" --device "$dev" --clients 1 --seconds 0.3 \
      --label "ours/trace/r0"
    kill -INT "$st"; wait "$st" || true
    # Where ours spends its CPU: system-wide samples (the daemon's threads come and go).
    perf record -a -g -F 1000 -e cpu-clock -o "$out/perf.data" -- \
      "$bench" --socket "$run/ours.sock" --device "$dev" --clients 1 --seconds "$secs" \
      --label "ours/perf/r0" || true
    perf report -i "$out/perf.data" --stdio --no-children \
      --sort comm,dso,sym 2>&1 | grep -v '^$' | head -n 150 >"$out/perf-ours.txt" || true
    perf report -i "$out/perf.data" --stdio --no-children --sort comm,dso 2>&1 |
      grep -v '^#' | grep -v '^$' | head -n 30 >"$out/perf-comm.txt" || true
  fi
  exit 0
fi

# ---- on the host ------------------------------------------------------------------------
rounds=3 secs=3 clients="1 4 32" profile=0 stack=()
while (($#)); do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -s) secs=$2; shift 2 ;;
    -c) clients=$2; shift 2 ;;
    -P) profile=1; shift ;;
    -S) stack=(-S "$2"); shift 2 ;;
    -h|--help) sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
echo "bench.sh: cargo build --release -p pr-helper --bin pr-helper --example helper_bench"
(cd "$root" && cargo build -q --release -p pr-helper --bin pr-helper --example helper_bench)
rm -f "$out"/strace-*.txt "$out"/perf*
t0=$(date +%s)
rc=0
"$root/lab/run.sh" "${stack[@]}" -l 1 -p 2 -n 1 -t 900 -C "$root" -- \
  bash "$here/bench.sh" --guest "$out" "$rounds" "$secs" "$clients" "$profile" 2>&1 |
  tee "$out/bench.txt" || rc=$?
echo "bench.sh: lab exit $rc after $(($(date +%s) - t0)) s; raw lines in $out/bench.txt"
((rc == 0)) || exit "$rc"
python3 - "$out/bench.txt" <<'PY' | tee "$out/table.txt"
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if not line.startswith("helper_bench "):
        continue
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    who, target, r = kv["label"].split("/")
    runs[(who, target, int(kv["clients"]), r)] = kv
def num(kv, k): return float(kv[k])
med = statistics.median
clients = sorted({k[2] for k in runs})
rounds = sorted({k[3] for k in runs if k[3] != "r0"})
print("through the same LIO path device; ratio = ours/theirs, median of the rounds' ratios")
print("| clients | ours cmd/s | theirs cmd/s | cmd/s ratio | p50 ours / theirs (us) | p50 ratio | p99 ratio | max ours / theirs (us) | cmd/s ratio per round | errors |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for n in clients:
    pairs = [(runs[("ours", "dev", n, r)], runs[("theirs", "dev", n, r)]) for r in rounds
             if ("ours", "dev", n, r) in runs and ("theirs", "dev", n, r) in runs]
    if not pairs: continue
    ratio = lambda k: [num(o, k) / max(num(t, k), 1e-9) for o, t in pairs]
    errs = sum(int(o["errors"]) + int(t["errors"]) for o, t in pairs)
    print(f"| {n} | {med(num(o,'cps') for o,_ in pairs):.0f} | {med(num(t,'cps') for _,t in pairs):.0f} "
          f"| **{med(ratio('cps')):.2f}x** | {med(num(o,'p50_us') for o,_ in pairs):.0f} / {med(num(t,'p50_us') for _,t in pairs):.0f} "
          f"| {med(ratio('p50_us')):.2f}x | {med(ratio('p99_us')):.2f}x "
          f"| {max(num(o,'max_us') for o,_ in pairs):.0f} / {max(num(t,'max_us') for _,t in pairs):.0f} "
          f"| {', '.join(f'{x:.2f}' for x in ratio('cps'))} | {errs} |")
print()
print("ours through the LUN's multipath map (2 paths) against ours on the path device, same round")
print("| clients | map cmd/s | map p50 (us) | map p99 (us) | map/device cmd/s | errors |")
print("| --- | --- | --- | --- | --- | --- |")
for n in clients:
    pairs = [(runs[("ours", "map", n, r)], runs[("ours", "dev", n, r)]) for r in rounds
             if ("ours", "map", n, r) in runs and ("ours", "dev", n, r) in runs]
    if not pairs: continue
    print(f"| {n} | {med(num(m,'cps') for m,_ in pairs):.0f} | {med(num(m,'p50_us') for m,_ in pairs):.0f} "
          f"| {med(num(m,'p99_us') for m,_ in pairs):.0f} | {med(num(m,'cps')/num(d,'cps') for m,d in pairs):.2f}x "
          f"| {sum(int(m['errors']) for m,_ in pairs)} |")
PY
if ((profile)); then
  for who in ours theirs; do
    f=$out/strace-$who.txt
    [[ -f $f ]] || continue
    n=$(sed -n "s/^helper_bench label=$who\/strace\/r0 clients=1 commands=\([0-9]*\).*/\1/p" "$out/bench.txt")
    echo "system calls of $who per command (strace -c -f, $n commands):"
    awk -v n="${n:-1}" '$1 ~ /^[0-9.]+$/ && NF >= 5 { c = $4; s = $NF; if (s != "total") printf "  %-20s %6.2f\n", s, c / n }' "$f" |
      sort -k2 -rn | head -n 15
  done
  echo "ours, one command traced: $out/strace-ours-trace.txt; perf: $out/perf-ours.txt, $out/perf-comm.txt"
fi
