#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/test.sh - run the lab tests in one command.
#   1. builds the workspace's test binaries on the host
#      (cargo test --workspace --no-run --message-format=json; the guest compiles slowly)
#      and lists each one's #[ignore] tests (the tests that need real devices);
#   2. boots the lab once per topology and runs, inside: lab/selftest.sh, then every
#      binary that has ignored tests, with --ignored --test-threads=1;
#      then the Python lab tests (pr-python: `pytest -m lab`, from the venv
#      pr-python/test.sh installs into target/py-venv on the host);
#   3. prints a summary with the time each lab run took; exits non-zero on any failure.
#
# Usage: lab/test.sh [options] [-- TEST-ARGS...]
#   --topology NAME     run only this topology (repeatable); default: all of
#                         loop : -T loop  -l 2 -p 3 --node2-paths 1
#                         iscsi: -T iscsi -l 2 -p 2 --node2-paths 1
#   --selftest-only     do not build or run the Rust tests
#   -t, --timeout SECS  limit of each lab run (default 900)
#   TEST-ARGS           extra arguments for every test binary (e.g. a name filter)
# Tests whose name contains "iscsi_only" (e.g. PREEMPT AND ABORT, which deadlocks LIO
# over tcm_loop) are skipped on the loop topology. Logs: target/lab-test/.
set -uo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LAB_DIR/.." && pwd)
declare -A TOPO_OPTS=(
  [loop]="-T loop -l 2 -p 3 --node2-paths 1"
  [iscsi]="-T iscsi -l 2 -p 2 --node2-paths 1"
)
declare -A TOPO_ARGS=([loop]="--skip iscsi_only" [iscsi]="")
ALL_TOPOS=(loop iscsi)

topos=() selftest_only=0 tmo=900 test_args=()
while (($#)); do
  case $1 in
    --topology) [ -n "${TOPO_OPTS[${2-}]+x}" ] || { echo "lab/test.sh: unknown topology '${2-}' (loop, iscsi)" >&2; exit 2; }
                topos+=("$2"); shift 2 ;;
    --selftest-only) selftest_only=1; shift ;;
    -t|--timeout) tmo=${2-}; shift 2 ;;
    -h|--help) sed -n '/^# Usage:/,/^# over tcm_loop/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; test_args=("$@"); break ;;
    *) echo "lab/test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
