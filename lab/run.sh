#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/run.sh - boot a throw-away Linux guest with real SCSI Persistent Reservations
# (LIO target + dm-multipath), run one command in it as root, return its exit status.
#
# Usage: lab/run.sh [options] -- CMD [ARG...]
#   -l, --luns N          LUNs (default 1)
#   -p, --paths N         node-1 I_T nexuses (paths) per LUN, in the multipath map (default 2)
#   -n, --node2-paths N   extra I_T nexuses per LUN for a second cluster node; never part
#                         of a multipath map (default 0)
#   -T, --transport T     loop  : tcm_loop, one target + nexus per path, SAS TransportIDs
#                                 (default; PREEMPT AND ABORT deadlocks LIO here)
#                         iscsi : LIO iSCSI target on 127.0.0.1:3260, one open-iscsi session
#                                 per path, each its own initiator name, iSCSI TransportIDs
#   -t, --timeout SECS    hard limit for the whole run, boot included (default 600)
#   -C, --dir DIR         directory shared read-write at the same path (default: the
#                         repository root, the parent of lab/); CMD runs in the current
#                         directory if it lies inside DIR, else in DIR
#   -e, --env NAME=VALUE  export this to CMD too (repeatable)
#   -s, --state DIR       persistent LIO state: DIR becomes /etc/target/pr (APTPL files,
#                         replayed at boot) and holds the LUN images, so data and APTPL
#                         registrations survive to the next run with the same DIR
#       --lun-size MIB    size of each LUN (default 64)
#       --nvme N          also N NVMe namespaces (default 0: off): the kernel NVMe target
#                         (nvmet) over TCP on 127.0.0.1:4420 and :4421, reservations
#                         enabled, connected as two hosts (node 1, node 2), each through
#                         both ports (native NVMe multipath); sid stack only (Debian 12's
#                         6.1 nvmet has no reservations: exit 125)
#       --topology FILE   copy the guest's topology file to FILE on the host
#   -v, --verbose         stream the guest console to stderr too
#   -S, --stack NAME      the guest's software (default: LAB_STACK, else debian12):
#                         debian12 : this machine's own root (Debian 12) and its kernel
#                         sid      : the Debian sid root of lab/stack/build-sid.sh and
#                                    the kernel in it (build it first; exit 125 if missing)
#       --manifest FILE   copy the stack's package manifest ("package version" lines) to FILE
#   -k, --keep            keep the run directory (console log, outputs) for debugging
#   -h, --help
# Environment: LAB_STACK (as --stack), LAB_ACCEL=auto|kvm|tcg, LAB_KVM_PROBE_SECS (30),
#   LAB_MEM (MiB, 2048), LAB_CPUS (2), LAB_KERNEL=/boot/vmlinuz-VERSION (default: the
#   newest with modules; for sid a path inside the sid root), LAB_CACHE (where the sid
#   root is, see lab/stack/build-sid.sh), LAB_FAIL_SETUP=1 (make the guest setup fail on
#   purpose, to test the 125 path).
#
# CMD runs with stdin /dev/null; its stdout/stderr stream here live. It sees LAB_STACK,
# LAB_LUNS, LAB_NPATHS, LAB_NODE2_NPATHS, LAB_TRANSPORT, LAB_TOPOLOGY (the file with all of
# these), and per LUN i: LAB_MPATH_i, LAB_WWID_i, LAB_PATHS_i, LAB_SG_i,
# LAB_NODE2_PATHS_i, LAB_NODE2_SG_i; LAB_INITIATORS, LAB_NODE2_INITIATORS; and
# LAB_GUEST_TOOLS (source it for lab_add_path, lab_del_path, lab_fail_path, ...).
# With --nvme N also LAB_NVME_NS and per namespace i: LAB_NVME_SUBNQN_i, LAB_NVME_DEV_i,
# LAB_NVME_NG_i, LAB_NVME_CTRLS_i, LAB_NVME_PATHS_i, LAB_NVME_NODE2_CTRLS_i,
# LAB_NVME_NODE2_PATHS_i; LAB_NVME_HOSTNQN_1/2, LAB_NVME_HOSTID_1/2, LAB_NVME_PORTS_1/2
# (see lab/README.md, "NVMe over TCP").
#
# Exit status: CMD's; 124 when the time limit hit; 125 when the lab itself failed
# (the reason and the guest console tail go to stderr); 2 on bad usage.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '/^# Usage:/,/^#   -h, --help/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
fail() { echo "lab/run.sh: $*" >&2; exit 125; }
bad() { echo "lab/run.sh: $*" >&2; exit 2; }

