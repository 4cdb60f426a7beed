# SPDX-License-Identifier: MIT OR Apache-2.0
"""The blocking API on the simulator: every PR IN and PR OUT action, result objects,
TransportIds, faults, the GIL."""

from __future__ import annotations

import signal
import threading
import time

import pytest

import pr_sdk
from pr_sdk import ReservationType as RT

from conftest import WERO, sim_keys


def test_register_reserve_preempt_and_read_back(cluster):
    a, b = cluster.device(0, 0), cluster.device(1, 0)
    rep = a.register(0xA)
    assert isinstance(rep, pr_sdk.Report)
    assert [s.ok for s in rep.steps] == [True, True]
    assert set(rep.registrations.values()) == {"Changed"}
    assert "REGISTER" in str(rep)
    b.register(0xB)
    a.reserve(0xA, WERO)
    keys = b.read_keys()
    assert isinstance(keys, pr_sdk.Keys)
    assert sorted(keys.keys) == [0xA, 0xA, 0xB, 0xB]
    assert sim_keys(cluster, 0) == [0xA, 0xA, 0xB, 0xB]
    st = a.read_reservation()
    assert st.reservation == pr_sdk.Reservation(key=0xA, type=WERO, type_code=5, scope=0)
    assert isinstance(st.reservation.type, pr_sdk.ReservationType)
    assert "WE_RO" in str(st) and "0xa" in str(st)
    b.preempt_and_abort(0xB, 0xA, WERO)
    assert sim_keys(cluster, 0) == [0xB, 0xB]
    assert cluster.sim.reservation(0) == (5, 0xB)
    assert b.read_reservation().reservation.key == 0xB
    assert b.read_keys().generation == cluster.sim.generation(0)
    # The fenced node's writes... its PR OUT now conflicts.
    with pytest.raises(pr_sdk.ReservationConflictError) as ei:
        a.reserve(0xA, WERO)
    assert ei.value.status == 0x18
    assert ei.value.lun == "lun0"
    assert isinstance(ei.value.report, pr_sdk.Report)


def test_every_pr_out_action(cluster):
    a, b = cluster.device(0, 1), cluster.device(1, 1)
    a.register_and_ignore(0x1)
    a.register(0x2, old_key=0x1)  # key change
    assert sim_keys(cluster, 1) == [0x2, 0x2]
    b.register(0xB)
    a.reserve(0x2, RT.EXCLUSIVE_ACCESS)
    a.release(0x2, RT.EXCLUSIVE_ACCESS)
    assert cluster.sim.reservation(1) is None
    a.reserve(0x2, WERO)
    b.preempt(0xB, 0x2, WERO)  # PREEMPT without abort
    assert cluster.sim.reservation(1) == (5, 0xB)
    assert sim_keys(cluster, 1) == [0xB, 0xB]
    a.register(0x2)
    b.clear(0xB)
    assert sim_keys(cluster, 1) == [] and cluster.sim.reservation(1) is None
    a.register(0x2)
    a.unregister(0x2)
    assert sim_keys(cluster, 1) == []
    # REPLACE LOST RESERVATION after the LUN lost its reservation state.
    a.register(0x3)
    a.reserve(0x3, WERO)
    cluster.sim.lose_reservation(1)
    with pytest.raises(pr_sdk.SenseError) as ei:  # DATA PROTECT until replaced
        b.register_and_ignore(0xB)
    assert (ei.value.sense_key, ei.value.asc, ei.value.ascq) == (0x7, 0x44, 0x01)
    a.replace_lost_reservation(0x3, WERO)
    assert cluster.sim.reservation(1) == (5, 0x3)
    assert sim_keys(cluster, 1) == [0x3, 0x3]


