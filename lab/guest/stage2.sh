#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Stage 2 of the lab guest: PID 1 on the overlay root (the stack's root, read-only,
# under tmpfs: the host's own root for the debian12 stack, the Debian sid root of
# lab/stack/build-sid.sh for sid; nothing written here reaches the host except the
# shared directory, the run directory /run/lab and an optional state directory).
# Where the stacks differ (systemd-udevd's path, open-iscsi's database directory), it
# looks at what the root holds; LAB_STACK (from /run/lab/params) is exported to the
# command so tests can say which behaviour they expect on which stack.
#
# It builds the SCSI Persistent Reservation topology that lab/run.sh asked for in
# /run/lab/params, runs the command, writes its exit status to /run/lab/rc and
# powers the VM off. On a setup error it writes /run/lab/setup-error and powers off.
#
# Topology:
#   LIO fileio LUN i (unit serial labpr-lun<iii>) for i in 0..LUNS-1, each exported
#   through every I_T nexus below (so one nexus gives one /dev/sdX per LUN):
#   - node 2: NODE2 nexuses, created first; their /dev/sdX are blacklisted by name
#     in /etc/multipath.conf, so they stay out of every multipath map;
#   - node 1: PATHS nexuses, assembled by multipathd into one map per LUN.
#   transport loop : one tcm_loop target (own SCSI host, own target port) per
#                    nexus, SAS initiator port naa.500140a<node><index>
#   transport iscsi: one LIO iSCSI target on 127.0.0.1:3260, demo mode; one
#                    open-iscsi session per nexus, initiator name
#                    iqn.2003-01.org.linux-iscsi.labpr:node<node>.p<index>
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C

RUN=/run/lab
CFG=/sys/kernel/config/target
ISCSI_TARGET=iqn.2003-01.org.linux-iscsi.labpr:tgt
ISCSI_INI_PREFIX=iqn.2003-01.org.linux-iscsi.labpr

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() { echo "lab-guest[$(uptime_s)]: $*"; }
power_off() { sync; echo o >/proc/sysrq-trigger; sleep 60; }
die() {
  say "SETUP FAILED: $*"
  [ -d $RUN ] && echo "$*" >$RUN/setup-error
  power_off
}
# poll SECONDS CMD...: retry CMD every 0.2 s until it succeeds or SECONDS pass
poll() {
  local end=$(($(date +%s) + $1)); shift
  until "$@" 2>/dev/null; do
    (($(date +%s) < end)) || return 1
    sleep 0.2
  done
}

# --- file systems ---------------------------------------------------------------
mount -t tmpfs -o mode=0755 run /run && mkdir -p $RUN /dev/pts /dev/shm &&
  mount -t tmpfs -o mode=1777 tmp /tmp && mount -t devpts devpts /dev/pts &&
  mount -t tmpfs shm /dev/shm || die "basic mounts"
opt9p=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $opt9p labrun $RUN || die "cannot mount the run directory"
# shellcheck source=/dev/null
. $RUN/params
: "${LAB_STACK:=debian12}"
mkdir -p "$LAB_SHARE" && mount -t 9p -o $opt9p labshare "$LAB_SHARE" ||
  die "cannot mount the shared directory at $LAB_SHARE"
mkdir -p /etc/target
if [ "$LAB_STATE" = 1 ]; then
  mkdir -p /etc/target/pr && mount -t 9p -o $opt9p labstate /etc/target/pr ||
    die "cannot mount the state directory"
fi
# LIO rewrites /etc/target/pr/aptpl_<serial> on PR OUT commands even without APTPL;
# when the directory is missing the command takes effect but fails with NOT READY.
mkdir -p /etc/target/pr
modprobe configfs 2>/dev/null
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config ||
  die "configfs"
hostname labpr
ip link set lo up
say "mounts done"

# --- udev (multipathd only accepts paths known to the udev database) --------------
# Debian 12: /lib/systemd/systemd-udevd; sid: /usr/lib/systemd/systemd-udevd (a link to
# udevadm; /lib is a link to usr/lib there)
udevd=""
for u in /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd /sbin/udevd; do
  [ -x "$u" ] && { udevd=$u; break; }
