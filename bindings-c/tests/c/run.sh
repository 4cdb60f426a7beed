#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# bindings-c/tests/c/run.sh LIBDIR [OUTDIR] - the host C tests of libmpathpersist.so.0.
#   LIBDIR: the directory build-compat.sh prints (libmpathpersist.so.0 and .so).
#   Compiles the C test programs with gcc against our include/mpath_persist.h and
#   -lmpathpersist from LIBDIR, twice: with -fsanitize=address,undefined and plain (for
#   valgrind), into OUTDIR (default LIBDIR/c-tests), then runs garbage.c's program under
#   AddressSanitizer (leak checking on) and under valgrind --leak-check=full
#   --error-exitcode=1, and usage.c's (the header's documented usage, compiled with
#   nothing but the header and -Werror=implicit-function-declaration) under
#   AddressSanitizer. Exit status 0 only when all passed.
#   The fork case runs under ASAN only: its child inherits the per-thread allocations
#   of the parent's runtime and blocking threads, which do not exist in the child, and
#   valgrind reports them lost there (GARBAGE_SKIP_FORK=1 for the valgrind run).
#   With BUILD_ONLY=1 it only compiles (the lab runs the programs that need devices).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
inc=$(cd "$here/../../include" && pwd)
libdir=$(cd "${1:?usage: run.sh LIBDIR [OUTDIR]}" && pwd)
out=${2:-$libdir/c-tests}
mkdir -p "$out"
[ -f "$libdir/libmpathpersist.so.0" ] || { echo "run.sh: $libdir/libmpathpersist.so.0 missing (run build-compat.sh)" >&2; exit 1; }
cflags=(-std=gnu11 -g -O1 -Wall -Wextra -Werror -Werror=implicit-function-declaration -I "$inc" -I "$here" -pthread)
ldflags=(-L "$libdir" -Wl,-rpath,"$libdir" -lmpathpersist)
for prog in garbage smoke usage; do
  gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    -o "$out/$prog-asan" "$here/$prog.c" "${ldflags[@]}"
  gcc "${cflags[@]}" -o "$out/$prog" "$here/$prog.c" "${ldflags[@]}"
done
echo "run.sh: built $(ls "$out" | tr '\n' ' ')in $out"
[ "${BUILD_ONLY:-0}" = 1 ] && exit 0

rc=0
# The export check must be able to fail: Debian's own library (0.9.4: update_map_pr, no
# LIBMPATHPERSIST_2.2.0 node, no __LIBMPATHPERSIST_INT_2.1.0) must not pass it.
for other in /lib/libmpathpersist.so.0 /lib/x86_64-linux-gnu/libmpathpersist.so.0; do
  [ -f "$other" ] || continue
  if bash "$here/../../check-exports.sh" "$other" >/dev/null 2>&1; then
    echo "run.sh: FAILED: check-exports.sh accepts Debian's $other" >&2; rc=1
  else
    echo "run.sh: check-exports.sh rejects Debian's $other (as it must)"
  fi
  break
done
echo "run.sh: garbage under AddressSanitizer + UBSan"
if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/garbage-asan"; then
  echo "run.sh: FAILED: garbage under ASAN" >&2; rc=1
fi
echo "run.sh: garbage under valgrind"
if ! GARBAGE_SKIP_FORK=1 valgrind -q --suppressions="$here/valgrind.supp" --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible \
     --errors-for-leak-kinds=definite,indirect,possible "$out/garbage"; then
  echo "run.sh: FAILED: garbage under valgrind" >&2; rc=1
fi
echo "run.sh: usage under AddressSanitizer + UBSan"
if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/usage-asan"; then
  echo "run.sh: FAILED: usage under ASAN" >&2; rc=1
fi
((rc == 0)) && echo "run.sh: C tests passed (ASAN, valgrind)"
exit $rc
