#!/bin/busybox sh
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# /init of the lab's initramfs (stage 1; packed by lab/run.sh together with a static
# busybox, the few modules listed in /modules and stage 2 as /stage2.sh). It mounts the
# stack's root file system (9p tag "hostroot", read-only: the host's own root, or the
# Debian sid root) under a tmpfs overlay, copies stage 2 into the overlay (the sid root
# does not hold the repository), switches to it and runs stage 2 there
# (lab/guest/stage2.sh; its path on the host is given as labstage2=... on the kernel
# cmdline, for the messages).
/bin/busybox mkdir -p /bin /proc /sys /dev
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for ko in /modules/*.ko; do
  insmod "$ko" 2>/dev/null || echo "lab-init: insmod $ko failed"
done
stage2=
for word in $(cat /proc/cmdline); do
  case $word in labstage2=*) stage2=${word#labstage2=} ;; esac
done
mkdir -p /host /ovl /root
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /host; then
  echo "lab-init: FAILED to mount the host root over 9p"; poweroff -f
fi
mount -t tmpfs -o mode=0755 ovl /ovl && mkdir -p /ovl/upper /ovl/work &&
  mount -t overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work overlay /root ||
  { echo "lab-init: FAILED to build the overlay root"; poweroff -f; }
cp /stage2.sh /root/.lab-stage2.sh || { echo "lab-init: FAILED to copy stage 2"; poweroff -f; }
for d in dev proc sys; do mount --move /$d /root/$d; done
echo "lab-init: root ready, starting $stage2"
exec switch_root /root /bin/bash /.lab-stage2.sh