done
[ -n "$udevd" ] || die "systemd-udevd not found in the $LAB_STACK root"
# No inotify watch on SCSI disks: with it, every close of a read-write descriptor makes
# udev probe the disk (a "change" event, then blkid's READs), and those READs consume
# whatever unit attention the nexus has pending at a moment no test controls. The tests
# compare unit attentions, so they must reach the command that was sent to see them.
mkdir -p /etc/udev/rules.d
echo 'ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="sd*", OPTIONS+="nowatch"' \
  >/etc/udev/rules.d/99-pr-lab-nowatch.rules
"$udevd" --daemon --resolve-names=never || die "systemd-udevd ($udevd)"

modprobe -a sd_mod sg scsi_dh_alua target_core_mod target_core_file dm_multipath \
  dm_round_robin || die "modprobe (core modules)"
case $LAB_TRANSPORT in
  loop) modprobe tcm_loop || die "modprobe tcm_loop" ;;
  iscsi) modprobe -a iscsi_target_mod iscsi_tcp || die "modprobe iSCSI modules" ;;
esac
say "udev and modules ready"
[ -n "${LAB_FAIL_SETUP:-}" ] && die "failing on purpose (LAB_FAIL_SETUP is set)"

# --- backstores -------------------------------------------------------------------
# Replay LIO's APTPL file (written by the kernel, read back by nobody but userspace):
# each PR_REG_START..PR_REG_END block goes, comma-joined, to pr/res_aptpl_metadata.
# Must happen before the backstore is exported.
replay_aptpl() { # replay_aptpl BACKSTORE_DIR SERIAL
  local f=/etc/target/pr/aptpl_$2 line blk="" n=0
  [ -s "$f" ] && head -n 1 "$f" | grep -q '^PR_REG_START:' || return 0
  while read -r line; do
    case $line in
      PR_REG_START:*) blk="" ;;
      PR_REG_END:*) echo "${blk#,}" >"$1/pr/res_aptpl_metadata" && n=$((n + 1)) ||
        say "warning: APTPL replay of '$blk' failed" ;;
      ?*) blk+=",$line" ;;
    esac
  done <"$f"
  say "replayed $n APTPL registration(s) for $2"
}
# Unit serial of LUN i. LIO derives the NAA WWID from the serial's hex digits only, so
# the number is zero-padded to keep every WWID distinct (lun1 vs lun10).
serial() { printf 'labpr-lun%03d' "$1"; }
for ((i = 0; i < LAB_LUNS; i++)); do
  bs=$CFG/core/fileio_$i/lun$i
  if [ "$LAB_STATE" = 1 ]; then img=/etc/target/pr/lun$i.img; else img=/var/tmp/lab-lun$i.img; fi
  [ -e "$img" ] || truncate -s "${LAB_LUN_MB}M" "$img" || die "LUN image $img"
  mkdir -p "$bs" &&
    echo "fd_dev_name=$img,fd_dev_size=$(stat -c %s "$img")" >"$bs/control" &&
    echo "$(serial "$i")" >"$bs/wwn/vpd_unit_serial" &&
    echo 1 >"$bs/enable" || die "LIO backstore $i"
  replay_aptpl "$bs" "$(serial "$i")"
done

