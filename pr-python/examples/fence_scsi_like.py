#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""fence_scsi's logic on pr_sdk, written from its documented behaviour (not its code).

What Debian's ``fence_scsi`` (fence-agents 4.12) does, and what this does the same way:

* Key: the first 4 hex digits of md5(corosync ``totem.cluster_name``) followed by the
  node's position N in corosync's ``nodelist.node.N`` printed as 4 decimal digits
  (``--key-value=id``, the default), or followed by the first 4 hex digits of md5(node
  name) (``--key-value=hash``). The 8 characters are the key in hex.
* on (unfence): register the key on every path of every device (REGISTER AND IGNORE
  EXISTING KEY; on a dm-multipath map, on every path of the map), then, where the device
  has no reservation, reserve it Write Exclusive, Registrants Only (type 5).
* off (fence): register this node's own key, then, where the victim's key is registered,
  PREEMPT AND ABORT it with type 5; fail if the victim's key is still registered anywhere.
* status: "on" when the key is registered on the devices.

Differences: one process and one ``pr_sdk`` call per step across all devices (no
``sg_turs``/``sg_persist`` process per device and action); keys are compared as integers
(fence_scsi compares hex strings, which breaks on keys with a leading zero); no
``STORE_PATH`` files (the caller passes its own key); ``--no-abort`` sends PREEMPT instead
of PREEMPT AND ABORT (LIO over tcm_loop deadlocks on PREEMPT AND ABORT).

Usage::

    fence_scsi_like.py --cluster-name NAME --node-index N -o on  -d DEV[,DEV...]
    fence_scsi_like.py --cluster-name NAME --node-index N -o off -d DEV[,DEV...] --victim-index M
    fence_scsi_like.py --cluster-name NAME --node-index N -o status -d DEV[,DEV...]
    fence_scsi_like.py --demo      # two nodes on the simulator, no root, no hardware
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import List, Sequence

import pr_sdk

WERO = pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("ascii")).hexdigest()


def fence_scsi_key(cluster_name: str, node_index: int) -> int:
    """The key fence_scsi derives with ``--key-value=id``: md5(cluster name)[:4] followed
    by ``node_index`` (N of corosync's ``nodelist.node.N``) as at least 4 decimal digits."""
    if node_index < 0:
        raise ValueError("node_index must not be negative")
    return int("%.4s%.4d" % (_md5_hex(cluster_name), node_index), 16)


def fence_scsi_hash_key(cluster_name: str, node_name: str) -> int:
    """The key fence_scsi derives with ``--key-value=hash``."""
    return int(_md5_hex(cluster_name)[:4] + _md5_hex(node_name)[:4], 16)


def unfence(devices: Sequence[pr_sdk.Device], key: int) -> List[str]:
    """fence_scsi ``on``: register ``key`` on every path, reserve (type 5) where there is
    no reservation. Returns the devices that failed."""
    failed = [r.lun for r in pr_sdk.unfence(devices, key) if not r.ok]
    for d in devices:
        if d.name in failed:
            continue
        if key not in d.read_keys().keys:
            failed.append(d.name)
            continue
        if d.read_reservation().reservation is None:
            try:
                d.reserve(key, WERO)
            except pr_sdk.ReservationConflictError:
                # Another node reserved meanwhile: fine if someone holds it now.
                if d.read_reservation().reservation is None:
                    failed.append(d.name)
    return failed


def fence(devices: Sequence[pr_sdk.Device], my_key: int, victim_key: int, abort: bool = True) -> List[str]:
    """fence_scsi ``off``: register ``my_key``, PREEMPT AND ABORT ``victim_key`` (type 5)
    where it is registered; returns the devices where the victim is still registered."""
    if my_key == victim_key:
        raise ValueError("keys cannot be the same: a node cannot fence itself")
    pr_sdk.unfence(devices, my_key)
    targets = [d for d in devices if victim_key in d.read_keys().keys]
    if abort:
        pr_sdk.fence(targets, my_key, victim_key, WERO)
    else:
        for d in targets:
            d.preempt(my_key, victim_key, WERO)
    return [d.name for d in devices if victim_key in d.read_keys().keys]


def status(devices: Sequence[pr_sdk.Device], key: int) -> bool:
    """fence_scsi ``status``: whether ``key`` is registered (on any of the devices)."""
    return any(key in d.read_keys().keys for d in devices)


def _demo() -> int:
    cluster = pr_sdk.Sim.cluster(nodes=2, paths_per_node=2, luns=2)
    k1, k2 = fence_scsi_key("demo", 1), fence_scsi_key("demo", 2)
    node1, node2 = cluster.devices(0), cluster.devices(1)
    assert unfence(node1, k1) == [] and unfence(node2, k2) == []
    assert status(node1, k1) and status(node2, k2)
    assert fence(node2, k2, k1) == []
    assert not status(node2, k1)
    for d in node2:
        print(d.name, "keys:", " ".join(hex(k) for k in d.read_keys().keys), "|", d.read_reservation().reservation)
    return 0


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo", action="store_true", help="run two nodes on the simulator")
    ap.add_argument("--cluster-name")
    ap.add_argument("--node-index", type=int, help="this node's N in nodelist.node.N")
    ap.add_argument("--victim-index", type=int, help="off: the victim's N")
    ap.add_argument("-o", "--action", choices=["on", "off", "status"])
    ap.add_argument("-d", "--devices", help="comma-separated maps or path devices")
    ap.add_argument("--no-abort", action="store_true", help="off: PREEMPT instead of PREEMPT AND ABORT")
    a = ap.parse_args(argv)
    if a.demo:
        return _demo()
    if not (a.cluster_name and a.node_index is not None and a.action and a.devices):
        ap.error("--cluster-name, --node-index, -o and -d are required")
    devices = [pr_sdk.Device.open(p, check_configured_key=False) for p in a.devices.split(",") if p]
    key = fence_scsi_key(a.cluster_name, a.node_index)
    if a.action == "on":
        failed = unfence(devices, key)
    elif a.action == "off":
        if a.victim_index is None:
            ap.error("off needs --victim-index")
        failed = fence(devices, key, fence_scsi_key(a.cluster_name, a.victim_index), abort=not a.no_abort)
    else:
        on = status(devices, key)
        print("Status: ON" if on else "Status: OFF")
        return 0 if on else 2
    if failed:
        print("Failed on: " + ", ".join(failed), file=sys.stderr)
        return 1
    print("Success: " + ("Unfenced" if a.action == "on" else "Fenced"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
