#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/stack/build-sid.sh - the guest root of the lab's "sid" stack: a Debian sid file
# system built with mmdebstrap from the Debian package registry, holding sid's kernel and
# every tool the lab runs in the guest (package list: lab/stack/sid.packages).
#
# Usage: lab/stack/build-sid.sh [--path | --force | --key]
#   (none)    build the root unless the one for the current key exists; print its directory
#   --path    print the directory of the current key's root; exit 1 (and say how to build
#             it) when it is not built; builds nothing
#   --force   build again even when the current key's root exists
#   --key     print the current key and exit
# The key is a hash of the package list (comments and order ignored) and of this script's
# build recipe (suite, mmdebstrap options, hooks). The root of key K is
#   $LAB_CACHE/sid/K/root          the file system (lab/run.sh shares it as the guest root)
#   $LAB_CACHE/sid/K/manifest.txt  "package version" of every installed package
#   $LAB_CACHE/sid/K/info          key, build date, build seconds, mirror, tool versions
#   $LAB_CACHE/sid/K/build.log     mmdebstrap's output
# A new key's root is built next to the old ones, which are removed only after it is
# complete and no lab VM is running (the lab lock is free).
# Environment: LAB_CACHE (default /var/cache/pr-sdk-lab), LAB_SID_MIRROR (default
#   http://deb.debian.org/debian), LAB_LOCK (the lab lock, default /run/lock/pr-sdk-lab.lock).
# Needs root and mmdebstrap (lab/setup.sh installs it). Exit status 0 when the root is
# there; 1 otherwise (the reason on stderr).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIST=$HERE/sid.packages
CACHE=${LAB_CACHE:-/var/cache/pr-sdk-lab}/sid
MIRROR=${LAB_SID_MIRROR:-http://deb.debian.org/debian}
SUITE=sid
# The Python venv of the Python lab tests (pytest from Debian through
# --system-site-packages; lab/guest/run-tests.sh installs the host-built wheel into it).
VENV=/opt/pr-sdk-lab/venv
die() { echo "lab/stack/build-sid.sh: $*" >&2; exit 1; }

packages() { sed 's/#.*//' "$LIST" | tr -s '[:blank:]' '\n' | sed '/^$/d' | sort -u; }
# The recipe: everything but the package list that decides what the root holds. Part of
# the key, so changing it builds a new root.
OPTS=(--mode=root --format=directory --variant=apt --components=main
      "--aptopt=Acquire::Check-Valid-Until \"false\""
      "--aptopt=APT::Install-Recommends \"false\""
      --dpkgopt=path-exclude=/usr/share/man/* --dpkgopt=path-exclude=/usr/share/locale/*
      --dpkgopt=path-exclude=/usr/share/doc/* --dpkgopt=path-include=/usr/share/doc/*/copyright
      "--customize-hook=chroot \"\$1\" python3 -m venv --system-site-packages $VENV"
      "--customize-hook=echo labpr >\"\$1/etc/hostname\"")
[ -r "$LIST" ] || die "cannot read $LIST"
key=$({ packages; printf '%s\n' "suite=$SUITE" "${OPTS[@]}"; } | sha256sum | cut -c1-16)
dir=$CACHE/$key

case ${1-} in
  --key) echo "$key"; exit 0 ;;
  --path)
    [ -f "$dir/manifest.txt" ] && [ -d "$dir/root/usr" ] && { echo "$dir"; exit 0; }
    echo "lab/stack/build-sid.sh: the sid root $dir (key $key of lab/stack/sid.packages) is" \
      "not built; build it as root with: lab/stack/build-sid.sh" >&2
    exit 1 ;;
  --force|"") ;;
  -h|--help) sed -n '/^# Usage:/,/^# there; 1 otherwise/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac
if [ "${1-}" != --force ] && [ -f "$dir/manifest.txt" ] && [ -d "$dir/root/usr" ]; then
  echo "$dir"; exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (run lab/setup.sh as root)"

mkdir -p "$CACHE" || die "cannot create $CACHE"
exec {buildfd}>>"$CACHE/.build.lock"
if ! flock -n "$buildfd"; then
  echo "lab/stack/build-sid.sh: another build is running; waiting ..." >&2
  flock -w 3600 "$buildfd" || die "gave up waiting for $CACHE/.build.lock"
  # it may have built this very key
  if [ "${1-}" != --force ] && [ -f "$dir/manifest.txt" ]; then echo "$dir"; exit 0; fi
fi

mapfile -t pkgs < <(packages)
tmp=$dir.tmp
rm -rf "$tmp" && mkdir -p "$tmp" || die "cannot create $tmp"
echo "lab/stack/build-sid.sh: building the sid root $key (${#pkgs[@]} packages from $MIRROR)" \
  "into $dir; log: $tmp/build.log ..." >&2
t0=$(date +%s)
if ! mmdebstrap "${OPTS[@]}" --include="$(IFS=,; echo "${pkgs[*]}")" \
     "$SUITE" "$tmp/root" "deb $MIRROR $SUITE main" >"$tmp/build.log" 2>&1; then
  tail -n 30 "$tmp/build.log" >&2
  die "mmdebstrap failed (log above; whole log: $tmp/build.log)"
fi
secs=$(($(date +%s) - t0))
chroot "$tmp/root" dpkg-query -W -f='${Package} ${Version}\n' >"$tmp/manifest.txt" ||
  die "dpkg-query in the new root failed"
kernels=$(cd "$tmp/root/boot" && ls vmlinuz-* 2>/dev/null | sed 's/^vmlinuz-//' | tr '\n' ' ')
[ -n "$kernels" ] || die "the new root has no kernel in /boot"
[ -x "$tmp/root$VENV/bin/python" ] || die "the new root has no venv at $VENV"
{
  echo "key=$key"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build_secs=$secs"
  echo "mirror=$MIRROR suite=$SUITE"
  echo "mmdebstrap=$(mmdebstrap --version 2>/dev/null | head -n 1)"
  echo "kernels=${kernels% }"
  echo "python=$(chroot "$tmp/root" python3 --version 2>&1)"
  echo "venv=$VENV"
  echo "size=$(du -sh "$tmp/root" | cut -f1)"
} >"$tmp/info"
rm -rf "$dir" && mv "$tmp" "$dir" || die "cannot move $tmp to $dir"
echo "lab/stack/build-sid.sh: built $dir in ${secs}s ($(wc -l <"$dir/manifest.txt") packages," \
  "kernel(s) ${kernels% })" >&2

# Old roots: removed only while no lab VM runs (it may be booted from one of them).
lockfile=${LAB_LOCK:-/run/lock/pr-sdk-lab.lock}
old=$(cd "$CACHE" && ls -d -- */ 2>/dev/null | sed 's:/$::' | grep -vx "$key" || true)
if [ -n "$old" ]; then
  exec {labfd}>>"$lockfile"
  if flock -n "$labfd"; then
    for o in $old; do rm -rf "${CACHE:?}/$o"; done
    echo "lab/stack/build-sid.sh: removed old root(s): $(tr "\n" " " <<<"$old")" >&2
  else
    echo "lab/stack/build-sid.sh: a lab VM is running; old root(s) kept: $(tr "\n" " " <<<"$old")" >&2
  fi
  exec {labfd}>&-
fi
echo "$dir"