def test_register_and_move_and_spec_i_pt():
    sim = pr_sdk.Sim(target_ports=2)
    lun = sim.add_lun()
    i0 = sim.add_initiator("sas,5001405000000001")
    i1 = sim.add_initiator(pr_sdk.TransportId("sas,5001405000000002"))
    p0 = sim.path(i0, 1, lun, name="me")
    p1 = sim.path(i1, 2, lun, name="other")
    dev = sim.device([p0], name="m")
    other = sim.device([p1], name="o")
    dev.register(0x10)
    dev.reserve(0x10, WERO)
    dev.register_and_move(0x10, 0x20, WERO, "sas,5001405000000002", 2)
    assert sim.reservation(lun) == (5, 0x20)
    assert other.read_reservation().reservation.key == 0x20
    # SPEC_I_PT: one REGISTER registers the other nexus too.
    sim2 = pr_sdk.Sim(target_ports=1)
    l2 = sim2.add_lun()
    j0 = sim2.add_initiator("sas,5001405000000011")
    sim2.add_initiator("sas,5001405000000012")
    d2 = sim2.device([sim2.path(j0, 1, l2)])
    d2.register_spec_i_pt(0x77, [pr_sdk.TransportId("sas,5001405000000012")])
    regs = sim2.registrations(l2)
    assert sorted(str(t) for _k, t, _p in regs) == ["sas,5001405000000011", "sas,5001405000000012"]
    assert {k for k, _t, _p in regs} == {0x77}


def test_pr_in_results_are_plain_printable_objects(cluster):
    a = cluster.device(0, 2)
    a.register(0xABC)
    a.reserve(0xABC, RT.WRITE_EXCLUSIVE)
    fs = a.read_full_status()
    assert isinstance(fs, pr_sdk.FullStatus) and len(fs.entries) == 2
    holder = [e for e in fs.entries if e.holder]
    assert len(holder) == 1 and holder[0].type is RT.WRITE_EXCLUSIVE
    tids = sorted(str(e.transport_id) for e in fs.entries)
    assert tids == sorted(str(p.transport_id) for p in cluster.paths(0, 2))
    assert {e.relative_target_port for e in fs.entries} == {1, 2}
    assert fs.entries[0].transport_id_bytes == fs.entries[0].transport_id.to_bytes()
    caps = a.report_capabilities()
    assert caps.tmv and RT.WRITE_EXCLUSIVE_REGISTRANTS_ONLY in caps.types
    for obj in (fs, caps, a.read_keys(), a.read_reservation()):
        assert str(obj) and repr(obj)
    assert repr(RT(5)) == "<ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 5>"
    assert RT(5).short_name == "WE_RO" and str(RT(5)) == "Write Exclusive, Registrants Only"


def test_transport_id_text_and_binary_forms():
    t = pr_sdk.TransportId("sas,5001405aabbccdd0")
    assert str(t) == "sas,5001405aabbccdd0"
    assert t.protocol_id == 6 and "SAS" in t.protocol.upper()
    assert pr_sdk.TransportId.from_bytes(t.to_bytes()) == t
    assert hash(pr_sdk.TransportId(str(t))) == hash(t)
    i = pr_sdk.TransportId("iqn.2003-01.org.linux-iscsi.host:node1,i,0x23d000000001")
    assert str(i) == "iqn.2003-01.org.linux-iscsi.host:node1,i,0x23d000000001"
    assert i.protocol_id == 5 and "iqn" in i.describe()
    assert repr(i).startswith("TransportId(")
    with pytest.raises(ValueError, match="text"):
        pr_sdk.TransportId("sas,xyz")
    with pytest.raises(ValueError, match="data"):
        pr_sdk.TransportId.from_bytes(b"\x06")


