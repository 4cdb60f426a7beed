#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/test.sh - run the lab tests in one command.
#   1. builds the workspace's test binaries on the host
#      (cargo test --workspace --no-run --message-format=json; the guest compiles slowly)
#      and lists each one's #[ignore] tests (the tests that need real devices);
#   2. boots the lab once per stack and topology and runs, inside: lab/selftest.sh, then
#      every binary that has ignored tests, with --ignored --test-threads=1;
#      then the Python lab tests (pr-python: `pytest -m lab`; debian12: from the venv
#      pr-python/test.sh installs into target/py-venv on the host; sid: from the venv
#      in the sid root, into which the guest installs the abi3 wheel built here);
#   3. prints a summary with the time each lab run took; exits non-zero on any failure.
#
# Usage: lab/test.sh [options] [-- TEST-ARGS...]
#   --stack NAME        debian12 (default: this machine's root and kernel), sid (the
#                         Debian sid root of lab/stack/build-sid.sh, built first when
#                         missing: needs root) or all (both, debian12 first)
#   --topology NAME     run only this topology (repeatable); default: all of
#                         loop : -T loop  -l 2 -p 3 --node2-paths 1
#                         iscsi: -T iscsi -l 2 -p 2 --node2-paths 1
#                       on the sid stack each also gets --nvme 2 (NVMe/TCP namespaces
#                       with reservations; lab/README.md, "NVMe over TCP")
#   --selftest-only     do not build or run the Rust tests
#   -t, --timeout SECS  limit of each lab run (default 1500)
#   TEST-ARGS           extra arguments for every test binary (e.g. a name filter)
# Tests whose name contains "iscsi_only" (e.g. PREEMPT AND ABORT, which deadlocks LIO
# over tcm_loop) are skipped on the loop topology; tests whose name contains "sid_only"
# (live migration with QEMU 11's migrate-pr, which Debian 12's QEMU 7.2 lacks) are
# skipped on the debian12 stack (run by hand there, they fail and say why); tests whose
# name contains "host_only" (they need root and a daemon of the host, not the lab) are
# never run in the guest.
# Logs: target/lab-test/STACK/
# (log-TOPOLOGY.txt, results-TOPOLOGY.txt, manifest.txt: the stack's package versions).
set -uo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LAB_DIR/.." && pwd)
declare -A TOPO_OPTS=(
  [loop]="-T loop -l 2 -p 3 --node2-paths 1"
  [iscsi]="-T iscsi -l 2 -p 2 --node2-paths 1"
)
# "host_only" tests are #[ignore] for another reason than the lab (root and a host
# daemon, e.g. pr-lock's real virtlockd): scripts/test-all.sh runs them on the host.
declare -A TOPO_ARGS=([loop]="--skip iscsi_only --skip host_only" [iscsi]="--skip host_only")
declare -A STACK_ARGS=([debian12]="--skip sid_only" [sid]="")
# lab/run.sh options per stack: sid also exports two NVMe namespaces over NVMe/TCP (the
# kernel NVMe target's reservations need Linux 6.13+; Debian 12's 6.1 has none)
declare -A STACK_OPTS=([debian12]="" [sid]="--nvme 2")
ALL_TOPOS=(loop iscsi)

topos=() selftest_only=0 tmo=1500 test_args=() stack_arg=debian12
while (($#)); do
  case $1 in
    --stack) case ${2-} in debian12|sid|all) stack_arg=$2 ;;
               *) echo "lab/test.sh: unknown stack '${2-}' (debian12, sid, all)" >&2; exit 2 ;; esac
             shift 2 ;;
    --topology) [ -n "${TOPO_OPTS[${2-}]+x}" ] || { echo "lab/test.sh: unknown topology '${2-}' (loop, iscsi)" >&2; exit 2; }
                topos+=("$2"); shift 2 ;;
    --selftest-only) selftest_only=1; shift ;;
    -t|--timeout) tmo=${2-}; shift 2 ;;
    -h|--help) sed -n '/^# Usage:/,/^# never run in the guest/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; test_args=("$@"); break ;;
    *) echo "lab/test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
