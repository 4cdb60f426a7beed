#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-mpathpersist/build-compat.sh - build the drop-in libmpathpersist.so.0 with its symbol
# versions and lay it out for LD_LIBRARY_PATH use.
#
# Usage: pr-mpathpersist/build-compat.sh [OUTDIR]
#   Builds `cargo build -p pr-mpathpersist --release` with PR_COMPAT_CDYLIB=1 (version script,
#   LLD, .symver; see build.rs) and one codegen unit (a default-version .symver must sit in
#   the object that defines the symbol), checks the exported symbols against
#   libmpathpersist.exports (check-exports.sh), and writes OUTDIR (default:
#   $CARGO_TARGET_DIR or <repo>/target, then /compat-lib) with
#     libmpathpersist.so.0          the library (its SONAME)
#     libmpathpersist.so            symlink, for linking with -lmpathpersist
#   Prints OUTDIR on the last line. Then: LD_LIBRARY_PATH=OUTDIR mpathpersist -i -k /dev/mapper/mpatha
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$target/compat-lib}
(cd "$root" && PR_COMPAT_CDYLIB=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo build -p pr-mpathpersist --release --lib >&2)
lib=$target/release/libmpathpersist.so
[ -f "$lib" ] || { echo "build-compat.sh: $lib was not built" >&2; exit 1; }
bash "$here/check-exports.sh" "$lib" >&2
mkdir -p "$out"
# a new file renamed into place: a running program that has the old one mapped keeps it
cp -f "$lib" "$out/.libmpathpersist.so.0.new"
mv -f "$out/.libmpathpersist.so.0.new" "$out/libmpathpersist.so.0"
ln -sf libmpathpersist.so.0 "$out/libmpathpersist.so"
echo "$out"