def test_faults_path_down_failover_and_no_usable_path(cluster):
    a = cluster.device(0, 0)
    p0, p1 = cluster.paths(0, 0)
    p0.set_down()
    assert p0.is_down
    keys = a.read_keys()  # fails over to the second path
    assert keys.path == p1.name
    rep = a.register(0xA)
    assert not [s for s in rep.steps if s.path == p1.name and not s.ok]
    # The failed READ KEYS marked p0 failed: the REGISTER skipped it.
    assert p0.name not in a.usable_paths
    assert rep.registrations[p0.name] == "SkippedUnusable"
    a.set_path_usable(p0.name, True)
    rep = a.register_and_ignore(0xA)
    failed = [s for s in rep.steps if s.path == p0.name]
    assert failed and not failed[0].ok and "down" in failed[0].error
    p1.set_down()
    a.set_path_usable(p0.name, True)
    with pytest.raises(pr_sdk.PathDownError) as ei:
        a.read_keys()
    assert isinstance(ei.value, pr_sdk.TransportError) and ei.value.status is None
    for p in (p0, p1):
        p.clear_faults()
        a.set_path_usable(p.name, False)
    assert a.usable_paths == []
    with pytest.raises(pr_sdk.NoUsablePathError):
        a.read_keys()
    with pytest.raises(ValueError, match="path"):
        a.set_path_usable("nope", True)


def test_faults_unit_attention_busy_not_ready_lost_reply(cluster):
    a = cluster.device(0, 0)
    p0, p1 = cluster.paths(0, 0)
    # One unit attention per path is retried transparently (the step shows 2 attempts).
    p0.inject_unit_attention(0x29, 0x00)
    p1.inject_busy()
    rep = a.register(0xA)
    assert all(s.ok for s in rep.steps)
    assert sorted(s.attempts for s in rep.steps) == [2, 2]
    # Persistent unit attentions surface with ASC/ASCQ and the sense bytes.
    for p in (p0, p1):
        p.inject_unit_attention(0x2A, 0x03, count=20)
    with pytest.raises(pr_sdk.UnitAttentionError) as ei:
        a.read_keys()
    e = ei.value
    assert isinstance(e, pr_sdk.SenseError)
    assert (e.status, e.sense_key, e.asc, e.ascq) == (0x02, 0x6, 0x2A, 0x03)
    assert len(e.sense) >= 14 and e.sense[0] & 0x7F == 0x70 and e.sense[12:14] == b"\x2a\x03"
    for p in (p0, p1):
        p.clear_faults()
        p.inject_not_ready(0x04, 0x03, count=20)  # not a retryable cause
    with pytest.raises(pr_sdk.NotReadyError) as ei:
        a.read_keys()
    assert (ei.value.asc, ei.value.ascq) == (0x04, 0x03)
    for p in (p0, p1):
        p.clear_faults()
    # A lost reply: the command executed, the caller saw a timeout on that path.
    p0.lose_replies(1)
    rep = a.register(0xB, old_key=0xA)
    assert [s for s in rep.steps if not s.ok][0].error.startswith("command timed out")
    assert rep.registrations[p0.name] == "Unknown"
    assert sim_keys(cluster, 0) == [0xB, 0xB]  # it did execute


def test_illegal_request_and_type_mismatch(cluster):
    a = cluster.device(0, 0)
    a.register(0xA)
    a.reserve(0xA, WERO)
    with pytest.raises(pr_sdk.IllegalRequestError) as ei:
        a.preempt(0xA, 0, WERO)  # SA key 0 without an all-registrants reservation
    assert (ei.value.status, ei.value.sense_key, ei.value.asc) == (0x02, 0x5, 0x26)
    with pytest.raises(pr_sdk.ReservationConflictError):
        a.release(0xA, RT.EXCLUSIVE_ACCESS)


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda d: d.register("1"), TypeError, "new_key"),
        (lambda d: d.register(-1), ValueError, "new_key"),
        (lambda d: d.register(2**64), ValueError, "new_key"),
        (lambda d: d.register(True), TypeError, "new_key"),
        (lambda d: d.register(1, old_key=1.5), TypeError, "old_key"),
        (lambda d: d.reserve(1, 2), ValueError, "type"),
        (lambda d: d.reserve(1, "WE"), TypeError, "type"),
        (lambda d: d.preempt(1, None, WERO), TypeError, "victim_key"),
        (lambda d: d.register_and_move(1, 2, WERO, "bogus", 1), ValueError, "transport_id"),
        (lambda d: d.register_and_move(1, 2, WERO, 5, 1), TypeError, "transport_id"),
        (lambda d: d.register_and_move(1, 2, WERO, "sas,5001405000000001", 70000), ValueError, "relative_target_port"),
        (lambda d: d.register_spec_i_pt(1, "sas,1"), TypeError, "transport_ids"),
        (lambda d: d.register_spec_i_pt(1, ["bogus"]), ValueError, "transport_ids"),
    ],
)
def test_bad_arguments_raise_type_or_value_error_naming_the_argument(cluster, call, exc, name):
    d = cluster.device(0, 0)
    with pytest.raises(exc, match=name):
        call(d)
    assert cluster.sim.trace() == []  # nothing was sent