luns=1 paths=2 node2=0 transport=loop tmo=600 share="" state="" lun_mb=64 topo_out=""
verbose=0 keep=0 envs=() stack=${LAB_STACK:-debian12} manifest_out= nvme=0
while (($#)); do
  case $1 in
    -l|--luns) luns=${2-}; shift 2 ;;
    -p|--paths) paths=${2-}; shift 2 ;;
    -n|--node2-paths) node2=${2-}; shift 2 ;;
    -T|--transport) transport=${2-}; shift 2 ;;
    -t|--timeout) tmo=${2-}; shift 2 ;;
    -C|--dir) share=${2-}; shift 2 ;;
    -e|--env) envs+=("${2-}"); shift 2 ;;
    -s|--state) state=${2-}; shift 2 ;;
    --lun-size) lun_mb=${2-}; shift 2 ;;
    --nvme) nvme=${2-}; shift 2 ;;
    --topology) topo_out=${2-}; shift 2 ;;
    -S|--stack) stack=${2-}; shift 2 ;;
    --manifest) manifest_out=${2-}; shift 2 ;;
    -v|--verbose) verbose=1; shift ;;
    -k|--keep) keep=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) bad "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(($#)) || bad "no command given (usage: lab/run.sh [options] -- CMD [ARG...])"
num() { [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3)) || bad "$1 must be an integer >= $3 (got '$2')"; }
num --luns "$luns" 1; num --paths "$paths" 1; num --node2-paths "$node2" 0
num --timeout "$tmo" 1; num --lun-size "$lun_mb" 1; num --nvme "$nvme" 0
[[ $transport == loop || $transport == iscsi ]] || bad "--transport must be loop or iscsi"
[[ $stack == debian12 || $stack == sid ]] || bad "--stack must be debian12 or sid (got '$stack')"
share=$(cd "${share:-$LAB_DIR/..}" 2>/dev/null && pwd) || bad "bad --dir"
if [ -n "$state" ]; then mkdir -p "$state" && state=$(cd "$state" && pwd) || bad "bad --state"; fi
for e in ${envs[@]+"${envs[@]}"}; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || bad "--env wants NAME=VALUE (got '$e')"
done

# --- guest stack: root file system, kernel, manifest --------------------------------
# debian12: this machine's root (/), shared read-only, and its newest kernel with modules.
# sid: the root that lab/stack/build-sid.sh built (never built here: that takes minutes).
if [ "$stack" = sid ]; then
  stackdir=$("$LAB_DIR/stack/build-sid.sh" --path) ||
    fail "the Debian sid root is missing: build it (as root, about 2 minutes) with lab/stack/build-sid.sh"
  groot=$stackdir/root
  manifest=$stackdir/manifest.txt
else
  groot=/ stackdir="" manifest=""
