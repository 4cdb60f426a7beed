#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/setup.sh - install the Debian 12 (bookworm) packages the PR lab needs.
# Idempotent and non-interactive; must run as root when something is missing.
# Prints one summary line.
#
# What each package is for:
#   qemu-system-x86     the lab VM (KVM when usable, TCG otherwise); on the debian12
#                       stack also the QEMU inside the guest that pr-helper's lab_qemu
#                       drives (with qemu-system-common's qemu-pr-helper)
#   linux-image-amd64   the guest kernel; the guest's root is this machine's root,
#                       so its modules (/lib/modules/VER) are found there
#   busybox-static      the tiny initramfs that mounts that root
#   kmod cpio zstd xz-utils   resolving/unpacking modules, packing the initramfs
#   udev multipath-tools sg3-utils open-iscsi iproute2   used inside the guest
#   python3-venv        pr-python/test.sh's virtual environment (Debian's python3)
#   fence-agents        Debian's fence_scsi, which the Python lab tests compare against
#   gcc g++ valgrind pkg-config   pr-c/test.sh: C tests under ASan and
#                       valgrind, the header as C and C++, the pkg-config build of libpr_sdk;
#                       gcc (and binutils, its dependency) also builds pr-helper's SCSI pump
#                       (pr-helper/tests/qemu-guest/build.sh: -m32 freestanding, no multilib)
#   systemd strace      pr-helper's socket-activation test (systemd-socket-activate);
#                       pr-mpathpersist/bench.sh --profile (system calls per call)
#   zsh fish groff-base man-db   pr-cli/tests/completions_man.rs: prsdk's generated
#                       completions checked by each shell (bash -n, zsh -n, fish
#                       --no-execute, bash's and fish's answers on real command lines),
#                       its man page rendered with warnings on (groff -ww, man --warnings)
#   libvirt-daemon      /usr/sbin/virtlockd, for pr-lock/tests/virtlockd.rs (our lock files
#                       against the real virtlockd, through its RPC; on this machine, not the guest);
#                       also libvirtd and the lockd lock driver (lockd.so) for pr-lock's lab_libvirt
#                       (libvirtd and virtlockd started by hand in the guest, never on this machine)
#   libvirt-daemon-driver-qemu libvirt-clients   libvirtd's QEMU driver and virsh, for lab_libvirt.
#                       Not libvirt-daemon-system: it only adds config files and systemd units
#                       that start the daemons on this machine; the test writes its own config
#   mmdebstrap          builds the Debian sid guest root of the lab's second stack
#                       (lab/stack/build-sid.sh; the packages in it come from sid, not
#                       from this machine)
#
# Note: on images that carry qemu-utils from bookworm-backports without that suite
# configured, apt removes it to install bookworm's qemu-system-common (the backports
# qemu-utils "Breaks" it). Nothing in the lab needs qemu-img.
set -euo pipefail

pkgs=(qemu-system-x86 linux-image-amd64 busybox-static kmod cpio zstd xz-utils
      udev multipath-tools sg3-utils open-iscsi iproute2
      python3-venv fence-agents
      gcc g++ valgrind pkg-config
      systemd strace
      zsh fish groff-base man-db
      libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
      mmdebstrap)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done

action="nothing to install"
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "lab/setup.sh: must run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
            --no-install-recommends)
  # Refresh the package lists only when they are missing or older than a week.
  fresh=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -7 2>/dev/null | head -n 1)
  updated=no
  if [ -z "$fresh" ]; then apt-get update -q >&2; updated=yes; fi
  if ! apt-get install "${apt_opts[@]}" "${missing[@]}" >&2; then
    # The lists may still be stale (e.g. a security update replaced a version): retry once.
    [ "$updated" = yes ] && { echo "lab/setup.sh: apt-get install failed" >&2; exit 1; }
    apt-get update -q >&2
    apt-get install "${apt_opts[@]}" "${missing[@]}" >&2
  fi
  action="installed ${missing[*]}"
fi

kernels=$(for k in /boot/vmlinuz-*; do
  v=${k#/boot/vmlinuz-}; [ -d "/lib/modules/$v/kernel" ] && printf '%s ' "$v"; done)
[ -n "$kernels" ] || { echo "lab/setup.sh: no kernel with modules under /boot" >&2; exit 1; }
echo "lab setup ok: ${#pkgs[@]} packages present ($action); guest kernel(s): ${kernels% }"