((${#topos[@]})) || topos=("${ALL_TOPOS[@]}")

out=$ROOT/target/lab-test
rm -rf "$out" && mkdir -p "$out/bin" || { echo "lab/test.sh: cannot create $out" >&2; exit 1; }
list=$out/tests.list
: >"$list"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

# --- 1. build on the host --------------------------------------------------------
total_ignored=0
if ((!selftest_only)); then
  echo "lab/test.sh: building test binaries on the host ..."
  t0=$(now)
  if ! (cd "$ROOT" && cargo test --workspace --no-run --message-format=json) >"$out/build.json"; then
    echo "lab/test.sh: FAILED: cargo test --no-run (see the errors above)" >&2
    exit 1
  fi
  echo "lab/test.sh: build took $(secs "$t0" "$(now)")s"
  # compiler-artifact lines of test-profile targets that have an executable
  grep '"reason":"compiler-artifact"' "$out/build.json" |
    grep '"profile":{[^}]*"test":true' |
    sed -n 's/.*"manifest_path":"\([^"]*\)".*"executable":"\([^"]*\)".*/\2\t\1/p' |
    sort -u >"$out/executables"
  while IFS=$'\t' read -r exe manifest; do
    # the guest sees only the shared repository: copy binaries that live elsewhere
    case $exe in "$ROOT"/*) ;; *) cp "$exe" "$out/bin/" && exe=$out/bin/$(basename "$exe") ;; esac
    if ! names=$("$exe" --list --ignored --format terse 2>/dev/null); then
      echo "lab/test.sh: note: $(basename "$exe") does not support --list; skipped" >&2
      continue
    fi
    n=$(grep -c ': test$' <<<"$names")
    total_ignored=$((total_ignored + n))
    printf '%s\t%s\t%s\n' "$exe" "$(dirname "$manifest")" "$n" >>"$list"
  done <"$out/executables"
  echo "lab/test.sh: $(wc -l <"$list") test binaries, $total_ignored ignored (lab) test(s)"
  ((total_ignored)) || echo "lab/test.sh: no lab tests yet: running lab/selftest.sh only"
fi

# --- pr-mpathpersist block: the drop-in libmpathpersist.so.0 for pr-mpathpersist's lab tests ------
# (pr-mpathpersist/tests/lab_compat.rs looks for target/lab-test/compat-lib and fails when it
# is missing.) Built here, on the host, with its symbol versions and export check, plus
# the C test programs (ASAN and plain builds).
if ((!selftest_only)); then
  echo "lab/test.sh: building libmpathpersist.so.0 and its C tests (pr-mpathpersist) ..."
  if ! bash "$ROOT/pr-mpathpersist/build-compat.sh" "$out/compat-lib" >"$out/compat-build.log" 2>&1 ||
     ! BUILD_ONLY=1 bash "$ROOT/pr-mpathpersist/tests/c/run.sh" "$out/compat-lib" >>"$out/compat-build.log" 2>&1; then
    cat "$out/compat-build.log" >&2
    echo "lab/test.sh: FAILED: pr-mpathpersist/build-compat.sh or tests/c/run.sh (log above)" >&2
    exit 1
  fi
fi
# --- end of pr-mpathpersist block ---------------------------------------------------------

# --- pr-python block: the Python package for `pytest -m lab` in the guest ----------
# Installed on the host into target/py-venv (the guest sees the repository, not /tmp), by
# pr-python/test.sh; guest/run-tests.sh then runs the lab-marked tests and fails
# (does not skip) when they cannot run.
if ((!selftest_only)); then
  echo "lab/test.sh: installing the Python package into target/py-venv (pr-python) ..."
  if ! PR_PY_INSTALL_ONLY=1 bash "$ROOT/pr-python/test.sh" >"$out/python-build.log" 2>&1; then
    tail -n 40 "$out/python-build.log" >&2
    echo "lab/test.sh: FAILED: pr-python/test.sh (log above, full: $out/python-build.log)" >&2
    exit 1
  fi
fi
# --- end of pr-python block ------------------------------------------------------

# --- 2. one lab run per topology ----------------------------------------------------
declare -A RUN_RC RUN_SECS
for topo in "${topos[@]}"; do
  results=$out/results-$topo.txt
  : >"$results"
  # shellcheck disable=SC2206
  opts=(${TOPO_OPTS[$topo]}) targs=(${TOPO_ARGS[$topo]})
  echo
  echo "lab/test.sh: ===== topology $topo: lab/run.sh ${opts[*]} (limit ${tmo}s)"
  t0=$(now)
  "$LAB_DIR/run.sh" "${opts[@]}" -t "$tmo" -C "$ROOT" -- \
    "$LAB_DIR/guest/run-tests.sh" "$list" "$results" ${targs[@]+"${targs[@]}"} \
    ${test_args[@]+"${test_args[@]}"} 2>&1 | tee "$out/log-$topo.txt"
  RUN_RC[$topo]=${PIPESTATUS[0]}
  RUN_SECS[$topo]=$(secs "$t0" "$(now)")
  echo "lab/test.sh: topology $topo took ${RUN_SECS[$topo]}s (exit ${RUN_RC[$topo]})"
done

# --- 3. summary -----------------------------------------------------------------------
echo
echo "================ lab test summary ================"
failed=0
for topo in "${topos[@]}"; do
  rc=${RUN_RC[$topo]}
  case $rc in
    0) what="ok" ;;
    124) what="TIMEOUT (limit ${tmo}s)"; failed=1 ;;
    125) what="LAB FAILURE (see $out/log-$topo.txt)"; failed=1 ;;
    *) what="FAILED (exit $rc)"; failed=1 ;;
  esac
  echo "topology $topo [${TOPO_OPTS[$topo]}]: $what, ${RUN_SECS[$topo]}s"
  if [ -s "$out/results-$topo.txt" ]; then
    while IFS=$'\t' read -r st name detail; do
      printf '  %-4s %-40s %s\n' "$st" "$name" "$detail"
      [ "$st" = PASS ] || failed=1
    done <"$out/results-$topo.txt"
  else
    echo "  (no results: the lab did not get to run the tests)"
  fi
done
if ((failed)); then echo "RESULT: FAILED"; exit 1; fi
echo "RESULT: all passed"
