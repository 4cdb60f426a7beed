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


def test_a_raising_progress_callback_does_not_stop_the_fence(fleet):
    """The fence goes on to every LUN; then the callback's exception is raised with every
    per-LUN result attached."""
    node0, node1 = fleet.devices(0), fleet.devices(1)
    pr_sdk.unfence(node0, 0xA0)
    pr_sdk.unfence(node1, 0xB1)
    calls = []

    def boom(p):
        calls.append(p)
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here") as ei:
        pr_sdk.fence(node1, 0xB1, 0xA0, WERO, concurrency=1, progress=boom)
    results = ei.value.results
    assert [r.lun for r in results] == [f"lun{i}" for i in range(N)]
    assert all(r.ok and isinstance(r, pr_sdk.LunResult) for r in results), [str(r) for r in results]
    assert len(calls) == N
    for lun in range(N):
        assert sim_keys(fleet, lun) == [0xB1, 0xB1]
    # The same for unfence.
    with pytest.raises(RuntimeError) as ei:
        pr_sdk.unfence(node0, 0xA1, progress=boom)
    assert len(ei.value.results) == N and all(r.ok for r in ei.value.results)
    assert all(sim_keys(fleet, lun) == [0xA1, 0xA1, 0xB1, 0xB1] for lun in range(N))


def test_a_keyboard_interrupt_in_the_callback_stops_the_operation(fleet):
    for lun in range(N):
        for p in fleet.paths(0, lun):
            p.set_latency(0.05)

    def stop(p):
        raise KeyboardInterrupt()

    with pytest.raises(KeyboardInterrupt):
        pr_sdk.unfence(fleet.devices(0), 0xA0, concurrency=1, progress=stop)
    time.sleep(0.2)
    assert sum(1 for lun in range(N) if sim_keys(fleet, lun)) < N


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda d: pr_sdk.unfence(d, 0xA0, progress=5), TypeError, "progress must be callable"),
        (lambda d: pr_sdk.fence(d, 0xA0, 0xB1, progress="x"), TypeError, "progress"),
        (lambda d: pr_sdk.unfence("lun0", 1), TypeError, "devices"),
        (lambda d: pr_sdk.unfence(d + [5], 1), TypeError, r"devices\[8\]"),
        (lambda d: pr_sdk.unfence([], 1), ValueError, "devices must not be empty"),
        (lambda d: pr_sdk.unfence(d, 1, concurrency=0), ValueError, "concurrency"),
        (lambda d: pr_sdk.unfence(d, 2**64), ValueError, "key"),
        (lambda d: pr_sdk.fence(d, 1, -5), ValueError, "victim_key"),
        (lambda d: pr_sdk.fence(d, 1, 2, 9), ValueError, "type"),
        (lambda d: pr_sdk.fence(d, 1, 2, "WE"), TypeError, "type"),
        (lambda d: pr_sdk.unfence(d, 1, cancel=5), TypeError, "cancel"),
        (lambda d: pr_sdk.unfence_async(d, 1, progress=5), TypeError, "progress"),
        (lambda d: pr_sdk.fence_async(d, 1, -1), ValueError, "victim_key"),
    ],
)
def test_fleet_arguments_are_checked_before_any_command(fleet, call, exc, match):
    devs = fleet.devices(0)
    with pytest.raises(exc, match=match):
        call(devs)
    assert fleet.sim.trace() == []  # nothing was sent


def test_a_closed_device_is_refused_before_any_command(fleet):
    devs = fleet.devices(0)
    devs[5].close()
    with pytest.raises(pr_sdk.DeviceClosedError, match="lun5"):
        pr_sdk.unfence(devs, 0xA0)
    assert fleet.sim.trace() == []


def test_lun_results_can_say_already_fenced():
    r = pr_sdk.LunResult(lun="lun0", ok=True, outcome="already_fenced")
    assert r.already_fenced and r.ok and str(r) == "lun0: already fenced"
    assert not pr_sdk.LunResult(lun="lun0", ok=True).already_fenced
    assert r.to_dict()["outcome"] == "already_fenced"


@pytest.mark.parametrize("abort", [True, False])
def test_retrying_a_fence_reports_already_fenced(fleet, abort):
    node0, node1 = fleet.devices(0), fleet.devices(1)
    pr_sdk.unfence(node0, 0xA0)
    pr_sdk.unfence(node1, 0xB1)
    first = pr_sdk.fence(node1, 0xB1, 0xA0, abort=abort)
    assert all(r.ok and r.outcome == "ok" and not r.already_fenced for r in first)
    again = pr_sdk.fence(node1, 0xB1, 0xA0, abort=abort)
    assert all(r.ok and r.already_fenced for r in again), [str(r) for r in again]
    assert all(r.to_dict()["outcome"] == "already_fenced" for r in again)


def test_a_node_that_is_not_registered_cannot_fence(fleet):
    node0, node1 = fleet.devices(0), fleet.devices(1)
    pr_sdk.unfence(node0, 0xA0)
    results = pr_sdk.fence(node1, 0xB1, 0xA0)
    assert [r.outcome for r in results] == ["failed"] * len(results)
    for r in results:
        assert isinstance(r.error, pr_sdk.ReservationConflictError), r.error
        assert "is not registered" in str(r.error)


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