def test_bad_simulator_arguments(cluster):
    p = cluster.paths(0, 0)[0]
    with pytest.raises(ValueError, match="seconds"):
        p.set_latency(-1)
    with pytest.raises(TypeError, match="seconds"):
        p.set_latency("1")
    with pytest.raises(ValueError, match="asc"):
        p.inject_unit_attention(256, 0)
    with pytest.raises(ValueError, match="node"):
        cluster.device(5, 0)
    with pytest.raises(ValueError, match="personality"):
        cluster.sim.add_lun("nope")
    with pytest.raises(ValueError):
        cluster.sim.path(99, 1, 0)
    with pytest.raises(ValueError, match="target_ports"):
        pr_sdk.Sim(target_ports=0)


def test_open_errors_without_root_or_hardware():
    with pytest.raises(pr_sdk.DeviceNotFoundError) as ei:
        pr_sdk.Device.open_path("/dev/pr-sdk-does-not-exist")
    assert isinstance(ei.value, FileNotFoundError) and isinstance(ei.value, pr_sdk.PrError)
    with pytest.raises(pr_sdk.DeviceNotFoundError):
        pr_sdk.Device.open("/dev/mapper/pr-sdk-does-not-exist")
    with pytest.raises(pr_sdk.PrError, match="not a SCSI device"):
        pr_sdk.Device.open("/dev/null")


def test_open_errors_name_what_was_given(tmp_path):
    with pytest.raises(pr_sdk.DeviceNotFoundError, match=r"^mpathzz: no such multipath map or device") as ei:
        pr_sdk.Device.open("mpathzz")
    assert isinstance(ei.value, FileNotFoundError)
    with pytest.raises(ValueError) as ev:
        pr_sdk.Device.open("")
    assert isinstance(ev.value, pr_sdk.InvalidArgumentError) and isinstance(ev.value, pr_sdk.PrError)
    f = tmp_path / "file"
    f.write_bytes(b"x")
    for what, how in ((str(f), "regular file"), (str(tmp_path), "directory"), ("/dev/null", "")):
        for opener in (pr_sdk.Device.open, pr_sdk.Device.open_map, pr_sdk.Device.open_path):
            with pytest.raises(pr_sdk.NotScsiDeviceError, match=f"^{what}: not a SCSI device.*{how}") as en:
                opener(what)
            assert isinstance(en.value, ValueError) and isinstance(en.value, pr_sdk.PrError)
    with pytest.raises(pr_sdk.DeviceNotFoundError, match="^pr-sdk-no-such-map: no such"):
        pr_sdk.Device.open_map("pr-sdk-no-such-map")


def test_close_and_the_context_manager(cluster):
    d = cluster.device(0, 0)
    with d as same:
        assert same is d and not d.closed
        same.register(0xA)
    assert d.closed and d.aio.closed  # both views of the device
    assert d.name == "lun0" and d.simulated and "closed" in repr(d)
    for use in (d.read_keys, lambda: d.register(0xB), lambda: d.paths, lambda: d.set_path_usable("x", True)):
        with pytest.raises(pr_sdk.DeviceClosedError, match="lun0: the device is closed") as ei:
            use()
        assert isinstance(ei.value, ValueError)
    with pytest.raises(pr_sdk.DeviceClosedError):
        with d:
            pass
    d.close()  # idempotent
    assert sim_keys(cluster, 0) == [0xA, 0xA]
    # An exception in the block closes the device too, and propagates.
    e = cluster.device(0, 1)
    with pytest.raises(KeyError):
        with e:
            raise KeyError("x")
    assert e.closed
    # Closing one view closes the other.
    f = cluster.device(0, 2)
    f.aio.close()
    with pytest.raises(pr_sdk.DeviceClosedError):
        f.read_keys()