((${#topos[@]})) || topos=("${ALL_TOPOS[@]}")
if [ "$stack_arg" = all ]; then stacks=(debian12 sid); else stacks=("$stack_arg"); fi

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
  # sid's Python is not the host's: the guest installs the abi3 wheel into the sid root's
  # venv (lab/guest/run-tests.sh). Built by the same maturin, cargo finds it up to date.
  if [[ " ${stacks[*]} " == *" sid "* ]]; then
    echo "lab/test.sh: building the pr-sdk wheel for the sid guest (pip wheel) ..."
    if ! "$ROOT/target/py-venv/bin/python" -m pip wheel --disable-pip-version-check --no-deps \
         -w "$out/wheel" "$ROOT/pr-python" >>"$out/python-build.log" 2>&1 ||
       ! ls "$out"/wheel/pr_sdk-*.whl >/dev/null 2>&1; then
      tail -n 40 "$out/python-build.log" >&2
      echo "lab/test.sh: FAILED: pip wheel ./pr-python (log above, full: $out/python-build.log)" >&2
      exit 1
    fi
  fi
fi
# --- end of pr-python block ------------------------------------------------------

# --- 2. one lab run per stack and topology --------------------------------------------
declare -A RUN_RC RUN_SECS RUN_READY RUN_VM
for stack in "${stacks[@]}"; do
  sout=$out/$stack
  mkdir -p "$sout"
  if [ "$stack" = sid ] && ! "$LAB_DIR/stack/build-sid.sh" --path >/dev/null 2>&1; then
    echo "lab/test.sh: building the Debian sid guest root (lab/stack/build-sid.sh) ..."
    t0=$(now)
    if ! "$LAB_DIR/stack/build-sid.sh" >"$sout/build-root.log" 2>&1; then
      cat "$sout/build-root.log" >&2
      echo "lab/test.sh: FAILED: lab/stack/build-sid.sh (log above)" >&2
      exit 1
    fi
    echo "lab/test.sh: sid root built in $(secs "$t0" "$(now)")s"
  fi
  wheels=("$out"/wheel/pr_sdk-*.whl)
  [ -f "${wheels[0]}" ] || wheels=("")
  envs=(-e "LAB_PY_WHEEL=${wheels[0]}")
  for topo in "${topos[@]}"; do
    id=$stack/$topo
    results=$sout/results-$topo.txt
    : >"$results"
    # shellcheck disable=SC2206
    opts=(${TOPO_OPTS[$topo]} ${STACK_OPTS[$stack]}) targs=(${TOPO_ARGS[$topo]} ${STACK_ARGS[$stack]})
    echo
    echo "lab/test.sh: ===== stack $stack, topology $topo: lab/run.sh --stack $stack ${opts[*]} (limit ${tmo}s)"
    t0=$(now)
    "$LAB_DIR/run.sh" --stack "$stack" --manifest "$sout/manifest.txt" "${opts[@]}" -t "$tmo" \
      -C "$ROOT" "${envs[@]}" -- \
      "$LAB_DIR/guest/run-tests.sh" "$list" "$results" ${targs[@]+"${targs[@]}"} \
      ${test_args[@]+"${test_args[@]}"} 2>&1 | tee "$sout/log-$topo.txt"
    RUN_RC[$id]=${PIPESTATUS[0]}
    RUN_SECS[$id]=$(secs "$t0" "$(now)")
    # run.sh's last line: "...; T s in all, lab ready after R s of guest uptime" (T: from
    # QEMU's start, so without the wait for the lab lock that RUN_SECS includes)
    RUN_READY[$id]=$(sed -n 's/.*lab ready after \([0-9.]*\)s.*/\1/p' "$sout/log-$topo.txt" | tail -n 1)
    RUN_VM[$id]=$(sed -n 's/.*; \([0-9.]*\)s in all, lab ready.*/\1/p' "$sout/log-$topo.txt" | tail -n 1)
    echo "lab/test.sh: stack $stack, topology $topo took ${RUN_SECS[$id]}s (exit ${RUN_RC[$id]})"
  done
done

# --- 3. summary -----------------------------------------------------------------------
echo
echo "================ lab test summary ================"
failed=0
for stack in "${stacks[@]}"; do
  for topo in "${topos[@]}"; do
    id=$stack/$topo
    rc=${RUN_RC[$id]}
    case $rc in
      0) what="ok" ;;
      124) what="TIMEOUT (limit ${tmo}s)"; failed=1 ;;
      125) what="LAB FAILURE (see $out/$stack/log-$topo.txt)"; failed=1 ;;
      *) what="FAILED (exit $rc)"; failed=1 ;;
    esac
    echo "stack $stack, topology $topo [${TOPO_OPTS[$topo]}${STACK_OPTS[$stack]:+ ${STACK_OPTS[$stack]}}]: $what, ${RUN_SECS[$id]}s" \
      "(VM ${RUN_VM[$id]:-?}s, lab ready after ${RUN_READY[$id]:-?}s)"
    if [ -s "$out/$stack/results-$topo.txt" ]; then
      while IFS=$'\t' read -r st name detail; do
        printf '  %-4s %-40s %s\n' "$st" "$name" "$detail"
        [ "$st" = PASS ] || failed=1
      done <"$out/$stack/results-$topo.txt"
    else
      echo "  (no results: the lab did not get to run the tests)"
    fi
  done
done
if ((failed)); then echo "RESULT: FAILED"; exit 1; fi
echo "RESULT: all passed"
