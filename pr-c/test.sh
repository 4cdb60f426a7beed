#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Every test of the native C API (pr-c, crate pr-c):
#   1. cargo test -p pr-c (Rust tests, including the header drift check against cbindgen)
#   2. the exported symbols: only pr_*, SONAME libpr_sdk.so.0
#   3. tests/c/{functional,garbage,locks}.c and README.md's examples, compiled by gcc, each run
#      under AddressSanitizer+UBSan and under valgrind (errors, definite and indirect
#      leaks fail); a negative control proves both tools catch a deliberate leak/overflow
#   4. install.sh into a temporary prefix, then a program built with
#      `pkg-config --cflags --libs pr_sdk` (shared) and `--static` (static), run
# Usage: pr-c/test.sh    (CARGO_TARGET_DIR honoured; needs gcc, valgrind,
# pkg-config: lab/setup.sh installs them)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cd "$root"
t0=$(date +%s)
step() { printf '\n--- native C API: %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }

for tool in gcc g++ valgrind pkg-config; do
  command -v "$tool" >/dev/null || { echo "test.sh: $tool is missing (run lab/setup.sh)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "cargo test -p pr-c (unit tests, header drift check)"
if cargo test --locked -p pr-c; then ok "cargo test -p pr-c"; else bad "cargo test -p pr-c"; fi

step "build libpr_sdk (debug) and stage it with its SONAME"
cargo build --locked -p pr-c
stage="$work/stage"
mkdir -p "$stage"
cp "$target/debug/libpr_sdk.so" "$stage/libpr_sdk.so.0"
ln -s libpr_sdk.so.0 "$stage/libpr_sdk.so"

step "exported symbols and SONAME"
soname=$(readelf -d "$stage/libpr_sdk.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
others=$(nm -D --defined-only "$stage/libpr_sdk.so.0" | awk '{print $3}' | grep -v '^pr_' || true)
header_fns=$(grep -oE '\bpr_[a-z0-9_]+\(' "$here/include/pr_sdk.h" | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$stage/libpr_sdk.so.0" | awk '{print $3}' | grep '^pr_' | sort -u)
if [ "$soname" = libpr_sdk.so.0 ] && [ -z "$others" ] && [ "$header_fns" = "$exported" ]; then
  ok "SONAME $soname; $(echo "$exported" | wc -l) exported symbols, all pr_*, exactly the header's functions"
else
  bad "exports: SONAME '$soname'; non-pr_ symbols: [$others]; header vs exports: $(diff <(echo "$header_fns") <(echo "$exported") | tr '\n' ' ')"
fi

step "the header compiles alone as C99, C2x (typed enum) and C++11 (pedantic, warnings denied)"
printf '#include "pr_sdk.h"\nint main(void) { return pr_sdk_version_number() == PR_SDK_VERSION_NUMBER ? 0 : 1; }\n' >"$work/hdr.c"
if gcc -std=c99 -pedantic -Wall -Wextra -Werror -I"$here/include" -fsyntax-only "$work/hdr.c" &&
   gcc -std=c2x -pedantic -Wall -Wextra -Werror -I"$here/include" -fsyntax-only "$work/hdr.c" &&
   g++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$here/include" -fsyntax-only -x c++ "$work/hdr.c"; then
  ok "pr_sdk.h as C99, C2x and C++11"
else
  bad "pr_sdk.h as C99, C2x or C++11"
fi

# The README's examples, one program per ```c block: readme_example.c (the first, also
# built through pkg-config below), readme_example_2.c, ...
awk -v dir="$work" '/^```c$/{n++; f=dir "/readme_example" (n > 1 ? "_" n : "") ".c"; on=1; next}
  /^```$/{on=0} on{print > f}' "$here/README.md"
[ -s "$work/readme_example.c" ] || { bad "README.md has no C example"; exit 1; }

cflags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -I"$here/include" -I"$here/tests/c")
ldflags=(-L"$stage" -lpr_sdk -Wl,-rpath,"$stage" -lpthread)
asan=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
vg=(valgrind -q --error-exitcode=23 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --child-silent-after-fork=yes)

run_c() { # name source
  local name=$1 src=$2
  step "$name: gcc + ASan/UBSan"
  if gcc "${cflags[@]}" "${asan[@]}" "$src" "${ldflags[@]}" -o "$work/$name-asan" &&
     timeout 600 "$work/$name-asan"; then ok "$name under ASan/UBSan"; else bad "$name under ASan/UBSan"; fi
  step "$name: gcc + valgrind"
  if gcc "${cflags[@]}" "$src" "${ldflags[@]}" -o "$work/$name" &&
     timeout 900 "${vg[@]}" "$work/$name"; then ok "$name under valgrind"; else bad "$name under valgrind"; fi
}
run_c functional "$here/tests/c/functional.c"
run_c garbage "$here/tests/c/garbage.c"
run_c locks "$here/tests/c/locks.c"
for example in "$work"/readme_example*.c; do
  run_c "$(basename "$example" .c)" "$example"
done

step "negative control: the tools must catch a deliberate leak and overflow"
gcc "${cflags[@]}" "${asan[@]}" "$here/tests/c/leak_control.c" "${ldflags[@]}" -o "$work/control-asan"
gcc "${cflags[@]}" "$here/tests/c/leak_control.c" "${ldflags[@]}" -o "$work/control"
if "$work/control-asan" && "${vg[@]}" "$work/control"; then ok "control is clean without a fault"; else bad "control fails without a fault"; fi
for mode in leak overflow; do
  if PR_LEAK_CONTROL=$mode "$work/control-asan" >/dev/null 2>&1; then bad "ASan missed the $mode"; else ok "ASan catches the $mode"; fi
  if PR_LEAK_CONTROL=$mode "${vg[@]}" "$work/control" >/dev/null 2>&1; then bad "valgrind missed the $mode"; else ok "valgrind catches the $mode"; fi
done

step "install.sh into a temporary prefix, then pkg-config builds"
prefix="$work/prefix"
if bash "$here/install.sh" --prefix "$prefix"; then
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  if [ "$(readelf -d "$prefix/lib/libpr_sdk.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = libpr_sdk.so.0 ] &&
     [ -L "$prefix/lib/libpr_sdk.so" ] && [ -f "$prefix/lib/libpr_sdk.a" ] && [ -f "$prefix/include/pr_sdk.h" ] &&
     [ "$(pkg-config --modversion pr_sdk)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)" ]; then
    ok "installed layout and pkg-config metadata"
  else
    bad "installed layout or pkg-config metadata"
  fi
  # shellcheck disable=SC2046
  if gcc -std=c11 -Wall -Werror "$work/readme_example.c" $(pkg-config --cflags --libs pr_sdk) \
        -Wl,-rpath,"$prefix/lib" -o "$work/pc-shared" &&
     [ "$(readelf -d "$work/pc-shared" | grep -c 'NEEDED.*libpr_sdk.so.0')" = 1 ] &&
     "$work/pc-shared" >/dev/null; then
    ok "pkg-config --cflags --libs pr_sdk: shared build runs"
  else
    bad "pkg-config shared build"
  fi
  # shellcheck disable=SC2046
  if gcc -std=c11 -Wall -Werror "$work/readme_example.c" $(pkg-config --cflags pr_sdk) \
        "$(pkg-config --variable=libdir pr_sdk)/libpr_sdk.a" \
        $(pkg-config --libs-only-l --static pr_sdk | sed 's/-lpr_sdk//') \
        -o "$work/pc-static" &&
     ! readelf -d "$work/pc-static" | grep -q 'libpr_sdk' &&
     "$work/pc-static" >/dev/null; then
    ok "pkg-config --static: static build runs"
  else
    bad "pkg-config static build"
  fi
else
  bad "install.sh"
fi

echo
echo "native-c-api: $passed passed, $failed failed"
[ "$failed" = 0 ]
