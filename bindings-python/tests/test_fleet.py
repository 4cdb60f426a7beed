# SPDX-License-Identifier: MIT OR Apache-2.0
"""Many-LUN unfence and fence on the simulator: per-LUN results, progress, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import pr_sdk

from conftest import WERO, sim_keys

N = 8


@pytest.fixture
def fleet():
    return pr_sdk.Sim.cluster(nodes=2, paths_per_node=2, luns=N)


def test_unfence_then_fence_with_progress(fleet):
    node0, node1 = fleet.devices(0), fleet.devices(1)
    seen = []
    results = pr_sdk.unfence(node0, 0xA0, progress=seen.append)
    assert [r.lun for r in results] == [f"lun{i}" for i in range(N)]
    assert all(r.ok and isinstance(r.report, pr_sdk.Report) for r in results)
    assert sorted(p.done for p in seen) == list(range(1, N + 1))
    assert all(p.total == N and p.outcome == "ok" for p in seen)
    assert all(isinstance(p, pr_sdk.Progress) and str(p) for p in seen)
    pr_sdk.unfence(node1, 0xB1)
    for d in node0:
        d.reserve(0xA0, WERO)
    results = pr_sdk.fence(node1, 0xB1, 0xA0, WERO, concurrency=3)
    assert all(r.ok for r in results), [str(r) for r in results]
    for lun in range(N):
        assert sim_keys(fleet, lun) == [0xB1, 0xB1]
        assert fleet.sim.reservation(lun) == (5, 0xB1)


def test_per_lun_failures_are_results(fleet):
    node0, node1 = fleet.devices(0), fleet.devices(1)
    pr_sdk.unfence(node0, 0xA0)
    pr_sdk.unfence(node1, 0xB1)
    for p in fleet.paths(1, 3):
        p.set_down()
    results = pr_sdk.fence(node1, 0xB1, 0xA0)  # default type: WERO
    bad = [r for r in results if not r.ok]
    assert [r.lun for r in bad] == ["lun3"]
    # The first command's path failures mark both paths failed: no usable path is left.
    assert isinstance(bad[0].error, (pr_sdk.PathDownError, pr_sdk.NoUsablePathError))
    assert bad[0].error.lun == "lun3"
    assert "lun3" in str(bad[0])
    assert sim_keys(fleet, 3) == [0xA0, 0xA0, 0xB1, 0xB1]
    assert sim_keys(fleet, 4) == [0xB1, 0xB1]


def test_cancel_token_stops_starting_luns(fleet):
    token = pr_sdk.CancelToken()
    seen = []
    for lun in range(N):
        for p in fleet.paths(0, lun):
            p.set_latency(0.05)

    def on_progress(p):
        seen.append(p)
        token.cancel()

    results = pr_sdk.unfence(fleet.devices(0), 0xA0, concurrency=1, progress=on_progress, cancel=token)
    assert token.cancelled
    done = [r for r in results if r.ok]
    cancelled = [r for r in results if not r.ok]
    assert 1 <= len(done) < N
    assert all(isinstance(r.error, pr_sdk.OperationCancelledError) for r in cancelled)
    assert [p.outcome for p in seen].count("cancelled") == len(cancelled)
    assert len(seen) == N


def test_a_raising_progress_callback_aborts(fleet):
    def boom(p):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        pr_sdk.unfence(fleet.devices(0), 0xA0, concurrency=1, progress=boom)


def test_fleet_argument_errors(fleet):
    with pytest.raises(TypeError, match="devices"):
        pr_sdk.unfence("lun0", 1)
    with pytest.raises(TypeError, match=r"devices\[1\]"):
        pr_sdk.unfence([fleet.device(0, 0), 5], 1)
    with pytest.raises(ValueError, match="concurrency"):
        pr_sdk.unfence(fleet.devices(0), 1, concurrency=0)
    with pytest.raises(ValueError, match="victim_key"):
        pr_sdk.fence(fleet.devices(0), 1, -5)
    with pytest.raises(ValueError, match="type"):
        pr_sdk.fence(fleet.devices(0), 1, 2, 9)
    assert pr_sdk.unfence([], 1) == []


def test_async_fleet_progress_on_the_loop_and_concurrency(fleet):
    for lun in range(N):
        for node in (0, 1):
            for p in fleet.paths(node, lun):
                p.set_latency(0.1)
    node0 = [d.aio for d in fleet.devices(0)]
    node1 = fleet.devices(1)  # sync Device objects are accepted too

    async def main():
        loop_thread = threading.get_ident()
        threads = set()
        seen = []

        def on_progress(p):
            threads.add(threading.get_ident())
            seen.append(p)

        t0 = time.monotonic()
        r0, r1 = await asyncio.gather(
            pr_sdk.unfence_async(node0, 0xA0, progress=on_progress),
            pr_sdk.unfence_async(node1, 0xB1),
        )
        elapsed = time.monotonic() - t0
        assert all(r.ok for r in r0 + r1)
        assert threads == {loop_thread} and len(seen) == N
        assert elapsed < 1.0, elapsed  # 2 x 8 LUNs x 0.1 s serially would be 1.6 s
        res = await pr_sdk.fence_async(node1, 0xB1, 0xA0, WERO)
        assert all(r.ok for r in res)

    asyncio.run(main())
    assert all(sim_keys(fleet, lun) == [0xB1, 0xB1] for lun in range(N))


def test_cancelling_an_async_fleet_operation(fleet):
    for lun in range(N):
        for p in fleet.paths(0, lun):
            p.set_latency(0.5)
    devs = fleet.devices(0)

    async def main():
        task = asyncio.ensure_future(pr_sdk.unfence_async(devs, 0xA0, concurrency=2))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.7)

    asyncio.run(main())
    # Every command was still in its latency when the task was cancelled: none executed.
    assert all(sim_keys(fleet, lun) == [] for lun in range(N))
