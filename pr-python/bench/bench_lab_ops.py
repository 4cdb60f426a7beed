#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Lab micro-benchmark: the latency of single pr_sdk calls on real LIO devices.

Runs inside the lab guest (``lab/run.sh ... -n 1`` with at least 2 LUNs): medians of READ
KEYS on a node-2 path device (blocking, 200 calls; asyncio, 100 calls), READ KEYS and
REGISTER AND IGNORE on a multipath map (200 and 60 calls), and opening a path device (60
calls). ``TAG`` names the build in the output line, to compare builds in one boot.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Callable, Dict

import pr_sdk


def median_ms(f: Callable[[], object], n: int) -> float:
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs) * 1e3


def main() -> None:
    path = os.environ["LAB_NODE2_PATHS_0"].split()[0]
    d = pr_sdk.Device.open_path(path)
    m = pr_sdk.Device.open(os.environ["LAB_MPATH_1"])
    key = 0xABC
    m.register_and_ignore(key)
    out: Dict[str, float] = {
        "path read_keys": median_ms(d.read_keys, 200),
        "map read_keys": median_ms(m.read_keys, 200),
        "map register_and_ignore": median_ms(lambda: m.register_and_ignore(key), 60),
        "open_path": median_ms(lambda: pr_sdk.Device.open_path(path), 60),
    }

    async def aio_read_keys() -> float:
        xs = []
        for _ in range(100):
            t0 = time.perf_counter()
            await d.aio.read_keys()
            xs.append(time.perf_counter() - t0)
        return statistics.median(xs) * 1e3

    out["aio path read_keys"] = asyncio.run(aio_read_keys())
    m.register_and_ignore(0)
    print(os.environ.get("TAG", "?"), " ".join(f"{k}={v:.2f}ms" for k, v in out.items()), flush=True)


if __name__ == "__main__":
    main()