# --- I_T nexuses ------------------------------------------------------------------
hexid() { printf '%08x' "$1"; }
# Relative target port identifiers. Linux 6.1 numbers each device's target ports 1, 2, ...
# in the order they export it. Newer kernels (sid's 7.x) give each target portal group an
# "rtpi" attribute, assigned when the group is enabled; tcm_loop groups are never enabled,
# so every tcm_loop port reports 0 (reserved in SPC; REGISTER AND MOVE cannot name it, and
# LIO mixes up registrations of different nexuses). The lab sets it as 6.1 numbers it.
loop_rtpi=0
set_rtpi() { # set_rtpi TPG N: when the kernel has the attribute
  [ -e "$1/rtpi" ] || return 0
  echo "$2" >"$1/rtpi" || return 1
}
loop_add_nexus() { # loop_add_nexus NODE INDEX LUN... : one tcm_loop target + nexus
  local tpg=$CFG/loopback/naa.5001405$1$(hexid "$2")/tpgt_1 l
  loop_rtpi=$((loop_rtpi + 1))
  mkdir -p "$tpg" && set_rtpi "$tpg" "$loop_rtpi" &&
    echo "naa.500140a$1$(hexid "$2")" >"$tpg/nexus" || return 1
  for l in "${@:3}"; do
    mkdir "$tpg/lun/lun_$l" && ln -s "$CFG/core/fileio_$l/lun$l" "$tpg/lun/lun_$l/lun" || return 1
  done
}
iscsi_target_up() {
  local tpg=$CFG/iscsi/$ISCSI_TARGET/tpgt_1 a i
  mkdir -p "$tpg/np/127.0.0.1:3260" || return 1
  for ((i = 0; i < LAB_LUNS; i++)); do
    mkdir "$tpg/lun/lun_$i" && ln -s "$CFG/core/fileio_$i/lun$i" "$tpg/lun/lun_$i/lun" || return 1
  done
  # demo mode: every initiator gets a dynamic ACL with all LUNs read-write
  for a in authentication=0 generate_node_acls=1 demo_mode_write_protect=0 cache_dynamic_acls=1; do
    echo "${a#*=}" >"$tpg/attrib/${a%=*}" || return 1
  done
  echo 1 >"$tpg/enable" || return 1
  echo "InitiatorName=$ISCSI_INI_PREFIX:default" >/etc/iscsi/initiatorname.iscsi
  rm -rf "$ISCSI_DB/nodes" "$ISCSI_DB/send_targets" "$ISCSI_DB/ifaces"
  mkdir -p "$ISCSI_DB/ifaces" /run/lock/iscsi
  iscsid || return 1
}
# open-iscsi's database (nodes, ifaces, send_targets): /etc/iscsi up to Debian 12,
# /var/lib/iscsi in sid (2.1.10 and later); the iscsiadm binary names the one it uses
ISCSI_DB=/etc/iscsi
grep -qa /var/lib/iscsi/ifaces "$(command -v iscsiadm)" 2>/dev/null && ISCSI_DB=/var/lib/iscsi
iscsi_iface() { # iscsi_iface NAME INITIATOR: an iface record (what "iscsiadm -m iface
  # -o new" + "-o update" write, without two slow iscsiadm runs per iface)
  printf '%s\n' "# BEGIN RECORD (lab)" "iface.iscsi_ifacename = $1" "iface.transport_name = tcp" \
    "iface.initiatorname = $2" "# END RECORD" >"$ISCSI_DB/ifaces/$1"
}
iscsi_login() { # iscsi_login IFACE...
  local f
  for f in "$@"; do
    timeout 60 iscsiadm -m node -T $ISCSI_TARGET -p 127.0.0.1:3260 -I "$f" --login >/dev/null ||
      return 1
  done
}

# The SCSI disks that exist now, as "sdX" words
disks() { (cd /sys/block && ls -d sd* 2>/dev/null) | tr '\n' ' '; }
# new_disks BEFORE...: the disks that are not in BEFORE
new_disks() { local d; for d in $(disks); do [[ " $* " == *" $d "* ]] || echo "$d"; done; }
# lun_of sdX: the LUN index from the unit serial (VPD page 0x80), else the SCSI LUN
lun_of() {
  local s
  s=$(grep -ao 'labpr-lun[0-9]*' "/sys/block/$1/device/vpd_pg80" 2>/dev/null | head -n 1)
  if [ -n "$s" ]; then echo $((10#${s#labpr-lun})); else
    s=$(basename "$(readlink "/sys/block/$1/device")"); echo "${s##*:}"; fi
}
host_of() { local s; s=$(basename "$(readlink "/sys/block/$1/device")"); echo "${s%%:*}"; }
sg_of() { ls "/sys/block/$1/device/scsi_generic" 2>/dev/null | head -n 1; }
count_ready() { # count_ready N BEFORE...: N new disks, each with an sg node
  local want=$1 d n=0; shift
  for d in $(new_disks "$@"); do [ -n "$(sg_of "$d")" ] && n=$((n + 1)); done
  ((n >= want))
}
# record NODE BEFORE...: append "node lun host sdX sgN" lines for the new disks
record() {
  local node=$1 d; shift
  for d in $(new_disks "$@"); do
    echo "$node $(lun_of "$d") $(host_of "$d") $d $(sg_of "$d")"
  done >>$RUN/devices
}
add_node() { # add_node NODE COUNT
  local node=$1 n=$2 p before inis="" ifs=() luns
  before=$(disks)
  luns=$(seq 0 $((LAB_LUNS - 1)))
  for ((p = 0; p < n; p++)); do
    case $LAB_TRANSPORT in
      loop)
        # shellcheck disable=SC2086
        loop_add_nexus "$node" "$p" $luns || die "tcm_loop nexus node$node p$p"
        inis+="naa.500140a$node$(hexid $p) " ;;
      iscsi) ifs+=("n${node}p$p"); inis+="$ISCSI_INI_PREFIX:node$node.p$p " ;;
    esac
  done
  if [ "$LAB_TRANSPORT" = iscsi ] && ((n > 0)); then
    iscsi_login "${ifs[@]}" || die "iSCSI login of node $node"
    say "iSCSI node $node logged in"
  fi
  # shellcheck disable=SC2086
  poll $((90 + n * LAB_LUNS)) count_ready $((n * LAB_LUNS)) $before ||
    die "node $node: $(new_disks $before | wc -w) of $((n * LAB_LUNS)) SCSI disks appeared"
  # shellcheck disable=SC2086
  record "$node" $before
  eval "INITIATORS_$node='${inis% }'"
}

