#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Simulator benchmark of pr_sdk's own cost per operation (no device, no root).

A simulated cluster of two nodes, 4 paths per node and ``NLUNS`` LUNs (default 16): node 1
registers and reserves; then, timed, node 2 registers on every LUN (``unfence``), reads
the keys of every LUN one by one, preempts node 1 on every LUN concurrently through the
asyncio API, and reads the keys again. Prints the median of ``REPS`` rounds (default 30)
of each phase. The simulator answers in microseconds, so the figures are the SDK's own
overhead (argument conversion, the runtime bridge, logging, result objects): compare
builds on one machine, in one run, not with the lab.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Dict, List

import pr_sdk

WERO = pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY
K1, K2 = 0xC8FB0001, 0xC8FB0002


def one_round(luns: int) -> Dict[str, float]:
    c = pr_sdk.Sim.cluster(nodes=2, paths_per_node=4, luns=luns)
    n1, n2 = c.devices(0), c.devices(1)
    assert all(r.ok for r in pr_sdk.unfence(n1, K1))
    for d in n1:
        d.reserve(K1, WERO)
    t: Dict[str, float] = {}
    t0 = time.perf_counter()
    assert all(r.ok for r in pr_sdk.unfence(n2, K2))
    t["unfence"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    targets = [d for d in n2 if K1 in d.read_keys().keys]
    t["read_keys"] = time.perf_counter() - t0

    async def preempt_all() -> None:
        await asyncio.gather(*(d.aio.preempt(K2, K1, WERO) for d in targets))

    t0 = time.perf_counter()
    asyncio.run(preempt_all())
    t["aio_preempt"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert not [d for d in n2 if K1 in d.read_keys().keys]
    t["read_keys_after"] = time.perf_counter() - t0
    return t


def main() -> None:
    luns = int(os.environ.get("NLUNS", "16"))
    phases: Dict[str, List[float]] = {}
    for _ in range(int(os.environ.get("REPS", "30"))):
        for k, v in one_round(luns).items():
            phases.setdefault(k, []).append(v)
    medians = {k: statistics.median(v) for k, v in phases.items()}
    print(
        " ".join(f"{k}={v * 1e3:.2f}ms" for k, v in medians.items()),
        f"total={sum(medians.values()) * 1e3:.2f}ms",
    )


if __name__ == "__main__":
    main()
