#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# lab/selftest.sh - smoke test of the lab's SCSI Persistent Reservations, run INSIDE
# the guest (sg_persist, sg_raw and mpathpersist on LUN 0):
#     lab/run.sh -T iscsi -p 2 -n 1 -- lab/selftest.sh
# Needs 2+ node-1 paths and a second nexus that is not registered: the first node-2
# path (--node2-paths 1), else a third node-1 path. PREEMPT AND ABORT is checked only
# over iSCSI: it deadlocks LIO over tcm_loop. The last line is "N passed, M failed";
# the exit status is non-zero when a check failed.
set -u
[ -n "${LAB_MPATH_0:-}" ] || { echo "selftest: no LAB_* topology; run me through lab/run.sh"; exit 2; }
read -r A B C _ <<<"$LAB_PATHS_0"
read -r SA SB SC _ <<<"$LAB_SG_0"
if [ -n "${LAB_NODE2_PATHS_0:-}" ]; then
  read -r N _ <<<"$LAB_NODE2_PATHS_0"; read -r SN _ <<<"$LAB_NODE2_SG_0"; other="node-2 path"
elif [ -n "${C:-}" ]; then
  N=$C SN=$SC other="3rd node-1 path (no node-2 path)"
else
  echo "selftest: needs --paths 2 with --node2-paths 1, or --paths 3"; exit 2
fi
[ -n "${B:-}" ] || { echo "selftest: needs at least 2 node-1 paths"; exit 2; }
M=$LAB_MPATH_0
out=$(mktemp)
passed=0 failed=0

# check "DESCRIPTION" CMD...: one check; on failure show what CMD printed
check() {
  local what=$1; shift
  if "$@" >"$out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $what"
  else
    failed=$((failed + 1)); echo "FAIL $what  [$*]"; sed 's/^/       | /' "$out" | tail -n 15
  fi
}
# expect_fail "DESCRIPTION" CMD...: CMD must fail
expect_fail() { local what=$1; shift; check "$what" not "$@"; }
not() { ! "$@"; }
prout() { sg_persist -n -o "$@"; }
# PR IN; a pending UNIT ATTENTION (e.g. after a preemption) is returned to the first
# command of a nexus: retry once then
prin() {
  local o
  if ! o=$(sg_persist -n -i "$@" 2>&1); then o=$(sg_persist -n -i "$@" 2>&1) || { echo "$o"; return 1; }; fi
  echo "$o"
}
nkeys() { prin -k "$1" | grep -c '^ *0x'; }
keys_are() { local n; n=$(nkeys "$1"); echo "keys: $n (want $2)"; [ "$n" = "$2" ]; }
# shows PATTERN CMD...: CMD succeeds and prints PATTERN (extended regex)
shows() { local p=$1 o; shift; o=$("$@" 2>&1); local rc=$?; echo "$o"; ((rc == 0)) && grep -Eqi -- "$p" <<<"$o"; }
# WRITE(10) of block 0 through an sg node
write10() { sg_raw -s 512 -i /dev/zero "$1" 2a 00 00 00 00 00 00 00 01 00; }
write_ok() { write10 "$1"; }
# the write must be refused with RESERVATION CONFLICT (sg_raw status 24); a pending
# UNIT ATTENTION may come first
write_conflicts() {
  local i o rc
  for i in 1 2 3; do
    o=$(write10 "$1" 2>&1); rc=$?; echo "$o (status $rc)"
    ((rc == 0)) && return 1
    ((rc == 24)) || grep -qi 'reservation conflict' <<<"$o" && return 0
  done
  return 1
}

echo "# selftest: transport ${LAB_TRANSPORT}; LUN 0 map $M; node-1 paths $LAB_PATHS_0;" \
  "unregistered nexus $N ($other)"
echo "## sg_persist per I_T nexus"
check "no registrations at start" keys_are "$A" 0
check "register 0x1 via node-1 path $A" prout -G -S 0x1 "$A"
check "register 0x2 via node-1 path $B" prout -G -S 0x2 "$B"
check "two registrations (one per nexus), seen from $N" keys_are "$N" 2
case $LAB_TRANSPORT in
  loop) tid='SAS address' ;;
  iscsi) tid='iSCSI' ;;
