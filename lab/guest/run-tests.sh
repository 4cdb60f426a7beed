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
rm -f "$log"
exit $bad
