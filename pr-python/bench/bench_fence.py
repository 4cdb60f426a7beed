#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Lab benchmark: fence one node from every LUN of the lab, with pr_sdk against the
fence_scsi approach (one sg_turs/sg_persist process per device and action), in one run.

Runs inside the lab guest (``LAB_*`` variables): node 1 is the dm-multipath maps
(``LAB_MPATH_i``), node 2 the first node-2 path device of each LUN
(``LAB_NODE2_PATHS_i``). For each of the two methods: the same starting state (node 1
registered on every path and holding a Write Exclusive, Registrants Only reservation,
node 2 registered), then node 2 fences node 1 on every LUN, timed, then the end state
is read back and must be the same for both methods.

* pr_sdk: open the node-2 path devices, REGISTER AND IGNORE node 2's key on all of them
  (one ``pr_sdk.unfence`` call), READ KEYS, PREEMPT node 1's key where registered
  (``pr_sdk.fence`` = PREEMPT AND ABORT; with ``--no-abort``, concurrent PREEMPTs through
  the asyncio API), READ KEYS to verify: the steps of fence_scsi's ``off``.
* fence_scsi approach: per device, the commands fence_scsi's ``off`` runs, each as its own
  ``sg_turs`` + ``sg_persist`` process: read keys, register (-I) the host key, and since it
  was already registered self-preempt (-P) and re-register, read the reservation, read
  keys, preempt (-A, or -P with ``--no-abort``), and read keys again to verify. It is run
  from this one Python process: fence_scsi's own interpreter start (once per action) is
  not counted, so the baseline is, if anything, flattered.

Over tcm_loop (``LAB_TRANSPORT=loop``) PREEMPT AND ABORT deadlocks LIO, so both methods use
PREEMPT there (``--no-abort`` is implied).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import pr_sdk

WERO = pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY
K1 = 0xC8FB0001
K2 = 0xC8FB0002
CLEAN = 0xC1EA

State = Dict[str, Tuple[Tuple[int, ...], Optional[Tuple[int, int]]]]


def lab_luns() -> Tuple[List[str], List[str]]:
    n = int(os.environ["LAB_LUNS"])
    maps = [os.environ[f"LAB_MPATH_{i}"] for i in range(n)]
    node2 = [os.environ[f"LAB_NODE2_PATHS_{i}"].split()[0] for i in range(n)]
    return maps, node2


def setup(maps: List[pr_sdk.Device], node2: List[pr_sdk.Device]) -> None:
    for d in maps:
        d.register_and_ignore(CLEAN)
        d.clear(CLEAN)
    assert all(r.ok for r in pr_sdk.unfence(maps, K1))
    for d in maps:
        d.reserve(K1, WERO)
    assert all(r.ok for r in pr_sdk.unfence(node2, K2))


def state(maps: List[pr_sdk.Device]) -> State:
    out: State = {}
    for d in maps:
        r = d.read_reservation().reservation
        out[d.name] = (tuple(sorted(d.read_keys().keys)), (r.key, r.type_code) if r else None)
    return out


def fence_pr_sdk(paths: List[str], abort: bool) -> None:
    devs = [pr_sdk.Device.open_path(p) for p in paths]
    assert all(r.ok for r in pr_sdk.unfence(devs, K2))
    targets = [d for d in devs if K1 in d.read_keys().keys]
    if abort:
        assert all(r.ok for r in pr_sdk.fence(targets, K2, K1, WERO))
    else:

        async def preempt_all() -> None:
            await asyncio.gather(*(d.aio.preempt(K2, K1, WERO) for d in targets))

        asyncio.run(preempt_all())
    assert not [d for d in devs if K1 in d.read_keys().keys]


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def turs(dev: str) -> None:
    """``sg_turs``, whose status fence_scsi ignores (it clears a pending UNIT ATTENTION)."""
    subprocess.run(["sg_turs", dev], capture_output=True)


def sg_keys(dev: str) -> List[str]:
    turs(dev)
    out = run("sg_persist", "-n", "-i", "-k", "-d", dev)
    return [line.split("0x", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("0x")]


def fence_sg_persist(paths: List[str], abort: bool) -> None:
    host, victim = "%x" % K2, "%x" % K1
    for dev in paths:
        existed = host in sg_keys(dev)
        turs(dev)
        run("sg_persist", "-n", "-o", "-I", "-S", host, "-d", dev)
        if existed:
            turs(dev)
            run("sg_persist", "-n", "-o", "-P", "-T", "5", "-K", host, "-S", host, "-d", dev)
            turs(dev)
            out = run("sg_persist", "-n", "-i", "-r", "-d", dev)
            if ("key=0x" + host) not in out.lower():
                turs(dev)
                run("sg_persist", "-n", "-o", "-I", "-S", host, "-d", dev)
        if victim in sg_keys(dev):
            turs(dev)
            run("sg_persist", "-n", "-o", "-A" if abort else "-P", "-T", "5", "-K", host, "-S", victim, "-d", dev)
    for dev in paths:
        assert victim not in sg_keys(dev), dev


def main() -> int:
    abort = os.environ.get("LAB_TRANSPORT") != "loop" and "--no-abort" not in sys.argv
    map_paths, node2_paths = lab_luns()
    maps = [pr_sdk.Device.open_map(m, check_configured_key=False) for m in map_paths]
    node2 = [pr_sdk.Device.open_path(p) for p in node2_paths]
    print(f"bench: {len(maps)} LUNs x {len(maps[0].paths)} node-1 paths, transport {os.environ.get('LAB_TRANSPORT')}, "
          f"fence = {'PREEMPT AND ABORT' if abort else 'PREEMPT'}")
    times = {}
    states = {}
    for name, fn in (("pr_sdk", fence_pr_sdk), ("fence_scsi approach (sg_persist per device and action)", fence_sg_persist)):
        setup(maps, node2)
        before = state(maps)
        assert all(k == tuple(sorted([K1] * len(maps[0].paths) + [K2])) for k, _ in before.values()), before
        t0 = time.monotonic()
        fn(node2_paths, abort)
        times[name] = time.monotonic() - t0
        states[name] = state(maps)
        print(f"bench: {name}: {times[name]:.3f} s")
    a, b = states.values()
    assert a == b, (a, b)
    assert all(v == ((K2,), (K2, 5)) for v in a.values()), a
    sdk, base = times["pr_sdk"], times["fence_scsi approach (sg_persist per device and action)"]
    print(f"bench: same end state on every LUN: keys [0x{K2:x}], reservation 0x{K2:x} type 5")
    print(f"bench: RESULT pr_sdk {sdk:.3f} s, fence_scsi approach {base:.3f} s, ratio {base / sdk:.1f}x")
    for d in maps:
        d.register_and_ignore(CLEAN)
        d.clear(CLEAN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
