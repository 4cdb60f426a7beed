# SPDX-License-Identifier: MIT OR Apache-2.0
"""The qemu-pr-helper protocol client (HelperClient) against pr-helper's server run in
this process on a simulated LUN (SimHelper): every descriptor a client sends reaches the
simulated LUN, so /dev/null serves as the device. The same client talks to the real
daemon or QEMU's qemu-pr-helper on real devices (pr-helper/tests/lab_compare.rs compares
those two in the lab)."""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import threading
import time

import pytest

import pr_sdk
from pr_sdk import ReservationType as RT

from conftest import WERO, sim_keys


@pytest.fixture
def sockdir():
    # Unix socket paths are limited to 107 bytes: not pytest's long tmp_path.
    d = tempfile.mkdtemp(prefix="prh", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lio():
    """Two nodes of one LIO-like LUN: node 0 with two paths (a map), node 1 with one."""
    sim = pr_sdk.Sim()
    lun = sim.add_lun("lio")
    a, b, c = (sim.add_initiator(f"naa.50014050000000{i:02x}") for i in range(3))
    ports = sim.target_ports
    node0 = sim.device([sim.path(a, ports[0], lun), sim.path(b, ports[1 % len(ports)], lun)], name="mpatha")
    node1 = sim.device([sim.path(c, ports[0], lun)], name="sdz")
    return sim, lun, node0, node1


@pytest.fixture
def helpers(lio, sockdir):
    sim, lun, node0, node1 = lio
    h0 = pr_sdk.SimHelper(node0, os.path.join(sockdir, "a.sock"))
    h1 = pr_sdk.SimHelper(node1, pathlib.Path(sockdir) / "b.sock")
    yield sim, lun, h0, h1
    h0.close()
    h1.close()


def test_actions_through_the_helper_match_the_device(helpers):
    sim, lun, h0, h1 = helpers
    with pr_sdk.HelperClient(h0.socket_path) as a, pr_sdk.HelperClient(h1.socket_path, timeout=10) as b:
        r = a.register_and_ignore("/dev/null", 0xA)
        assert isinstance(r, pr_sdk.HelperReply)
        assert (r.ok, r.status, r.result, r.sense, r.data) == (True, 0, 0, b"", b"")
        # Through a map: REGISTER reaches both paths.
        assert sorted(k for k, _t, _p in sim.registrations(lun)) == [0xA, 0xA]
        a.reserve("/dev/null", 0xA, WERO)
        keys = a.read_keys("/dev/null")
        assert isinstance(keys, pr_sdk.Keys)
        assert (sorted(keys.keys), keys.generation, keys.path) == ([0xA, 0xA], sim.generation(lun), "/dev/null")
        st = b.read_reservation(pathlib.Path("/dev/null"))
        assert st.reservation == pr_sdk.Reservation(key=0xA, type=WERO, type_code=5, scope=0)
        caps = a.report_capabilities("/dev/null")
        assert isinstance(caps, pr_sdk.Capabilities) and caps.sip_c and caps.atp_c
        fs = a.read_full_status("/dev/null")
        assert len(fs.entries) == 2 and sum(e.holder for e in fs.entries) == 1  # the reserving nexus
        # Another node: RESERVE conflicts (raised), then it preempts node 0.
        b.register("/dev/null", 0xB)
        with pytest.raises(pr_sdk.ReservationConflictError) as e:
            b.reserve("/dev/null", 0xB, WERO)
        assert (e.value.status, e.value.sense) == (0x18, b"")
        assert "RESERVE on /dev/null" in str(e.value)
        b.preempt("/dev/null", 0xB, 0xA, RT.EXCLUSIVE_ACCESS)
        assert sim_keys_of(sim, lun) == [0xB]
        assert sim.reservation(lun) == (RT.EXCLUSIVE_ACCESS, 0xB)
        # Node 0's next command through the map: pr-multipath retries past the unit
        # attention.
        assert a.read_keys("/dev/null").keys == (0xB,)
        b.release("/dev/null", 0xB, RT.EXCLUSIVE_ACCESS)
        a.register_and_ignore("/dev/null", 0xA)
        b.clear("/dev/null", 0xB)
        assert sim.registrations(lun) == [] and sim.reservation(lun) is None
        b.register("/dev/null", 0xC)
        b.unregister("/dev/null", 0xC)
        assert sim.registrations(lun) == []


def sim_keys_of(sim, lun):
    return sorted(k for k, _t, _p in sim.registrations(lun))


def test_raw_requests_return_the_reply_whatever_the_status(helpers):
    sim, lun, h0, h1 = helpers
    c = pr_sdk.HelperClient(h1.socket_path)
    params = (0).to_bytes(8, "big") + (0xD).to_bytes(8, "big") + bytes(8)
    r = c.pr_out("/dev/null", 6, params)
    assert r.ok and sim_keys_of(sim, lun) == [0xD]
    # A reservation type the device rejects: CHECK CONDITION, ILLEGAL REQUEST, returned.
    r = c.pr_out("/dev/null", 1, (0xD).to_bytes(8, "big") + bytes(16), type=0xF)
    assert (r.ok, r.status, r.sense_key, r.data) == (False, 2, 5, b"")
    assert len(r.sense) >= 14 and r.sense[0] & 0x7F in (0x70, 0x72)
    assert "status 0x02, sense 5/" in str(r)
    assert r.to_dict()["sense"] == r.sense.hex()
    # PR IN: the data, cut to the allocation length.
    r = c.pr_in("/dev/null", 0)
    assert r.ok and len(r.data) == 16 and r.data[8:16] == (0xD).to_bytes(8, "big")
    r = c.pr_in("/dev/null", 0, 12)
    assert len(r.data) == 12
    # The raw CDB: READ KEYS, 10 bytes given, padded to 16.
    r = c.call("/dev/null", bytes([0x5E, 0, 0, 0, 0, 0, 0, 0x20, 0, 0]))
    assert r.ok and len(r.data) == 16
    # A service action the device does not know: ILLEGAL REQUEST, no data.
    r = c.pr_in("/dev/null", 0x1F)
    assert (r.status, r.sense_key, r.data) == (2, 5, b"")
    c.close()


def test_device_arguments(helpers):
    sim, lun, h0, h1 = helpers
    c = pr_sdk.HelperClient(h1.socket_path)
    with open("/dev/null", "r+b") as f:
        c.register_and_ignore(f, 0x1)  # fileno()
        c.register_and_ignore(f.fileno(), 0x2)  # int (a duplicate is sent)
        c.register_and_ignore(b"/dev/null", 0x3)  # bytes path
        assert f.write(b"x") == 1  # the caller's descriptor is still open
    assert sim_keys_of(sim, lun) == [0x3]
    # PR OUT on a descriptor opened read-only: refused as qemu-pr-helper does (5/20/00).
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        r = c.pr_out(fd, 6, bytes(24))
        assert (r.status, r.sense_key, r.asc, r.ascq) == (2, 5, 0x20, 0)
        with pytest.raises(pr_sdk.IllegalRequestError) as e:
            c.register_and_ignore(fd, 0x4)
        assert (e.value.sense_key, e.value.asc, e.value.ascq) == (5, 0x20, 0)
        assert c.read_keys(fd).keys == (0x3,)  # PR IN on it works
    finally:
        os.close(fd)
    with pytest.raises(TypeError, match="device must be"):
        c.read_keys(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an open file descriptor"):
        c.read_keys(10**6)
    with pytest.raises(pr_sdk.DeviceNotFoundError, match="/no/such/device"):
        c.read_keys("/no/such/device")
    with pytest.raises(pr_sdk.InvalidArgumentError):
        c.read_keys("")
    assert not c.closed  # none of these reached the helper


def test_requests_the_protocol_cannot_carry_are_refused_before_sending(helpers):
    _sim, _lun, _h0, h1 = helpers
    c = pr_sdk.HelperClient(h1.socket_path)
    inquiry = bytes([0x12, 0, 0, 0, 36, 0])
    with pytest.raises(pr_sdk.InvalidArgumentError, match="operation code 0x12"):
        c.call("/dev/null", inquiry)
    with pytest.raises(ValueError, match="8192"):
        c.pr_in("/dev/null", 0, 8193)
    with pytest.raises(pr_sdk.InvalidArgumentError, match="the data is 8 bytes, the CDB says 24"):
        c.call("/dev/null", bytes([0x5F, 6, 0, 0, 0, 0, 0, 0, 24, 0]), bytes(8))
    with pytest.raises(pr_sdk.InvalidArgumentError, match="at most 16 bytes"):
        c.call("/dev/null", bytes(17))
    with pytest.raises(ValueError, match="service_action"):
        c.pr_in("/dev/null", 0x20)
    with pytest.raises(ValueError, match="type"):
        c.reserve("/dev/null", 1, 0xF)
    with pytest.raises(ValueError, match="key"):
        c.register("/dev/null", -1)
    with pytest.raises(pr_sdk.InvalidArgumentError, match="above the protocol"):
        c.pr_out("/dev/null", 6, bytes(8193))
    # The connection is still usable.
    assert c.pr_in("/dev/null", 0).ok


def test_connection_errors(helpers, sockdir):
    _sim, _lun, h0, h1 = helpers
    with pytest.raises(pr_sdk.HelperConnectionError, match="nothing.sock") as e:
        pr_sdk.HelperClient(os.path.join(sockdir, "nothing.sock"))
    assert isinstance(e.value, ConnectionError)
    with pytest.raises(TypeError, match="socket_path"):
        pr_sdk.HelperClient(3)  # type: ignore[arg-type]
    c = pr_sdk.HelperClient(h0.socket_path)
    c.close()
    c.close()
    assert c.closed and "closed" in repr(c)
    with pytest.raises(pr_sdk.HelperConnectionError, match="closed"):
        c.read_keys("/dev/null")
    # The server stops: it closes the idle connection; the next request fails and
    # closes the client.
    d = pr_sdk.HelperClient(h1.socket_path, timeout=10)
    assert d.read_keys("/dev/null").keys == ()
    h1.close()
    assert h1.closed and not os.path.exists(h1.socket_path)
    with pytest.raises(pr_sdk.HelperConnectionError):
        d.read_keys("/dev/null")
    assert d.closed


def test_sim_helper_arguments(lio, sockdir):
    _sim, _lun, node0, _node1 = lio
    path = os.path.join(sockdir, "x.sock")
    with pr_sdk.SimHelper(node0, path) as h:
        assert h.socket_path == path and os.path.exists(path)
        # The socket exists: a second server cannot bind it.
        with pytest.raises(OSError):
            pr_sdk.SimHelper(node0, path)
        assert "SimHelper" in repr(h)
    assert not os.path.exists(path)
    with pytest.raises(TypeError):
        pr_sdk.SimHelper("mpatha", path)  # type: ignore[arg-type]
    node0.close()
    with pytest.raises(pr_sdk.DeviceClosedError):
        pr_sdk.SimHelper(node0, path)


def test_many_clients_at_once_and_the_gil_is_released(helpers):
    sim, lun, h0, _h1 = helpers
    clients = [pr_sdk.HelperClient(h0.socket_path, timeout=30) for _ in range(8)]
    errors = []

    def work(i):
        try:
            for _ in range(5):
                clients[i].register_and_ignore("/dev/null", 0x100 + i)
                clients[i].read_keys("/dev/null")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Node 0's two nexuses: each holds the key of the last REGISTER it saw.
    keys = sim_keys_of(sim, lun)
    assert len(keys) == 2 and all(0x100 <= k < 0x108 for k in keys)
    # One client shared by threads: requests take turns, none is lost.
    shared = clients[0]
    out = []
    ts = [threading.Thread(target=lambda: out.append(shared.read_keys("/dev/null").generation)) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(out) == 6
    for c in clients:
        c.close()


def test_a_slow_device_does_not_hold_the_gil(sockdir):
    sim = pr_sdk.Sim()
    lun = sim.add_lun("lio")
    i = sim.add_initiator("naa.5001405000000011")
    path = sim.path(i, sim.target_ports[0], lun)
    dev = sim.device([path], name="sdq")
    path.set_latency(0.3)
    with pr_sdk.SimHelper(dev, os.path.join(sockdir, "s.sock")) as h:
        c = pr_sdk.HelperClient(h.socket_path)
        ticks = []
        stop = threading.Event()

        def tick():
            while not stop.is_set():
                ticks.append(time.monotonic())
                time.sleep(0.01)

        t = threading.Thread(target=tick)
        t.start()
        t0 = time.monotonic()
        c.read_keys("/dev/null")
        took = time.monotonic() - t0
        stop.set()
        t.join()
        assert took >= 0.25
        assert len([x for x in ticks if t0 <= x <= t0 + took]) >= 5
        c.close()
