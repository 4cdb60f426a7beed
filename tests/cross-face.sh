#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The cross-face test: one scenario (two nodes register, one reserves, one of its paths
# fails, the other fences it, then retries the fence; see tests/src/cross_face.rs) through
# every face of the SDK on the simulator: Rust async and Rust blocking (the pr-tests
# example), the native C API (pr-c/tests/c/cross_face.c against libpr_sdk) and Python
# (pr-python/tests/cross_face.py with the pr_sdk package). Their dumps (per-LUN fence
# results and every READ FULL STATUS field of every LUN) must be identical, byte for byte.
# Needs: cargo, gcc, and the venv that pr-python/test.sh installs (target/py-venv).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=target/cross-face
mkdir -p "$out"
venv=${PR_PY_VENV:-target/py-venv}
[ -x "$venv/bin/python" ] || { echo "cross-face: no $venv (run pr-python/test.sh first)" >&2; exit 1; }

cargo build -q -p pr-tests --example cross_face
cargo build -q -p pr-c --release
# libpr_sdk's SONAME is libpr_sdk.so.0: stage it under that name, as pr-c/install.sh does.
mkdir -p "$out/lib"
cp target/release/libpr_sdk.so "$out/lib/libpr_sdk.so.0"
ln -sf libpr_sdk.so.0 "$out/lib/libpr_sdk.so"
target/debug/examples/cross_face async >"$out/rust-async.txt"
target/debug/examples/cross_face blocking >"$out/rust-blocking.txt"
gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ipr-c/include -Ipr-c/tests/c \
  pr-c/tests/c/cross_face.c -L"$out/lib" -lpr_sdk -Wl,-rpath,"$root/$out/lib" \
  -lpthread -o "$out/cross_face_c"
"$out/cross_face_c" >"$out/c.txt"
"$venv/bin/python" pr-python/tests/cross_face.py >"$out/python.txt"

lines=$(wc -l <"$out/rust-async.txt")
[ "$lines" -gt 6 ] || { echo "cross-face: the Rust dump has only $lines lines" >&2; exit 1; }
status=0
for face in rust-blocking c python; do
  if cmp -s "$out/rust-async.txt" "$out/$face.txt"; then
    echo "cross-face: $face = rust-async ($lines lines)"
  else
    echo "cross-face: $face differs from rust-async:" >&2
    diff -u "$out/rust-async.txt" "$out/$face.txt" >&2 || true
    status=1
  fi
done
((status == 0)) && echo "cross-face: 4 faces, identical dumps"
exit "$status"
