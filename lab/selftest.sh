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

rm -f "$out"
echo "$passed passed, $failed failed"
((failed == 0))