@pytest.mark.parametrize("where", ["call", "sync"])
def test_a_panic_is_an_internal_error(where):
    with pytest.raises(pr_sdk.InternalError, match="deliberate panic") as ei:
        pr_sdk._native._debug_panic(where)
    assert "please report this bug to the pr-sdk developers" in str(ei.value)
    assert "example.invalid" not in str(ei.value)


def test_the_gil_is_released_while_waiting(cluster):
    """Two threads, each waiting 0.4 s on a simulated path, finish together, and the main
    thread keeps running Python meanwhile."""
    devs = [cluster.device(0, 0), cluster.device(0, 1)]
    for lun in (0, 1):
        for p in cluster.paths(0, lun):
            p.set_latency(0.4)
    ticks = 0
    done = threading.Event()

    def work(d):
        d.read_keys()

    threads = [threading.Thread(target=work, args=(d,)) for d in devs]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        ticks += 1
        time.sleep(0.001)
    elapsed = time.monotonic() - t0
    done.set()
    assert elapsed < 0.75, elapsed  # serial would be 0.8 s
    assert ticks > 50


def test_a_signal_interrupts_a_blocking_wait(cluster):
    d = cluster.device(0, 0)
    for p in cluster.paths(0, 0):
        p.set_latency(5.0)

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t0 = time.monotonic()
        with pytest.raises(Interrupted):
            d.register(0xA)
        assert time.monotonic() - t0 < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    # Dropped during its latency: the REGISTER never reached the simulated LUN.
    time.sleep(0.1)
    assert sim_keys(cluster, 0) == []


def test_device_views_share_one_lun(cluster):
    d = cluster.device(0, 0)
    assert d.aio.sync.name == d.name == "lun0"
    assert d.paths == [p.name for p in cluster.paths(0, 0)] and d.simulated
    assert "lun0" in repr(d)
    assert cluster.nodes == 2 and cluster.luns == [0, 1, 2] and len(cluster.devices(1)) == 3


def test_lio_personality_and_trace():
    c = pr_sdk.Sim.cluster(nodes=1, paths_per_node=1, luns=1, personality="lio")
    d = c.device(0, 0)
    d.register(0x5)
    trace = c.sim.trace()
    assert trace and "5f" in trace[-1]
    c.sim.clear_trace()
    assert c.sim.trace() == []
    assert "reg 0000000000000005" in c.sim.state_text(0)
    c.sim.power_cycle()
    assert d.read_keys().keys == ()  # LIO state without APTPL is lost


def test_the_interpreter_exits_cleanly_with_daemon_threads_waiting():
    """Daemon threads inside blocking calls while Python exits, and operations ending (and
    being logged) during the interpreter's finalization: the process ends with status 0.
    (Before Python 3.14, a thread that takes the GIL during finalization is ended with
    pthread_exit, which aborted the process when it unwound through the module.)"""
    import subprocess
    import sys

    code = """
import logging, threading, time
import pr_sdk
logging.basicConfig(level=logging.DEBUG)
c = pr_sdk.Sim.cluster(nodes=1, paths_per_node=1, luns=3)
for lun, s in ((0, 5.0), (1, 0.1), (2, 5.0)):
    for p in c.paths(0, lun):
        p.set_latency(s)
d = c.devices(0)
threading.Thread(target=d[0].read_keys, daemon=True).start()
threading.Thread(target=d[1].read_keys, daemon=True).start()
threading.Thread(target=pr_sdk.unfence, args=(d[1:], 0xA), kwargs={"progress": print}, daemon=True).start()
class Slow:
    def __del__(self):  # keeps the finalization going while the threads wake up
        time.sleep(0.4)
slow = Slow()
time.sleep(0.02)
print("exiting", flush=True)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "exiting\n", (r.returncode, r.stdout, r.stderr)
    assert "FATAL" not in r.stderr
