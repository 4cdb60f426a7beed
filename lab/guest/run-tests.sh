#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Runs inside the lab guest for lab/test.sh: lab/selftest.sh, then every test binary
# listed in LIST (lines "EXECUTABLE<TAB>WORKDIR<TAB>N_IGNORED_TESTS") with
# --ignored --test-threads=1 and the extra arguments given after LIST and RESULTS.
# Appends one "STATUS<TAB>NAME<TAB>DETAIL" line per step to RESULTS; exits non-zero
# when any step failed.
#   run-tests.sh LIST RESULTS [TEST-ARGS...]
set -u
list=$1 results=$2; shift 2
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
: >"$results"
bad=0
log=$(mktemp)

echo "=== lab/selftest.sh"
"$lab/selftest.sh" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(tail -n 1 "$log")
if ((rc == 0)); then st=PASS; else st=FAIL bad=1; fi
printf '%s\tselftest\t%s\n' "$st" "$summary" >>"$results"

while IFS=$'\t' read -r exe dir n; do
  [ -n "$exe" ] || continue
  ((n > 0)) || continue
  echo "=== $(basename "$exe") ($n ignored test(s)) in $dir"
  (cd "$dir" && "$exe" --ignored --test-threads=1 "$@") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary=$(grep '^test result:' "$log" | tail -n 1)
  if ((rc == 0)); then st=PASS; else st=FAIL bad=1; fi
  printf '%s\t%s\t%s\n' "$st" "$(basename "$exe")" "${summary:-exit status $rc}" >>"$results"
done <"$list"
# --- pr-python block: the Python lab tests (pytest -m lab) -------------------------
# Run when lab/test.sh prepared the Python package (it always does unless --selftest-only,
# which writes an empty LIST). debian12: the venv pr-python/test.sh made on the host
# (target/py-venv: the guest's root is the host's). sid: the venv made in the sid root by
# lab/stack/build-sid.sh (sid's python3, pytest from Debian), into which the abi3 wheel
# built on the host (LAB_PY_WHEEL) is installed here, offline (the overlay root is
# writable and thrown away with the VM). Missing environment, no tests collected, or a
# skip-turned-failure (PR_PY_LAB_REQUIRED=1) all count as FAIL.
root=$(cd "$lab/.." && pwd)
if [ -s "$list" ]; then
  echo "=== pr-python: pytest -m lab (stack ${LAB_STACK:-debian12})"
  rc=0 summary=""
  if [ "${LAB_STACK:-debian12}" = sid ]; then
    py=/opt/pr-sdk-lab/venv/bin/python
    if [ ! -x "$py" ]; then
      echo "pr-python: $py missing (the sid root has no venv: rebuild it with lab/stack/build-sid.sh --force)"
      rc=1 summary="sid venv $py missing"
    elif [ -z "${LAB_PY_WHEEL:-}" ] || [ ! -f "$LAB_PY_WHEEL" ]; then
      echo "pr-python: no wheel to install (LAB_PY_WHEEL='${LAB_PY_WHEEL:-}'; lab/test.sh builds it)"
      rc=1 summary="pr-sdk wheel missing"
    elif ! "$py" -m pip install --disable-pip-version-check --no-index --no-deps -q "$LAB_PY_WHEEL"; then
      rc=1 summary="pip install of $(basename "$LAB_PY_WHEEL") into $py failed"
    fi
  else
    py=$root/target/py-venv/bin/python
    if [ ! -x "$py" ]; then
      echo "pr-python: $py missing (lab/test.sh did not install the package)"
      rc=1 summary="target/py-venv missing"
    fi
  fi
  if ((rc == 0)); then
    echo "pr-python: $("$py" --version 2>&1), pytest $("$py" -m pytest --version 2>&1 | head -n 1)"
    (cd "$root/pr-python" && PR_PY_LAB_REQUIRED=1 "$py" -m pytest -p no:cacheprovider -o addopts= \
      -m lab -rA -q tests/test_lab.py) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary=$(grep -E '(passed|failed|error|skipped|no tests ran)' "$log" | tail -n 1)
  fi
  if ((rc == 0)); then st=PASS; else st=FAIL bad=1; fi
  printf '%s\t%s\t%s\n' "$st" "python-lab (pytest -m lab)" "${summary:-exit status $rc}" >>"$results"
fi
# --- end of pr-python block ------------------------------------------------------

rm -f "$log"
exit $bad