fi
# in_root PATH: PATH inside the guest root, with its symbolic links resolved inside that
# root (sid's /lib is a link to usr/lib; an absolute link must not lead to the host's)
in_root() {
  local rest=${1#/} out="" comp t n=0
  while [ -n "$rest" ]; do
    comp=${rest%%/*}; [ "$comp" = "$rest" ] && rest="" || rest=${rest#*/}
    case $comp in
      ""|.) continue ;;
      ..) out=${out%/*}; continue ;;
    esac
    if [ -L "${groot%/}$out/$comp" ]; then
      ((++n < 40)) || return 1
      t=$(readlink "${groot%/}$out/$comp")
      case $t in /*) out="" rest=${t#/}${rest:+/$rest} ;; *) rest=$t${rest:+/$rest} ;; esac
    else
      out=$out/$comp
    fi
  done
  echo "${groot%/}${out:-/}"
}
kernel=${LAB_KERNEL:-}
if [ -z "$kernel" ]; then
  while read -r v; do # versions in ascending order: the newest with modules wins
    [ -n "$v" ] && [ -d "$(in_root "/lib/modules/$v/kernel")" ] && kernel=/boot/vmlinuz-$v
  done < <(for k in "$(in_root /boot)"/vmlinuz-*; do
             [ -e "$k" ] && echo "${k##*/vmlinuz-}"; done | sort -V)
fi
[ -n "$kernel" ] && [ -r "$(in_root "$kernel")" ] ||
  fail "no readable guest kernel with modules in $(in_root /boot) (stack $stack;" \
    "$([ "$stack" = sid ] && echo "rebuild it with lab/stack/build-sid.sh --force" ||
      echo "run lab/setup.sh as root"))"
kver=${kernel##*/vmlinuz-}
kernel=$(in_root "$kernel")
# --nvme needs NVMe reservations in the kernel target (nvmet's namespace attribute
# resv_enable, Linux 6.13+): the sid stack's 7.x has it, Debian 12's 6.1 does not
if ((nvme > 0)); then
  nvmet_ko=$(ls "$(in_root "/lib/modules/$kver")"/kernel/drivers/nvme/target/nvmet.ko* 2>/dev/null | head -n 1)
  [ -n "$nvmet_ko" ] || fail "--nvme: the $stack kernel $kver has no nvmet module"
  case $nvmet_ko in
    *.xz) unpack=(xz -dc) ;; *.zst) unpack=(zstd -qdc) ;; *.gz) unpack=(gzip -dc) ;; *) unpack=(cat) ;;
  esac
  # (grep -c reads everything: no SIGPIPE for the unpacker under pipefail)
  hits=$("${unpack[@]}" "$nvmet_ko" 2>/dev/null | grep -ac resv_enable) || hits=0
  ((hits > 0)) ||
    fail "--nvme: the $stack kernel $kver's NVMe target (nvmet) has no reservations" \
      "(namespace attribute resv_enable, Linux 6.13+; Debian 12's 6.1 lacks it): use --stack sid"
fi
for tool in qemu-system-x86_64 busybox cpio modprobe timeout; do
  command -v $tool >/dev/null || fail "$tool is missing (run lab/setup.sh as root)"
done

# --- one lab VM at a time on this machine (2 CPUs; a second TCG guest starves both) ----
# LAB_LOCK names the lock file (default /run/lock/pr-sdk-lab.lock); waits up to LAB_LOCK_WAIT s.
lockfile=${LAB_LOCK:-/run/lock/pr-sdk-lab.lock}
if command -v flock >/dev/null; then
  exec {lockfd}>>"$lockfile" || fail "cannot open the lab lock $lockfile"
  if ! flock -n "$lockfd"; then
    echo "lab: another lab VM is running; waiting for $lockfile ..." >&2
    flock -w "${LAB_LOCK_WAIT:-7200}" "$lockfd" || fail "gave up waiting for the lab lock $lockfile"
  fi
fi

# --- run directory: shared with the guest as /run/lab --------------------------------
run=$(mktemp -d "${TMPDIR:-/tmp}/labpr.XXXXXX")
qpid="" tails=()
finish() {
  set +e
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
  for t in ${tails[@]+"${tails[@]}"}; do kill "$t" 2>/dev/null; done
  if ((keep)); then echo "lab: run directory kept: $run" >&2; else rm -rf "$run"; fi
}
trap finish EXIT
trap 'echo "lab: interrupted" >&2; exit 130' INT TERM HUP

