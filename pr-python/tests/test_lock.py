# SPDX-License-Identifier: MIT OR Apache-2.0
"""Disk locks (pr-lock) from Python on the simulator: two hosts with two paths each to a
simulated LUN, and lock files in temporary lockspace directories (no root, no hardware).
The device server's own state (``cluster.sim``) is the ground truth."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pr_sdk
from conftest import sim_keys as sim_registrations

WERO = 5  # Write Exclusive, Registrants Only
WEAR = 7  # Write Exclusive, All Registrants
DISK = "/dev/mapper/mpatha"


def sim_keys(cluster: pr_sdk.SimCluster, lun: int) -> list:
    """The distinct keys registered on ``lun`` (one registration per path)."""
    return sorted(set(sim_registrations(cluster, lun)))


def test_lun_lock_refused_naming_the_holder_then_forced(cluster):
    a, b = cluster.device(0, 0), cluster.device(1, 0)
    with pr_sdk.LunLock(a, 0x1111) as la:
        assert la.held and la.key == 0x1111 and not la.shared
        assert cluster.sim.reservation(0) == (WERO, 0x1111)
        with pytest.raises(pr_sdk.LockHeldError) as e:
            pr_sdk.LunLock(b, 0x2222).acquire()
        assert e.value.holders == [0x1111]
        assert e.value.lun == "lun0"
        assert "held by key 0x1111" in str(e.value)
        assert isinstance(e.value, pr_sdk.PrError)
        assert sim_keys(cluster, 0) == [0x1111]  # nothing of the refused host left
        lb = pr_sdk.LunLock(b, 0x2222, force=True)
        lb.acquire()
        assert cluster.sim.reservation(0) == (WERO, 0x2222)
        assert sim_keys(cluster, 0) == [0x2222]
        # The fenced holder's release says it no longer holds the LUN, and changes nothing.
        with pytest.raises(pr_sdk.LockNotHeldError):
            la.release()
        assert not la.held
        lb.release()
    assert sim_keys(cluster, 0) == [] and cluster.sim.reservation(0) is None


def test_lun_lock_shared(cluster):
    a, b = cluster.device(0, 1), cluster.device(1, 1)
    with pr_sdk.LunLock(a, 0xA, shared=True), pr_sdk.LunLock(b, 0xB, shared=True):
        assert sim_keys(cluster, 1) == [0xA, 0xB]
        assert cluster.sim.reservation(1) == (WEAR, None)
        with pytest.raises(pr_sdk.LockHeldError) as e:
            pr_sdk.LunLock(cluster.device(1, 1), 0xC).acquire()
        assert sorted(e.value.holders) == [0xA, 0xB]
    assert sim_keys(cluster, 1) == [] and cluster.sim.reservation(1) is None


def test_disk_lock_context_manager(cluster, tmp_path):
    a, b = cluster.device(0, 2), cluster.device(1, 2)
    with pr_sdk.DiskLock(DISK, key=0x1111, file_lockspace=tmp_path, device=a) as lock:
        assert lock.held and lock.file_only_reason is None
        assert lock.lock_file is not None and os.path.exists(lock.lock_file)
        assert os.path.dirname(lock.lock_file) == str(tmp_path)
        assert lock.resource_name == "d567a9c3051344738f98c4aaaeb4dc21fe7e8480ec3e42b21113beb9c545b757"
        assert cluster.sim.reservation(2) == (WERO, 0x1111)
        # Another host, another lockspace (so only the LUN decides): refused, naming 0x1111.
        other = tmp_path / "other"
        other.mkdir()
        with pytest.raises(pr_sdk.LockHeldError) as e:
            with pr_sdk.DiskLock(DISK, key=0x2222, file_lockspace=other, device=b):
                pytest.fail("the body must not run")
        assert e.value.holders == [0x1111]
        assert os.listdir(other) == []
    assert not lock.held and lock.lock_file is None
    assert os.listdir(tmp_path) == ["other"]
    assert sim_keys(cluster, 2) == [] and cluster.sim.reservation(2) is None


def test_disk_lock_released_when_the_body_raises(cluster, tmp_path):
    with pytest.raises(RuntimeError):
        with pr_sdk.DiskLock(DISK, key=0x1111, file_lockspace=tmp_path, device=cluster.device(0, 0)):
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    assert sim_keys(cluster, 0) == []


def test_lock_file_held_by_another_process(tmp_path):
    # fcntl locks belong to the process: the contender is a child Python process.
    code = (
        "import sys, pr_sdk\n"
        "try:\n"
        f"    pr_sdk.DiskLock({DISK!r}, file_lockspace={str(tmp_path)!r}, shared=sys.argv[1] == 's').acquire()\n"
        "except pr_sdk.LockHeldError as e:\n"
        "    print('held', e.lock_file, e.holders); sys.exit(4)\n"
    )

    def child(mode: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True)

    with pr_sdk.DiskLock(DISK, file_lockspace=tmp_path) as lock:
        assert lock.key is None and lock.file_only_reason == "no reservation key given"
        r = child("x")
        assert r.returncode == 4, r.stderr
        assert r.stdout == f"held {lock.lock_file} []\n"
        assert child("s").returncode == 4
    with pr_sdk.DiskLock(DISK, file_lockspace=tmp_path, shared=True):
        assert child("s").returncode == 0
        assert child("x").returncode == 4
    assert os.listdir(tmp_path) == []


def test_disk_lock_errors(cluster, tmp_path):
    with pytest.raises(pr_sdk.LockError, match="lockspace directory does not exist"):
        pr_sdk.DiskLock(DISK, file_lockspace=tmp_path / "missing").acquire()
    with pytest.raises(ValueError):
        pr_sdk.DiskLock("relative/disk", file_lockspace=tmp_path).acquire()
    with pytest.raises(ValueError, match="contradict"):
        pr_sdk.DiskLock(DISK, device=cluster.device(0, 0), file_only=True)
    with pytest.raises(ValueError):
        pr_sdk.LunLock(cluster.device(0, 0), 0)
    with pytest.raises(TypeError):
        pr_sdk.LunLock(cluster.device(0, 0), "1")  # type: ignore[arg-type]
    lock = pr_sdk.DiskLock(DISK, file_lockspace=tmp_path, file_only=True)
    with lock:
        with pytest.raises(ValueError, match="already held"):
            lock.acquire()
        assert lock.file_only_reason == "no reservation key given"
    lock.release()  # not held: nothing to do
    # A lock that is never released goes when the object does.
    held = pr_sdk.DiskLock(DISK, key=0x1111, file_lockspace=tmp_path, device=cluster.device(0, 0))
    held.acquire()
    del held
    assert os.listdir(tmp_path) == [] and sim_keys(cluster, 0) == []


def test_repr(cluster):
    lock = pr_sdk.LunLock(cluster.device(0, 0), 0x1111, shared=True)
    assert repr(lock) == 'LunLock("lun0", key=0x1111, shared=True, held=False)'


def test_image_file_gets_the_lock_file_only(tmp_path):
    image = tmp_path / "vm1.qcow2"
    image.write_bytes(b"\0" * 4096)
    space = tmp_path / "files"
    space.mkdir()
    with pr_sdk.DiskLock(str(image), key=0x1111, file_lockspace=space) as lock:
        reason = lock.file_only_reason
        assert reason is not None and "not a SCSI device" in reason, reason
        assert os.listdir(space) == [lock.resource_name]
    assert os.listdir(space) == []


@pytest.mark.parametrize("preempt, sent, not_sent", [(True, "cdb 5f 04", "cdb 5f 05"), (False, "cdb 5f 05", "cdb 5f 04")])
def test_force_sends_preempt_and_abort_or_preempt(cluster, preempt, sent, not_sent):
    # PERSISTENT RESERVE OUT service action 04h PREEMPT, 05h PREEMPT AND ABORT.
    a, b = cluster.device(0, 1), cluster.device(1, 1)
    # The fenced holder's context manager raises on exit: its lock was taken away.
    with pytest.raises(pr_sdk.LockNotHeldError, match="0xa is not registered"):
        with pr_sdk.LunLock(a, 0xA):
            cluster.sim.clear_trace()
            with pr_sdk.LunLock(b, 0xB, force=True, preempt=preempt):
                assert sim_keys(cluster, 1) == [0xB]
                assert cluster.sim.reservation(1) == (WERO, 0xB)
            trace = "\n".join(cluster.sim.trace())
            assert sent in trace and not_sent not in trace, trace
    assert sim_keys(cluster, 1) == [] and cluster.sim.reservation(1) is None