esac
check "READ FULL STATUS shows $LAB_TRANSPORT TransportIDs" shows "$tid" prin -s "$A"
check "reserve Write Exclusive, registrants only (type 5) via $A" prout -R -K 0x1 -T 5 "$A"
check "READ RESERVATION: key 0x1, type 5" shows 'Key=0x1' prin -r "$N"
check "write via registered $B succeeds" write_ok "$SB"
check "write via unregistered $N: RESERVATION CONFLICT" write_conflicts "$SN"
expect_fail "unregistered $N cannot reserve" prout -R -K 0x9 -T 5 "$N"
check "second nexus $N registers 0xb2" prout -G -S 0xb2 "$N"
check "three registrations" keys_are "$A" 3
check "$N preempts 0x1 (PREEMPT, type 5)" prout -P -K 0xb2 -S 0x1 -T 5 "$N"
check "holder is now 0xb2" shows 'Key=0xb2' prin -r "$B"
check "0x1 removed: two registrations left" keys_are "$B" 2
check "write via preempted $A: RESERVATION CONFLICT" write_conflicts "$SA"
check "write via holder $N succeeds" write_ok "$SN"
check "release via $N" prout -L -K 0xb2 -T 5 "$N"
check "no reservation after release" shows 'NO reservation' prin -r "$A"
check "clear via $N" prout -C -K 0xb2 "$N"
check "no registrations after clear" keys_are "$A" 0

echo "## APTPL"
check "register 0x5 with APTPL via $A" prout -G -Z -S 0x5 "$A"
check "REPORT CAPABILITIES: PTPL_A=1" shows 'PTPL_A.*1|Persist Through Power Loss Active.*1' prin -c "$A"
check "LIO wrote /etc/target/pr/aptpl_labpr-lun000" grep -q '^PR_REG_START' /etc/target/pr/aptpl_labpr-lun000
check "clear 0x5" prout -C -K 0x5 "$A"

echo "## PREEMPT AND ABORT"
if [ "$LAB_TRANSPORT" = iscsi ]; then
  prout -G -S 0xa "$A" >/dev/null; prout -R -K 0xa -T 5 "$A" >/dev/null
  prout -G -S 0xb "$N" >/dev/null
  check "$N PREEMPT AND ABORTs 0xa (30 s limit)" timeout 30 sg_persist -n -o -A -K 0xb -S 0xa -T 5 "$N"
  ua() { # the UA may be taken by multipathd's checker first; then the kernel logs it
    local o; o=$(sg_turs -v "$A" 2>&1); echo "$o"
    grep -qi 'preempted' <<<"$o" || dmesg | tail -n 50 | grep -qi 'parameters changed\|preempted'
  }
  check "$A got UNIT ATTENTION (registrations preempted)" ua
  check "holder is 0xb" shows 'Key=0xb' prin -r "$B"
  check "one registration left" keys_are "$B" 1
  check "write via aborted $A: RESERVATION CONFLICT" write_conflicts "$SA"
  check "clean up: clear via $N" prout -C -K 0xb "$N"
else
  echo "skip PREEMPT AND ABORT: it deadlocks LIO over tcm_loop (use --transport iscsi)"
fi

echo "## multipath map $M (mpathpersist)"
in_map() { local d; for d in /sys/block/dm-*/slaves/"${1#/dev/}"; do [ -e "$d" ] && return 0; done; return 1; }
all_node1_in_map() { local p; for p in $LAB_PATHS_0; do in_map "$p" || return 1; done; }
no_node2_in_maps() {
  local i p
  for ((i = 0; i < LAB_LUNS; i++)); do
    v=LAB_NODE2_PATHS_$i
    for p in ${!v}; do in_map "$p" && { echo "$p is in a map"; return 1; }; done
  done
  return 0
}
check "every node-1 path of LUN 0 is in the map" all_node1_in_map
check "no node-2 path is in any map" no_node2_in_maps
check "mpathpersist register 0xabc" mpathpersist --out --register --param-sark=0xabc "$M"
check "0xabc registered on every node-1 nexus ($LAB_NPATHS)" keys_are "$N" "$LAB_NPATHS"
check "mpathpersist -i -k lists 0xabc" shows '0xabc' mpathpersist -i -k "$M"
check "mpathpersist reserve type 5" mpathpersist --out --reserve --param-rk=0xabc --prout-type=5 "$M"
check "mpathpersist -i -r shows 0xabc" shows 'Key = 0xabc' mpathpersist -i -r "$M"
check "write to the map" dd if=/dev/zero of="$M" bs=4096 count=1 oflag=direct status=none
check "write via unregistered $N: RESERVATION CONFLICT" write_conflicts "$SN"
check "mpathpersist release" mpathpersist --out --release --param-rk=0xabc --prout-type=5 "$M"
check "mpathpersist reserve again" mpathpersist --out --reserve --param-rk=0xabc --prout-type=5 "$M"
echo "## fencing: the second nexus preempts the map's key"
check "$N registers 0xf2" prout -G -S 0xf2 "$N"
check "$N preempts 0xabc (PREEMPT, type 5)" prout -P -K 0xf2 -S 0xabc -T 5 "$N"
check "only 0xf2 left" keys_are "$N" 1
check "holder is 0xf2" shows 'Key=0xf2' prin -r "$N"
expect_fail "write to the fenced map fails" timeout 60 dd if=/dev/zero of="$M" bs=4096 count=1 oflag=direct status=none
check "clean up: clear via $N" prout -C -K 0xf2 "$N"
check "no registrations left" keys_are "$A" 0