# --- the stack's manifest ("package version" lines), printed by every run -------------
if [ -z "$manifest" ]; then # debian12: this machine's packages
  manifest=$run/manifest.txt
  dpkg-query -W -f='${Package} ${Version}\n' >"$manifest" 2>/dev/null ||
    fail "dpkg-query cannot list this machine's packages"
fi
[ -s "$manifest" ] || fail "the manifest $manifest of stack $stack is missing or empty"
pkgver() { awk -v p="$1" '$1 == p {print $2; f = 1} END {if (!f) print "none"}' "$2"; }
fa=fence-agents
[ "$(pkgver "$fa" "$manifest")" = none ] && fa=fence-agents-scsi
echo "lab: stack $stack: root $groot, kernel $kver (linux-image-$kver $(pkgver "linux-image-$kver" "$manifest"))" >&2
mname=$manifest
[ "$stack" = debian12 ] && mname="(this machine's dpkg database)"
echo "lab: stack $stack: manifest $mname (sha256 $(sha256sum "$manifest" | cut -c1-16)," \
  "$(wc -l <"$manifest") packages): multipath-tools $(pkgver multipath-tools "$manifest")," \
  "sg3-utils $(pkgver sg3-utils "$manifest"), open-iscsi $(pkgver open-iscsi "$manifest")," \
  "$fa $(pkgver $fa "$manifest"), python3 $(pkgver python3 "$manifest");" \
  "qemu (host) $(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || echo unknown)" >&2
if [ -n "$manifest_out" ]; then
  cp "$manifest" "$manifest_out" || fail "cannot copy the manifest to $manifest_out"
fi

