# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/guest-tools.sh - path helpers for commands running inside the lab guest.
# Source it from bash (run.sh exports its path as LAB_GUEST_TOOLS):
#     . "$LAB_GUEST_TOOLS"
#   lab_fail_path /dev/sdX        take a path offline (I/O to it fails; multipathd notices)
#   lab_restore_path /dev/sdX     bring it back (state running)
#   lab_del_path /dev/sdX         remove the SCSI device on the initiator side (the
#                                 target-side nexus, and any PR registration, stays)
#   lab_add_path LUN              add a new node-1 I_T nexus to LUN only, print its /dev/sdX
#                                 (loop: a new tcm_loop target; iscsi: a new session with
#                                 its own initiator name and an ACL mapping just LUN);
#                                 multipathd adds it to the LUN's map
#   lab_wait_in_map /dev/sdX [SECS]      wait until multipathd has it in a map (default 30)
#   lab_wait_path_state /dev/sdX STATE [SECS]  wait until multipathd shows STATE as the
#                                 path's dm state (active, failed) or checker state
#                                 (ready, faulty, ...); default 30 s
#   lab_sg_of /dev/sdX            print the matching /dev/sgN
# All return non-zero with a message on stderr when something fails.

_lab_cfg=/sys/kernel/config/target
_lab_dev() { # _lab_dev /dev/sdX|sdX -> sdX, checked
  local d=${1#/dev/}
  [ -n "$d" ] && [ -e "/sys/block/$d/device" ] || { echo "lab: no SCSI disk '$1'" >&2; return 1; }
  echo "$d"
}

lab_sg_of() {
  local d; d=$(_lab_dev "$1") || return 1
  echo "/dev/$(ls "/sys/block/$d/device/scsi_generic" | head -n 1)"
}

lab_fail_path() {
  local d; d=$(_lab_dev "$1") || return 1
  echo offline >"/sys/block/$d/device/state"
}

lab_restore_path() {
  local d; d=$(_lab_dev "$1") || return 1
  echo running >"/sys/block/$d/device/state"
}

lab_del_path() {
  local d; d=$(_lab_dev "$1") || return 1
  echo 1 >"/sys/block/$d/device/delete"
}

lab_wait_in_map() {
  local d end=$((SECONDS + ${2:-30})); d=$(_lab_dev "$1") || return 1
  until ls /sys/block/"$d"/holders 2>/dev/null | grep -q '^dm-'; do
    ((SECONDS < end)) || { echo "lab: $1 is not in a multipath map after ${2:-30}s" >&2; return 1; }
    sleep 0.2
  done
}

lab_wait_path_state() {
  local d s end=$((SECONDS + ${3:-30})); d=$(_lab_dev "$1") || return 1
  while :; do
    # dm state (active, failed) and checker state (ready, faulty, shaky, ghost, ...)
    s=$(multipathd show paths format '%d %t %T' 2>/dev/null | awk -v d="$d" '$1 == d {print $2, $3}')
    [[ " $s " == *" $2 "* ]] && return 0
    ((SECONDS < end)) || break
    sleep 0.5
  done
  echo "lab: $1 is '$s' (dm state, checker state), not '$2', after ${3:-30}s" >&2
  return 1
}

lab_add_path() {
  local lun=${1-} n before d tpg ini iface rtpi
  [[ $lun =~ ^[0-9]+$ ]] && ((lun < LAB_LUNS)) || { echo "lab_add_path: bad LUN '$lun'" >&2; return 1; }
  n=$(cat /run/lab/added 2>/dev/null || echo 0); echo $((n + 1)) >/run/lab/added
  before=" $(cd /sys/block && echo sd*) "
  case $LAB_TRANSPORT in
    loop)
      tpg=$_lab_cfg/loopback/naa.50014053$(printf %08x "$n")/tpgt_1
      # relative target port: the next one of this LUN's device, as Linux 6.1 numbers it;
      # newer kernels leave tcm_loop's at 0 unless set (see lab/guest/stage2.sh)
      rtpi=$(($(ls -d "$_lab_cfg"/loopback/*/tpgt_1/lun/lun_"$lun" 2>/dev/null | wc -l) + 1))
      mkdir -p "$tpg" && { [ ! -e "$tpg/rtpi" ] || echo "$rtpi" >"$tpg/rtpi"; } &&
        echo "naa.500140a3$(printf %08x "$n")" >"$tpg/nexus" &&
        mkdir "$tpg/lun/lun_$lun" &&
        ln -s "$_lab_cfg/core/fileio_$lun/lun$lun" "$tpg/lun/lun_$lun/lun" ||
        { echo "lab_add_path: tcm_loop setup failed" >&2; return 1; } ;;
    iscsi)
      ini=$LAB_ISCSI_TARGET; ini=${ini%:*}:added.p$n iface=added$n
      tpg=$_lab_cfg/iscsi/$LAB_ISCSI_TARGET/tpgt_1
      mkdir -p "$tpg/acls/$ini/lun_$lun" &&
        ln -s "$tpg/lun/lun_$lun" "$tpg/acls/$ini/lun_$lun/map" &&
        iscsiadm -m iface -I "$iface" -o new >/dev/null &&
        iscsiadm -m iface -I "$iface" -o update -n iface.initiatorname -v "$ini" >/dev/null &&
        iscsiadm -m node -T "$LAB_ISCSI_TARGET" -p 127.0.0.1:3260 -I "$iface" -o new >/dev/null &&
        timeout 60 iscsiadm -m node -T "$LAB_ISCSI_TARGET" -p 127.0.0.1:3260 -I "$iface" \
          --login >/dev/null ||
        { echo "lab_add_path: iSCSI setup failed" >&2; return 1; } ;;
    *) echo "lab_add_path: unknown transport '$LAB_TRANSPORT'" >&2; return 1 ;;
  esac
  local end=$((SECONDS + 60))
  while ((SECONDS < end)); do
    for d in $(cd /sys/block && echo sd*); do
      [[ $before == *" $d "* ]] && continue
      ls "/sys/block/$d/device/scsi_generic" >/dev/null 2>&1 || continue
      udevadm settle -t 10
      echo "/dev/$d"
      return 0
    done
    sleep 0.2
  done
  echo "lab_add_path: no new SCSI disk appeared" >&2
  return 1
}