if ((${LAB_NVME_NS:-0} > 0)); then
  echo "## NVMe over TCP (--nvme): namespace 0, node 1 = head $LAB_NVME_DEV_0, node 2 = controllers $LAB_NVME_NODE2_CTRLS_0"
  D=$LAB_NVME_DEV_0
  read -r C2 C2B _ <<<"$LAB_NVME_NODE2_CTRLS_0"
  hid1=${LAB_NVME_HOSTID_1//-/} hid2=${LAB_NVME_HOSTID_2//-/}
  # live_paths NODE: `nvme list-subsys` lists the node's two controllers of namespace 0's
  # subsystem as live, under the node's host NQN
  live_paths() {
    local v nqn=LAB_NVME_HOSTNQN_$1 o n=0 c
    [ "$1" = 2 ] && v=LAB_NVME_NODE2_CTRLS_0 || v=LAB_NVME_CTRLS_0
    o=$(nvme list-subsys 2>&1); echo "$o"
    for c in ${!v}; do
      awk -v nqn="hostnqn=${!nqn}" -v sn="NQN=$LAB_NVME_SUBNQN_0" -v c="${c#/dev/}" '
        / NQN=/ {s = $3 == sn}
        /hostnqn=/ {h = $1 == nqn}
        s && h && $2 == c && $NF == "live" {f = 1} END {exit !f}' <<<"$o" && n=$((n + 1))
    done
    echo "node $1: $n live path(s)"; ((n == 2))
  }
  check "node 1 has two live paths (nvme list-subsys)" live_paths 1
  check "node 2 has two live paths (nvme list-subsys)" live_paths 2
  in_head() { local p; for p in $LAB_NVME_PATHS_0 $LAB_NVME_NODE2_PATHS_0; do
    [ -e "/sys/block/${D#/dev/}/multipath/$p" ] || { echo "$p not under $D"; return 1; }; done; }
  check "the kernel puts both nodes' paths under one head $D" in_head
  # report_is RTYPE REGCTL [HOLDER_HOSTID]: resv-report --eds -o json through $C2B
  report_is() {
    local o; o=$(nvme resv-report "$C2B" -n 1 --eds -o json 2>&1); echo "$o"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1]); want_t, want_n, holder = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
ids = {e["hostid"]: e["rcsts"] for e in r.get("regctlext", [])}
ok = r["rtype"] == want_t and r["regctl"] == want_n
if holder: ok = ok and ids.get(holder[0]) == 1 and all(i in ids for i in sys.argv[5:] + holder)
sys.exit(0 if ok else 1)' "$o" "$@"
  }
  nvme_conflicts() { local o; o=$(nvme write "$1" -n 1 -s 0 -c 0 -z 4096 -d /dev/zero 2>&1); echo "$o"
    grep -qi 'reservation conflict' <<<"$o"; }
  check "no registrations at start" report_is 0 0
  check "node 1 registers 0x11 (resv-register on the head $D)" nvme resv-register "$D" -n 1 --nrkey=0x11 --rrega=0
  check "node 2 registers 0x22 (resv-register on its controller $C2)" nvme resv-register "$C2" -n 1 --nrkey=0x22 --rrega=0
  check "node 1 acquires Write Exclusive" nvme resv-acquire "$D" -n 1 --crkey=0x11 --rtype=1 --racqa=0
  check "resv-report --eds: type 1, both Host IDs, node 1 holds it" report_is 1 2 "$hid1" "$hid2"
  check "node 1 writes through the head (dd oflag=direct)" dd if=/dev/zero of="$D" bs=4096 count=1 oflag=direct status=none
  check "node 2's write ($C2): Reservation Conflict" nvme_conflicts "$C2"
  check "node 2's write through its other path ($C2B): Reservation Conflict" nvme_conflicts "$C2B"
  check "node 1 clears (resv-release --rrela=1)" nvme resv-release "$D" -n 1 --crkey=0x11 --rtype=1 --rrela=1
  check "no registrations after clear" report_is 0 0
fi

rm -f "$out"
echo "$passed passed, $failed failed"
((failed == 0))