: >$RUN/devices
if [ "$LAB_TRANSPORT" = iscsi ]; then
  iscsi_target_up || die "LIO iSCSI target"
  allifs=()
  for ((p = 0; p < LAB_NODE2; p++)); do
    iscsi_iface "n2p$p" "$ISCSI_INI_PREFIX:node2.p$p" || die "iface n2p$p"; allifs+=(-I "n2p$p")
  done
  for ((p = 0; p < LAB_NPATHS; p++)); do
    iscsi_iface "n1p$p" "$ISCSI_INI_PREFIX:node1.p$p" || die "iface n1p$p"; allifs+=(-I "n1p$p")
  done
  say "iSCSI target and ifaces ready"
  timeout 60 iscsiadm -m discovery -t st -p 127.0.0.1:3260 "${allifs[@]}" >/dev/null ||
    die "iSCSI discovery"
  timeout 30 iscsiadm -m node -o update -n 'node.conn[0].timeo.login_timeout' -v 15 >/dev/null
fi
add_node 2 "$LAB_NODE2"
udevadm settle -t $((30 + LAB_LUNS * (LAB_NPATHS + LAB_NODE2)))
say "node 2 nexuses up"
node2_devs=$(awk '$1 == 2 {print $4}' $RUN/devices | tr '\n' ' ')

# --- dm-multipath over node 1 only --------------------------------------------------
# (/run/multipath: systemd-tmpfiles makes it on a systemd boot; multipathd 0.15 keeps
# its failed-WWID records there)
rm -rf /etc/multipath /etc/multipath.conf && mkdir -p /etc/multipath/conf.d /run/multipath
{
  echo "# written by lab/guest/stage2.sh"
  echo "defaults {"
  echo "    user_friendly_names yes"
  echo "    find_multipaths no"
  echo "    reservation_key file"
  echo "}"
  if [ -n "$node2_devs" ]; then
    echo "# the second node's nexuses: never part of a map"
    echo "blacklist {"
    echo "    devnode \"^($(echo $node2_devs | tr ' ' '|'))\$\""
    echo "}"
  fi
} >/etc/multipath.conf
add_node 1 "$LAB_NPATHS"
udevadm settle -t $((30 + LAB_LUNS * (LAB_NPATHS + LAB_NODE2)))
say "LIO $LAB_TRANSPORT nexuses up: node 1: $(awk '$1 == 1 {printf "%s ", $4}' $RUN/devices)node 2: ${node2_devs:-none}"

say "starting multipathd"
multipathd || die "multipathd did not start"
# dm maps of multipath: "dm-N"
mpath_dms() {
  local d
  for d in /sys/block/dm-*; do
    [ -e "$d/dm/uuid" ] && [[ $(cat "$d/dm/uuid") == mpath-* ]] && basename "$d"
  done
}
maps_complete() {
  local dm n=0
  for dm in $(mpath_dms); do
    (($(ls "/sys/block/$dm/slaves" | wc -l) == LAB_NPATHS)) && n=$((n + 1))
  done
  ((n == LAB_LUNS))
}
# scale: under TCG multipathd takes about a second per path device to assemble the maps
scale_secs=$((60 + 2 * LAB_LUNS * LAB_NPATHS))
poll $scale_secs maps_complete || { multipath -ll; die "multipath maps did not assemble in ${scale_secs}s"; }
say "multipath maps assembled"
udevadm settle -t $((30 + LAB_LUNS * (LAB_NPATHS + LAB_NODE2)))
for dm in $(mpath_dms); do
  for s in $(ls "/sys/block/$dm/slaves"); do
    [[ " $node2_devs " == *" $s "* ]] && die "node-2 path $s is in map $dm"
  done
