# SPDX-License-Identifier: MIT OR Apache-2.0
"""The exceptions of :mod:`pr_sdk`: one hierarchy under :class:`PrError`.

Every exception carries what is known about the failed command: the SCSI ``status`` byte,
the raw ``sense`` bytes, the ``sense_key``/``asc``/``ascq`` decoded from them, the LUN
(``lun``) and, for operations that sent commands on several paths, the per-path
:class:`~pr_sdk.Report` (``report``). Fields that do not apply are ``None`` (``sense`` is
then ``b""``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

__all__ = [
    "PrError",
    "ReservationConflictError",
    "SenseError",
    "UnitAttentionError",
    "IllegalRequestError",
    "NotReadyError",
    "CommandStatusError",
    "TransportError",
    "PathDownError",
    "CommandTimeoutError",
    "NoUsablePathError",
    "InvalidArgumentError",
    "DeviceNotFoundError",
    "NotScsiDeviceError",
    "PermissionDeniedError",
    "NotAMultipathMapError",
    "DeviceClosedError",
    "KeyMismatchError",
    "SafetyCheckError",
    "OperationCancelledError",
    "HelperConnectionError",
    "InternalError",
    "LockError",
    "LockHeldError",
    "LockNotHeldError",
]


class PrError(Exception):
    """Base class of every error raised by :mod:`pr_sdk` (wrong argument types and values
    raise :class:`TypeError` and :class:`ValueError` instead)."""

    status: Optional[int]
    """The SCSI status byte (``0x18`` RESERVATION CONFLICT, ``0x02`` CHECK CONDITION, ...),
    ``None`` when the command did not complete at the device or no command was sent."""
    sense: bytes
    """The sense bytes as the device returned them (``b""`` when there were none)."""
    sense_key: Optional[int]
    """The sense key (``0x6`` UNIT ATTENTION, ``0x5`` ILLEGAL REQUEST, ...)."""
    asc: Optional[int]
    """ADDITIONAL SENSE CODE."""
    ascq: Optional[int]
    """ADDITIONAL SENSE CODE QUALIFIER."""
    lun: Optional[str]
    """The LUN (map or device name) the error concerns."""
    report: Optional[Any]
    """The :class:`~pr_sdk.Report` of every command sent, for operations that sent some."""

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        sense: bytes = b"",
        sense_key: Optional[int] = None,
        asc: Optional[int] = None,
        ascq: Optional[int] = None,
        lun: Optional[str] = None,
        report: Optional[Any] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.sense = bytes(sense)
        self.sense_key = sense_key
        self.asc = asc
        self.ascq = ascq
        self.lun = lun
        self.report = report

    @property
    def message(self) -> str:
        """The error message."""
        return str(self.args[0]) if self.args else ""

    def to_dict(self) -> Dict[str, Any]:
        """The error as plain data (JSON-ready): ``type`` (the class name), ``message``,
        the fields above (``sense`` as a hex string) and ``report`` (a dict or ``None``)."""
        report = self.report
        return {
            "type": type(self).__name__,
            "message": self.message,
            "status": self.status,
            "sense": self.sense.hex(),
            "sense_key": self.sense_key,
            "asc": self.asc,
            "ascq": self.ascq,
            "lun": self.lun,
            "report": report.to_dict() if report is not None and hasattr(report, "to_dict") else None,
        }


class ReservationConflictError(PrError):
    """The device answered RESERVATION CONFLICT (status ``0x18``)."""


class SenseError(PrError):
    """The device answered CHECK CONDITION; ``sense_key``, ``asc`` and ``ascq`` say why."""


class UnitAttentionError(SenseError):
    """CHECK CONDITION, UNIT ATTENTION (after the retries pr-sdk makes)."""


class IllegalRequestError(SenseError):
    """CHECK CONDITION, ILLEGAL REQUEST: the device rejected the CDB or parameter list."""


class NotReadyError(SenseError):
    """CHECK CONDITION, NOT READY."""


class CommandStatusError(PrError):
    """Another unsuccessful SCSI status (BUSY, TASK SET FULL, TASK ABORTED, ...)."""


class TransportError(PrError):
    """The command did not complete at the device (path down, timeout, OS error, host or
    driver status). A PR OUT command may still have taken effect."""


class PathDownError(TransportError):
    """The path is down (failed, offline, deleted, or taken down in the simulator)."""


class CommandTimeoutError(TransportError):
    """The command timed out; whether it reached the device is unknown."""


class NoUsablePathError(PrError):
    """No path of the LUN is usable; nothing was sent."""


class InvalidArgumentError(PrError, ValueError):
    """An argument pr-sdk cannot use as given (an empty device name, a request the command
    cannot carry); nothing was sent. Also a :class:`ValueError`."""


class DeviceNotFoundError(PrError, FileNotFoundError):
    """No such multipath map or device node (the message names what was given). Also a
    :class:`FileNotFoundError`."""


class NotScsiDeviceError(PrError, ValueError):
    """What was given exists but is neither a SCSI device nor a multipath map: a regular
    file, a directory, ``/dev/null``, a partition, a device-mapper device of another
    target. Also a :class:`ValueError` (a wrong value for the argument, as an
    ``OSError`` would suggest a failure of the system instead)."""


class PermissionDeniedError(PrError, PermissionError):
    """The device (or the device-mapper control node) may not be opened: run as root."""


class NotAMultipathMapError(PrError):
    """The name or device given is not a dm-multipath map (``Device.open_map``)."""


class DeviceClosedError(PrError, ValueError):
    """The device was closed (``close()``, or the end of its ``with`` block). Also a
    :class:`ValueError`, as for a closed file."""


class KeyMismatchError(PrError):
    """The key does not match multipath.conf's ``reservation_key`` (or the prkeys file);
    nothing was sent."""


class SafetyCheckError(PrError):
    """pr-sdk refused to preempt on the caller's behalf: it could not confirm that this
    host holds the reservation."""


class OperationCancelledError(PrError):
    """A many-LUN operation was cancelled before it started on this LUN."""


class HelperConnectionError(PrError, ConnectionError):
    """The connection to a qemu-pr-helper-compatible helper failed (:class:`HelperClient`):
    the socket could not be reached, a read or write failed or timed out, the helper
    closed the connection (it does so, without a reply, on requests it refuses: no or two
    descriptors, a CDB that is not PR IN/OUT, more than 8192 bytes), or its bytes break the
    protocol. The client is closed afterwards. Also a :class:`ConnectionError`."""


class InternalError(PrError):
    """A bug in pr-sdk (a Rust panic, turned into an exception): please report it to the
    pr-sdk developers with its message."""


class LockError(PrError):
    """A disk lock (:class:`~pr_sdk.DiskLock`, :class:`~pr_sdk.LunLock`) could not be taken
    or released: the lockspace directory is missing or not a directory, a lock file could
    not be opened, the program naming the lock (``scsi_id``, ``lvs``) could not be run,
    or fencing a holder failed. ``holders`` lists the keys concerned (empty when unknown);
    ``lock_file`` the lock file (``None`` when the error is about the LUN)."""

    holders: List[int]
    """The other hosts' reservation keys (the reservation holder's first)."""
    lock_file: Optional[str]
    """The lock file concerned, if the error is about it."""

    def __init__(
        self,
        message: str,
        *,
        holders: Optional[List[int]] = None,
        lock_file: Optional[str] = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, **fields)
        self.holders = list(holders or [])
        self.lock_file = lock_file

    def to_dict(self) -> Dict[str, Any]:
        """As :meth:`PrError.to_dict`, with ``holders`` and ``lock_file``."""
        d = super().to_dict()
        d["holders"] = self.holders
        d["lock_file"] = self.lock_file
        return d


class LockHeldError(LockError):
    """Another holds the lock: another host's reservation or registrations on the LUN
    (``holders`` names their keys, the message says what they hold and whether
    ``force=True`` would fence them), or another process's lock on the lock file
    (``lock_file``; ``holders`` empty: the lock file does not say who). Nothing of the
    refused acquire is left."""


class LockNotHeldError(LockError):
    """Releasing a LUN lock whose key is no longer registered (it was fenced meanwhile);
    nothing was changed."""