cwd=$PWD
case $cwd/ in "$share"/*) ;; *) cwd=$share ;; esac
{
  printf 'LAB_LUNS=%q\nLAB_NPATHS=%q\nLAB_NODE2=%q\nLAB_TRANSPORT=%q\n' \
    "$luns" "$paths" "$node2" "$transport"
  printf 'LAB_SHARE=%q\nLAB_CWD=%q\nLAB_DIR=%q\nLAB_HOST_PATH=%q\n' \
    "$share" "$cwd" "$LAB_DIR" "$PATH"
  printf 'LAB_STATE=%q\nLAB_LUN_MB=%q\n' "$([ -n "$state" ] && echo 1 || echo 0)" "$lun_mb"
  printf 'LAB_FAIL_SETUP=%q\n' "${LAB_FAIL_SETUP:-}"
  printf 'LAB_STACK=%q\nLAB_NVME=%q\n' "$stack" "$nvme"
} >"$run/params"
for e in ${envs[@]+"${envs[@]}"}; do printf '%s=%q\n' "${e%%=*}" "${e#*=}"; done >"$run/env"
printf '%q ' "$@" >"$run/cmd"
: >"$run/stdout"; : >"$run/stderr"; : >"$run/console.log"

# --- initramfs: static busybox, stage 1, virtio/9p/overlay modules ------------------
ird=$run/initramfs
mkdir -p "$ird/bin" "$ird/modules"
cp "$(command -v busybox)" "$ird/bin/busybox"
cp "$LAB_DIR/guest/initramfs-init.sh" "$ird/init"
cp "$LAB_DIR/guest/stage2.sh" "$ird/stage2.sh"
chmod 0755 "$ird/init" "$ird/bin/busybox" "$ird/stage2.sh"
moddirs=()
if [ "$groot" != / ]; then
  # modprobe -d DIR reads DIR/lib/modules/KVER: give it a view of the root whose
  # lib/modules is the resolved one (sid's /lib is a link to usr/lib)
  mkdir -p "$run/modroot/lib" && ln -s "$(in_root /lib/modules)" "$run/modroot/lib/modules"
  moddirs=(-d "$run/modroot")
fi
mods=$(modprobe ${moddirs[@]+"${moddirs[@]}"} -S "$kver" --show-depends -a virtio_pci 9pnet_virtio 9p overlay 2>&1 |
  awk '$1 == "insmod" && !seen[$2]++ {print $2}') || true
[ -n "$mods" ] || fail "modprobe cannot resolve the 9p/overlay modules of $kver"
n=0
for m in $mods; do
  n=$((n + 1)); out=$ird/modules/$(printf %03d $n).ko
  case $m in
    *.ko.xz) xz -dc "$m" >"$out" ;;
    *.ko.zst) zstd -qdc "$m" >"$out" ;;
    *.ko.gz) gzip -dc "$m" >"$out" ;;
    *) cp "$m" "$out" ;;
  esac || fail "cannot unpack module $m"
done
(cd "$ird" && find . | cpio -o -H newc --quiet) >"$run/initrd.cpio" || fail "cpio failed"

# --- accelerator --------------------------------------------------------------------
accel=${LAB_ACCEL:-auto} why=""
case $accel in
  kvm) why="LAB_ACCEL=kvm" ;;
  tcg) why="LAB_ACCEL=tcg" ;;
  auto)
    if [ ! -e /dev/kvm ]; then accel=tcg why="/dev/kvm does not exist"
    elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then accel=tcg why="/dev/kvm is not accessible"
    elif [ -d /sys/module/kvm_pvm ]; then
      # PVM (kvm_pvm) only runs PVM-enabled guest kernels, not a stock one
      accel=tcg why="/dev/kvm is PVM (kvm_pvm module), which cannot run a stock kernel"
    else accel=kvm why="/dev/kvm is usable (falls back to TCG if the vCPU does not boot)"; fi ;;
  *) bad "LAB_ACCEL must be auto, kvm or tcg" ;;
esac

start_qemu() { # start_qemu kvm|tcg [LIMIT]: QEMU in the background, sets qpid
  local cpu=max
  [ "$1" = kvm ] && cpu=host
  : >"$run/console.log"
  timeout -k 5 "${2:-$tmo}" qemu-system-x86_64 \
    -accel "$1" -cpu "$cpu" -smp "${LAB_CPUS:-2}" -m "${LAB_MEM:-2048}" \
    -nodefaults -no-user-config -display none -no-reboot -monitor none \
    -kernel "$kernel" -initrd "$run/initrd.cpio" \
    -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init labstage2=$LAB_DIR/guest/stage2.sh" \
    -serial "file:$run/console.log" \
    -fsdev local,id=fsroot,path="$groot",security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot \
    -fsdev local,id=fsshare,path="$share",security_model=none,multidevs=remap \
    -device virtio-9p-pci,fsdev=fsshare,mount_tag=labshare \
    -fsdev local,id=fsrun,path="$run",security_model=none \
    -device virtio-9p-pci,fsdev=fsrun,mount_tag=labrun \
    ${state:+-fsdev local,id=fsstate,path=$state,security_model=none} \
    ${state:+-device virtio-9p-pci,fsdev=fsstate,mount_tag=labstate} \
    </dev/null >"$run/qemu.log" 2>&1 &
  qpid=$!
}

t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
start_qemu "$accel"
if [ "$accel" = kvm ] && [ "${LAB_ACCEL:-auto}" = auto ]; then
  probe=${LAB_KVM_PROBE_SECS:-30}
  for ((i = 0; i < probe * 5; i++)); do
    grep -q 'lab-init: root ready' "$run/console.log" 2>/dev/null && break
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.2
  done
  if ! grep -q 'lab-init: root ready' "$run/console.log"; then
    echo "lab: KVM guest did not reach stage 1 within ${probe}s:" >&2
    tail -n 3 "$run/qemu.log" "$run/console.log" >&2 2>/dev/null || true
    kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null || true; qpid=""
    accel=tcg why="KVM vCPU did not boot within ${probe}s"
    left=$(awk -v t="$tmo" -v e="$(elapsed)" 'BEGIN {l = int(t - e); print (l < 1 ? 1 : l)}')
    start_qemu tcg "$left"
  fi
fi
echo "lab: accelerator $accel ($why); kernel $kver; $transport, $luns LUN(s) x $paths path(s)" \
  "+ $node2 node-2 path(s)$( ((nvme)) && echo "; NVMe/TCP: $nvme namespace(s), 2 hosts x 2 ports"); limit ${tmo}s" >&2

# stream CMD's output (and with -v the console) while QEMU runs
boots=1
while :; do
  tail -s 0.2 -c +1 -f --pid="$qpid" "$run/stdout" & tails+=($!)
  tail -s 0.2 -c +1 -f --pid="$qpid" "$run/stderr" >&2 & tails+=($!)
  if ((verbose)); then tail -s 0.2 -c +1 -f --pid="$qpid" "$run/console.log" >&2 & tails+=($!); fi
  set +e
  wait "$qpid"; qrc=$?
  qpid=""
  for t in "${tails[@]}"; do wait "$t"; done
  tails=()
  set -e
  # The guest kernel died before the lab was ready, so before CMD started (seen twice with
  # sid's 7.2 kernel under TCG: an oops in the timer interrupt during early boot, and an
  # "int3" oops in __alloc_skb while iscsid set up its sessions): boot once more, and say
  # so. A crash once CMD runs is never retried.
  if ((boots == 1)) && ((qrc != 124 && qrc != 137)) && [ ! -s "$run/rc" ] &&
     [ ! -s "$run/ready" ] && [ ! -s "$run/setup-error" ] &&
     grep -q 'Kernel panic' "$run/console.log"; then
    cp "$run/console.log" "$run/console-boot1.log"
    echo "lab: the guest kernel crashed before the lab was ready ($(grep -m 1 -E 'BUG:|Oops|invalid opcode|general protection|Kernel panic' \
      "$run/console.log" | sed 's/^\[ *[0-9.]*\] //')); booting once more" >&2
    boots=2
    left=$(awk -v t="$tmo" -v e="$(elapsed)" 'BEGIN {l = int(t - e); print (l < 1 ? 1 : l)}')
    start_qemu "$accel" "$left"
    continue
  fi
  break
done

[ -n "$topo_out" ] && [ -s "$run/topology.sh" ] && cp "$run/topology.sh" "$topo_out"
console_tail() { echo "--- guest console (last ${1} lines) ---" >&2; tail -n "$1" "$run/console.log" >&2; }
if [ -s "$run/rc" ]; then
  rc=$(cat "$run/rc")
  echo "lab: command exited $rc; $(elapsed)s in all, lab ready after $(cat "$run/ready")s" \
    "of guest uptime ($accel)" >&2
  exit "$rc"
fi
if ((qrc == 124 || qrc == 137)); then
  echo "lab: TIMEOUT: the run did not finish within ${tmo}s (--timeout); killed the VM" >&2
  [ -s "$run/ready" ] && echo "lab: (the lab was ready after $(cat "$run/ready")s of guest uptime;" \
    "the command was running)" >&2
  console_tail 30
  exit 124
fi
if [ -s "$run/setup-error" ]; then
  echo "lab: LAB FAILURE: guest setup failed: $(cat "$run/setup-error")" >&2
elif [ -s "$run/ready" ]; then
  echo "lab: LAB FAILURE: the guest stopped while the command ran (no exit status; qemu exit $qrc)" >&2
else
  echo "lab: LAB FAILURE: the guest stopped before the lab was ready (qemu exit $qrc)" >&2
fi
echo "--- qemu log ---" >&2; tail -n 10 "$run/qemu.log" >&2
console_tail 60
exit 125
