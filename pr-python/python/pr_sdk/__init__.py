# SPDX-License-Identifier: MIT OR Apache-2.0
"""pr_sdk: SCSI Persistent Reservations on Linux, from Python.

Open a LUN (a dm-multipath map, a path device, or simulated paths) and run every
PERSISTENT RESERVE IN/OUT action on it, blocking (:class:`Device`, the GIL released while
it waits) or with asyncio (:class:`AsyncDevice`); fence and unfence many LUNs at once
(:func:`fence`, :func:`unfence`, and their ``_async`` forms) with a result per LUN,
progress and cancellation; test cluster logic without hardware on the simulator
(:class:`Sim`); talk to any qemu-pr-helper-compatible helper over its socket
(:class:`HelperClient`; :class:`SimHelper` serves a simulated LUN that way). Errors are
:class:`PrError` subclasses carrying status and sense.
Results are plain data (``to_dict()``, picklable). Rust-side log records go to the
:mod:`logging` logger ``pr_sdk`` (children ``pr_sdk.<rust target>``).

Example::

    import pr_sdk
    cluster = pr_sdk.Sim.cluster(nodes=2, paths_per_node=2, luns=1)
    a, b = cluster.device(0, 0), cluster.device(1, 0)
    a.register(0xA); b.register(0xB)
    a.reserve(0xA, pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY)
    b.preempt_and_abort(0xB, 0xA, pr_sdk.ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY)
    print(b.read_keys(), b.read_reservation())
"""

from __future__ import annotations

from ._native import (
    AsyncDevice,
    CancelToken,
    Device,
    DiskLock,
    HelperClient,
    LunLock,
    Sim,
    SimCluster,
    SimHelper,
    SimPath,
    TransportId,
    __version__,
    fence,
    fence_async,
    unfence,
    unfence_async,
)
from ._types import (
    Capabilities,
    FullStatus,
    HelperReply,
    Keys,
    LunResult,
    Progress,
    Report,
    Reservation,
    ReservationState,
    ReservationType,
    StatusEntry,
    Step,
)
from .errors import (
    CommandStatusError,
    CommandTimeoutError,
    DeviceClosedError,
    DeviceNotFoundError,
    HelperConnectionError,
    IllegalRequestError,
    InternalError,
    InvalidArgumentError,
    KeyMismatchError,
    LockError,
    LockHeldError,
    LockNotHeldError,
    NotAMultipathMapError,
    NotScsiDeviceError,
    NotReadyError,
    NoUsablePathError,
    OperationCancelledError,
    PathDownError,
    PermissionDeniedError,
    PrError,
    ReservationConflictError,
    SafetyCheckError,
    SenseError,
    TransportError,
    UnitAttentionError,
)

__all__ = [
    "__version__",
    "AsyncDevice",
    "CancelToken",
    "Capabilities",
    "CommandStatusError",
    "CommandTimeoutError",
    "Device",
    "DeviceClosedError",
    "DeviceNotFoundError",
    "FullStatus",
    "HelperClient",
    "HelperConnectionError",
    "HelperReply",
    "IllegalRequestError",
    "InternalError",
    "InvalidArgumentError",
    "KeyMismatchError",
    "Keys",
    "DiskLock",
    "LockError",
    "LockHeldError",
    "LockNotHeldError",
    "LunLock",
    "LunResult",
    "NotAMultipathMapError",
    "NotReadyError",
    "NotScsiDeviceError",
    "NoUsablePathError",
    "OperationCancelledError",
    "PathDownError",
    "PermissionDeniedError",
    "PrError",
    "Progress",
    "Report",
    "Reservation",
    "ReservationConflictError",
    "ReservationState",
    "ReservationType",
    "SafetyCheckError",
    "SenseError",
    "Sim",
    "SimCluster",
    "SimHelper",
    "SimPath",
    "StatusEntry",
    "Step",
    "TransportError",
    "TransportId",
    "UnitAttentionError",
    "fence",
    "fence_async",
    "unfence",
    "unfence_async",
]
