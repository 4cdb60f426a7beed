# SPDX-License-Identifier: MIT OR Apache-2.0
"""The asyncio API on the simulator: awaitables, concurrency, cancellation, errors."""

from __future__ import annotations

import asyncio
import time

import pytest

import pr_sdk

from conftest import WERO, sim_keys


def test_async_actions_and_results(cluster):
    async def main():
        a, b = cluster.device(0, 0).aio, cluster.device(1, 0).aio
        assert isinstance(a, pr_sdk.AsyncDevice)
        rep = await a.register(0xA)
        assert isinstance(rep, pr_sdk.Report)
        await b.register_and_ignore(0xB)
        await a.reserve(0xA, WERO)
        keys = await b.read_keys()
        assert sorted(keys.keys) == [0xA, 0xA, 0xB, 0xB]
        st = await b.read_reservation()
        assert st.reservation.key == 0xA and st.reservation.type is WERO
        fs = await a.read_full_status()
        assert len(fs.entries) == 4
        caps = await a.report_capabilities()
        assert caps.tmv
        await b.preempt_and_abort(0xB, 0xA, WERO)
        with pytest.raises(pr_sdk.ReservationConflictError) as ei:
            await a.reserve(0xA, WERO)
        assert ei.value.status == 0x18
        await a.refresh()

    asyncio.run(main())
    assert sim_keys(cluster, 0) == [0xB, 0xB]


def test_async_open_errors():
    async def main():
        with pytest.raises(pr_sdk.DeviceNotFoundError):
            await pr_sdk.AsyncDevice.open_path("/dev/pr-sdk-does-not-exist")
        with pytest.raises(pr_sdk.DeviceNotFoundError):
            await pr_sdk.AsyncDevice.open("/dev/mapper/pr-sdk-does-not-exist")
        with pytest.raises(pr_sdk.DeviceNotFoundError):
            await pr_sdk.AsyncDevice.open_map("/dev/mapper/pr-sdk-does-not-exist")

    asyncio.run(main())


def test_bad_arguments_raise_at_call_time(cluster):
    d = cluster.device(0, 0).aio
    with pytest.raises(TypeError, match="key"):
        d.reserve("x", WERO)  # before any awaitable exists
    with pytest.raises(ValueError, match="type"):
        d.reserve(1, 4)


def test_gather_runs_concurrently():
    """16 LUNs, 0.1 s of latency per command: concurrently in about one latency, serially
    in at least 16."""
    c = pr_sdk.Sim.cluster(nodes=1, paths_per_node=1, luns=16)
    for lun in range(16):
        for p in c.paths(0, lun):
            p.set_latency(0.1)
    devs = [d.aio for d in c.devices(0)]

    async def main():
        t0 = time.monotonic()
        results = await asyncio.gather(*(d.register(0x42) for d in devs))
        concurrent = time.monotonic() - t0
        t0 = time.monotonic()
        for d in devs:
            await d.read_keys()
        serial = time.monotonic() - t0
        return results, concurrent, serial

    results, concurrent, serial = asyncio.run(main())
    assert len(results) == 16 and all(isinstance(r, pr_sdk.Report) for r in results)
    assert serial >= 1.6
    assert concurrent < serial / 4, (concurrent, serial)
    assert all(sim_keys(c, lun) == [0x42] for lun in range(16))


def test_cancelling_a_pr_out_in_flight(cluster):
    """task.cancel() on a REGISTER waiting out its path latency: CancelledError, and the
    command never reaches the simulated LUN (a real device may already have it)."""
    for p in cluster.paths(0, 0):
        p.set_latency(0.5)
    d = cluster.device(0, 0).aio

    async def main():
        task = asyncio.ensure_future(d.register(0xA))
        await asyncio.sleep(0.1)
        assert not task.done()
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - t0 < 0.3
        await asyncio.sleep(0.6)  # past the latency: nothing executes late

    asyncio.run(main())
    assert sim_keys(cluster, 0) == []
    assert not [t for t in cluster.sim.trace() if " 5f " in t]
    # The LUN is still usable afterwards.
    for p in cluster.paths(0, 0):
        p.set_latency(None)
    cluster.device(0, 0).register(0xA)
    assert sim_keys(cluster, 0) == [0xA, 0xA]


def test_cancelling_with_a_timeout(cluster):
    for p in cluster.paths(0, 1):
        p.set_latency(1.0)
    d = cluster.device(0, 1).aio

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(d.read_keys(), 0.1)

    asyncio.run(main())


def test_asyncio_run_of_a_method_call(cluster):
    """The coroutine is made outside any event loop and run by asyncio.run (the
    awaitable's asyncio future is made when it is first awaited)."""
    d = cluster.device(0, 0)
    assert asyncio.run(d.aio.register(0xA)).lun == "lun0"
    keys = asyncio.run(d.aio.read_keys())
    assert isinstance(keys, pr_sdk.Keys) and keys.keys == (0xA, 0xA)
    devs = cluster.devices(1)
    assert all(r.ok for r in asyncio.run(pr_sdk.unfence_async(devs, 0xB)))
    with pytest.raises(pr_sdk.DeviceNotFoundError):
        asyncio.run(pr_sdk.AsyncDevice.open_path("/dev/pr-sdk-does-not-exist"))
    with pytest.raises(pr_sdk.InternalError):
        asyncio.run(pr_sdk._native._debug_panic("async"))
    # The same coroutine cannot run twice; one never awaited sends nothing.
    co = d.aio.read_keys()
    asyncio.run(co)
    with pytest.raises(RuntimeError, match="already awaited"):
        asyncio.run(co)
    cluster.sim.clear_trace()
    never = d.aio.register(0xC)
    assert "not started" in repr(never)
    never.close()
    del never
    assert cluster.sim.trace() == []


def test_async_with_closes(cluster):
    async def main():
        async with cluster.device(0, 0).aio as d:
            assert isinstance(d, pr_sdk.AsyncDevice)
            await d.register(0xA)
        assert d.closed
        with pytest.raises(pr_sdk.DeviceClosedError):
            d.read_keys()  # raised at call time, before any awaitable exists
        with pytest.raises(pr_sdk.DeviceClosedError):
            async with d:
                pass

    asyncio.run(main())
    assert sim_keys(cluster, 0) == [0xA, 0xA]


def test_a_panic_in_a_task_is_an_internal_error():
    async def main():
        with pytest.raises(pr_sdk.InternalError, match="deliberate panic"):
            await pr_sdk._native._debug_panic("async")

    asyncio.run(main())