done

# --- NVMe over TCP (--nvme N): the kernel target, four ports, two hosts -----------------
# Namespace i (i = 0..N-1) is nsid 1 of its own nvmet subsystem (NVME_SUBNQN_PREFIX<i>),
# file-backed (tmpfs), reservations enabled (the namespace attribute resv_enable, Linux
# 6.13+, written before the namespace is enabled). Two allowed hosts, node 1 and node 2,
# each its own host NQN and Host ID (the NQN's uuid is the Host ID, as the kernel wants).
# Node 1 connects through TCP ports 4420 and 4421 of 127.0.0.1, node 2 through 4422 and
# 4423, whose ANA group is non-optimized.
# What the host driver does with that (Linux 7.2, measured): it keys its subsystems on the
# subsystem NQN only, so the four controllers of a subsystem (both hosts) share one
# nvme-subsystem and one namespace head /dev/nvmeSn1 with four paths; there are no
# per-path block or generic devices. Hence:
#   - node 1's device is that head: its I/O and reservation commands go through an
#     optimized path, i.e. node 1's controllers while one of them is live (node 2's
#     ports are non-optimized: used only when no optimized path is left);
#   - node 2's handles are its two controllers' character devices /dev/nvmeX: an I/O
#     command there (NVME_IOCTL_IO_CMD, nvme-cli on /dev/nvmeX -n 1) goes through that
#     controller, hence node 2's Host ID, and the kernel accepts it only when the
#     controller has one namespace: the reason for one subsystem per namespace.
NVME_SUBNQN_PREFIX=nqn.2014-08.org.linux-iscsi.labpr:nvme
NVME_PORTS_1="4420 4421" NVME_PORTS_2="4422 4423"
nvme_hostid() { printf '6c616270-7200-4000-8000-%012d' "$1"; } # "labp" "r", node number
nvme_hostnqn() { echo "nqn.2014-08.org.nvmexpress:uuid:$(nvme_hostid "$1")"; }
NVMET=/sys/kernel/config/nvmet
nvme_target_up() {
  local sub ns i img port node pid=0 ports
  for node in 1 2; do mkdir -p "$NVMET/hosts/$(nvme_hostnqn $node)" || return 1; done
  mkdir -p /run/lab-nvme || return 1
  for ((i = 0; i < LAB_NVME; i++)); do
    sub=$NVMET/subsystems/$NVME_SUBNQN_PREFIX$i
    mkdir -p "$sub" && echo 0 >"$sub/attr_allow_any_host" || return 1
    for node in 1 2; do
      ln -s "$NVMET/hosts/$(nvme_hostnqn $node)" "$sub/allowed_hosts/" || return 1
    done
    # on tmpfs (/run), not on the overlay root: nvmet takes the file's block size from
    # its inode, and an overlayfs inode gives 0 (the host then skips the namespace:
    # "invalid LBA data size 0")
    ns=$sub/namespaces/1 img=/run/lab-nvme/ns$i.img
    truncate -s "${LAB_LUN_MB}M" "$img" && mkdir -p "$ns" && echo "$img" >"$ns/device_path" ||
      return 1
    [ -e "$ns/resv_enable" ] || { say "nvmet has no resv_enable (reservations)"; return 1; }
    echo 1 >"$ns/resv_enable" && echo 1 >"$ns/enable" || return 1
  done
  for node in 1 2; do
    ports=NVME_PORTS_$node
    for port in ${!ports}; do
      pid=$((pid + 1))
      mkdir -p "$NVMET/ports/$pid" || return 1
      echo tcp >"$NVMET/ports/$pid/addr_trtype" && echo ipv4 >"$NVMET/ports/$pid/addr_adrfam" &&
        echo 127.0.0.1 >"$NVMET/ports/$pid/addr_traddr" &&
        echo "$port" >"$NVMET/ports/$pid/addr_trsvcid" || return 1
      if [ $node = 2 ]; then
        echo non-optimized >"$NVMET/ports/$pid/ana_groups/1/ana_state" || return 1
      fi
      for ((i = 0; i < LAB_NVME; i++)); do
        ln -s "$NVMET/subsystems/$NVME_SUBNQN_PREFIX$i" "$NVMET/ports/$pid/subsystems/" || return 1
      done
    done
  done
}
nvme_connect_all() {
  local node port i ports
  for node in 1 2; do
    ports=NVME_PORTS_$node
    for port in ${!ports}; do
      for ((i = 0; i < LAB_NVME; i++)); do
        timeout 60 nvme connect -t tcp -a 127.0.0.1 -s "$port" -n "$NVME_SUBNQN_PREFIX$i" \
          --hostnqn "$(nvme_hostnqn $node)" --hostid "$(nvme_hostid $node)" >/dev/null ||
          { say "nvme connect node $node port $port subsystem $i failed"; return 1; }
      done
    done
  done
}
# nvme_ctrls NODE I: the controllers (nvmeX) of node NODE to namespace I's subsystem, in
# port order
nvme_ctrls() {
  local port d nqn host addr want ports=NVME_PORTS_$1
  want=$(nvme_hostnqn "$1")
  for port in ${!ports}; do
    for d in /sys/class/nvme/nvme*; do
      # (read, not cat: under TCG every fork counts, and this runs in loops)
      read -r nqn <"$d/subsysnqn" && read -r host <"$d/hostnqn" && read -r addr <"$d/address" ||
        continue
      [ "$nqn" = "$NVME_SUBNQN_PREFIX$2" ] && [ "$host" = "$want" ] &&
        [[ $addr == *"trsvcid=$port,"* ]] && echo "${d##*/}"
    done 2>/dev/null
  done
}
# nvme_path CTRL: the path (nvmeScXn1) of nsid 1 through CTRL
nvme_path() {
  local p n
  for p in /sys/class/nvme/"$1"/nvme*c*n*; do
    read -r n 2>/dev/null <"$p/nsid" && [ "$n" = 1 ] && { echo "${p##*/}"; return 0; }
  done
  return 1
}
# nvme_head PATH: the namespace head (block device nvmeSnH) that PATH belongs to
nvme_head() {
  local h
  for h in /sys/block/nvme*n*/multipath/"$1"; do
    [ -e "$h" ] && { h=${h%/multipath/*}; echo "${h##*/}"; return 0; }
  done
  return 1
}
nvme_ready() {
  local node c i cs st
  for ((i = 0; i < LAB_NVME; i++)); do
    for node in 1 2; do
      cs=$(nvme_ctrls $node $i)
      (($(wc -w <<<"$cs") == 2)) || return 1
      for c in $cs; do
        read -r st <"/sys/class/nvme/$c/state" && [ "$st" = live ] && [ -c "/dev/$c" ] || return 1
        [ -b "/dev/$(nvme_head "$(nvme_path "$c")")" ] || return 1
      done
    done
  done
}
if ((${LAB_NVME:-0} > 0)); then
  t_nvme=$(uptime_s)
  modprobe -a nvmet nvmet_tcp nvme_tcp || die "modprobe nvmet nvmet_tcp nvme_tcp"
  [ "$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null)" = Y ] ||
    die "nvme_core has no native multipath (multipath=$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null))"
  nvme_target_up || die "nvmet target ($LAB_NVME subsystem(s) $NVME_SUBNQN_PREFIX<i>, ports $NVME_PORTS_1 $NVME_PORTS_2)"
  nvme_connect_all || die "nvme connect"
  poll $((60 + 10 * LAB_NVME)) nvme_ready ||
    { nvme list-subsys; ls -l /dev/nvme* /dev/ng*; ls /sys/block /sys/class/nvme/*/
      dmesg | grep -i nvme | tail -n 30
      die "NVMe: the controllers and namespaces of both nodes did not appear"; }
  udevadm settle -t 30
  say "NVMe over TCP ready in $(awk -v a="$t_nvme" -v b="$(uptime_s)" 'BEGIN {printf "%.1f", b - a}') s"
fi

# --- the topology, for the command and guest-tools.sh ---------------------------
topo=$RUN/topology.sh
q() { printf "%s='%s'\n" "$1" "$2"; }
{
  echo "# lab topology (written by lab/guest/stage2.sh)"
  q LAB_LUNS "$LAB_LUNS"; q LAB_NPATHS "$LAB_NPATHS"; q LAB_NODE2_NPATHS "$LAB_NODE2"
  q LAB_TRANSPORT "$LAB_TRANSPORT"; q LAB_STACK "$LAB_STACK"
  q LAB_INITIATORS "$INITIATORS_1"; q LAB_NODE2_INITIATORS "$INITIATORS_2"
  [ "$LAB_TRANSPORT" = iscsi ] && q LAB_ISCSI_TARGET "$ISCSI_TARGET"
  for ((i = 0; i < LAB_LUNS; i++)); do
    map="" wwid=""
    for dm in $(mpath_dms); do
      s=$(ls "/sys/block/$dm/slaves" | head -n 1)
      [ "$(lun_of "$s")" = "$i" ] || continue
      map=/dev/mapper/$(cat "/sys/block/$dm/dm/name"); wwid=$(cat "/sys/block/$dm/dm/uuid")
    done
    [ -n "$map" ] || die "no multipath map for LUN $i"
    q "LAB_MPATH_$i" "$map"; q "LAB_WWID_$i" "${wwid#mpath-}"
    for node in 1 2; do
      pre=LAB_; [ $node = 2 ] && pre=LAB_NODE2_
      sds=$(awk -v n=$node -v l="$i" '$1 == n && $2 == l' $RUN/devices | sort -k3,3n |
        awk '{printf "/dev/%s ", $4}')
      sgs=$(awk -v n=$node -v l="$i" '$1 == n && $2 == l' $RUN/devices | sort -k3,3n |
        awk '{printf "/dev/%s ", $5}')
      q "${pre}PATHS_$i" "${sds% }"; q "${pre}SG_$i" "${sgs% }"
    done
  done
  q LAB_NVME_NS "${LAB_NVME:-0}"
  if ((${LAB_NVME:-0} > 0)); then
    q LAB_NVME_TRADDR 127.0.0.1; q LAB_NVME_PORTS_1 "$NVME_PORTS_1"; q LAB_NVME_PORTS_2 "$NVME_PORTS_2"
    for node in 1 2; do
      q "LAB_NVME_HOSTNQN_$node" "$(nvme_hostnqn $node)"; q "LAB_NVME_HOSTID_$node" "$(nvme_hostid $node)"
    done
    for ((i = 0; i < LAB_NVME; i++)); do
      q "LAB_NVME_SUBNQN_$i" "$NVME_SUBNQN_PREFIX$i"
      c1=$(nvme_ctrls 1 $i | head -n 1)
      head=$(nvme_head "$(nvme_path "$c1")")
      q "LAB_NVME_DEV_$i" "/dev/$head"; q "LAB_NVME_NG_$i" "/dev/ng${head#nvme}"
      for node in 1 2; do
        pre=LAB_NVME_; [ $node = 2 ] && pre=LAB_NVME_NODE2_
        cs=$(nvme_ctrls $node $i | sed 's|^|/dev/|' | tr '\n' ' ')
        ps=$(for c in $(nvme_ctrls $node $i); do nvme_path "$c"; done | tr '\n' ' ')
        q "${pre}CTRLS_$i" "${cs% }"; q "${pre}PATHS_$i" "${ps% }"
      done
    done
  fi
  q LAB_TOPOLOGY "$topo"
} >$topo
uptime_s >$RUN/ready
say "ready after $(cat $RUN/ready) s:"
grep -v '^#' $topo | sed 's/^/  /'

# --- the command --------------------------------------------------------------------
cwd=$LAB_SHARE
[ -d "$LAB_CWD" ] && cwd=$LAB_CWD
cd "$cwd" || die "cd $cwd"
export PATH="$LAB_HOST_PATH:$PATH" LAB_GUEST_TOOLS="$LAB_DIR/guest-tools.sh"
set -a
# shellcheck source=/dev/null
. $topo
# shellcheck source=/dev/null
. $RUN/env
set +a
bash -c "$(cat $RUN/cmd)" </dev/null >$RUN/stdout 2>$RUN/stderr
echo $? >$RUN/rc
say "command exited $(cat $RUN/rc)"
power_off
