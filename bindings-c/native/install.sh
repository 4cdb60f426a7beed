#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Builds libprsdk in release mode and installs it under a prefix:
#   PREFIX/lib/libprsdk.so.0  (SONAME libprsdk.so.0)   PREFIX/lib/libprsdk.so -> libprsdk.so.0
#   PREFIX/lib/libprsdk.a     PREFIX/include/pr_sdk.h  PREFIX/lib/pkgconfig/prsdk.pc
# Usage: bindings-c/native/install.sh --prefix DIR [--libdir DIR] [--no-build]
# Honours CARGO_TARGET_DIR (default: the workspace's target/) and DESTDIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix="" libdir="" build=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --libdir) libdir=${2:?--libdir needs a directory}; shift 2 ;;
    --libdir=*) libdir=${1#--libdir=}; shift ;;
    --no-build) build=no; shift ;;
    -h|--help) sed -n '3,7p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
libdir=${libdir:-$prefix/lib}
includedir=$prefix/include
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac

if [ "$build" = yes ]; then
  (cd "$root" && cargo build --release --locked -p pr-c)
fi
rel="$target/release"
for f in libprsdk.so libprsdk.a; do
  [ -f "$rel/$f" ] || { echo "install.sh: $rel/$f not built" >&2; exit 1; }
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)

d=${DESTDIR:-}
install -d "$d$libdir/pkgconfig" "$d$includedir"
install -m 0755 "$rel/libprsdk.so" "$d$libdir/libprsdk.so.0"
ln -sfn libprsdk.so.0 "$d$libdir/libprsdk.so"
install -m 0644 "$rel/libprsdk.a" "$d$libdir/libprsdk.a"
install -m 0644 "$here/include/pr_sdk.h" "$d$includedir/pr_sdk.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
    -e "s|@VERSION@|$version|" "$here/prsdk.pc.in" > "$d$libdir/pkgconfig/prsdk.pc"
chmod 0644 "$d$libdir/pkgconfig/prsdk.pc"
echo "installed libprsdk $version under $d$prefix"
# How programs will find libprsdk.so.0 at run time (see README.md).
if [ -z "$d" ]; then
  if grep -qsx "$libdir/\?" /etc/ld.so.conf /etc/ld.so.conf.d/*.conf; then
    echo "$libdir is in the dynamic linker's configuration: run ldconfig (as root) so that programs find libprsdk.so.0"
  else
    echo "$libdir is not in the dynamic linker's configuration: link programs with -Wl,-rpath,$libdir or run them with LD_LIBRARY_PATH=$libdir"
  fi
fi
