# SPDX-License-Identifier: MIT OR Apache-2.0
"""Plain result objects of :mod:`pr_sdk`: frozen dataclasses, printable (``str``,
``repr``), comparable (``==``), picklable, and convertible to plain data with ``to_dict()``
(JSON-ready: ``json.dumps(r.to_dict())`` works; see :meth:`Keys.to_dict`)."""

from __future__ import annotations

import enum
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Optional, Tuple

from ._native import TransportId
from .errors import PrError

__all__ = [
    "ReservationType",
    "Keys",
    "Reservation",
    "ReservationState",
    "Capabilities",
    "StatusEntry",
    "FullStatus",
    "Step",
    "Report",
    "LunResult",
    "Progress",
    "HelperReply",
]


class ReservationType(enum.IntEnum):
    """A persistent reservation type (SPC-5 TYPE field)."""

    WRITE_EXCLUSIVE = 0x1
    EXCLUSIVE_ACCESS = 0x3
    WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 0x5
    EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 0x6
    WRITE_EXCLUSIVE_ALL_REGISTRANTS = 0x7
    EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 0x8

    @property
    def short_name(self) -> str:
        """The abbreviation sg_persist prints (``WE``, ``EA``, ``WE_RO``, ...)."""
        return _SHORT[self]

    def __str__(self) -> str:
        return _LONG[self]


_SHORT = {
    ReservationType.WRITE_EXCLUSIVE: "WE",
    ReservationType.EXCLUSIVE_ACCESS: "EA",
    ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY: "WE_RO",
    ReservationType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: "EA_RO",
    ReservationType.WRITE_EXCLUSIVE_ALL_REGISTRANTS: "WE_AR",
    ReservationType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS: "EA_AR",
}


_LONG = {
    ReservationType.WRITE_EXCLUSIVE: "Write Exclusive",
    ReservationType.EXCLUSIVE_ACCESS: "Exclusive Access",
    ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY: "Write Exclusive, Registrants Only",
    ReservationType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: "Exclusive Access, Registrants Only",
    ReservationType.WRITE_EXCLUSIVE_ALL_REGISTRANTS: "Write Exclusive, All Registrants",
    ReservationType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS: "Exclusive Access, All Registrants",
}


def _type_of(code: int) -> Optional[ReservationType]:
    try:
        return ReservationType(code)
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """``value`` as plain data: ``ReservationType`` as its name, ``bytes`` as a hex string,
    ``TransportId`` as its text form, tuples and sets as lists (sets sorted), result objects
    and :class:`~pr_sdk.PrError` as dicts; ints, strs, bools and ``None`` as they are."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, TransportId):
        return str(value)
    if isinstance(value, (_Plain, PrError)):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [_plain(v) for v in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError(f"no plain form for {type(value).__name__}")


class _Plain:
    """Gives a result dataclass its plain-data form."""

    def to_dict(self) -> Dict[str, Any]:
        """Every field as plain data, JSON-ready: ints, strs, bools, ``None``, lists and
        dicts. ``ReservationType`` values become their names (``"WRITE_EXCLUSIVE"``; the
        ``type_code`` fields keep the codes), ``bytes`` lowercase hex strings,
        ``TransportId`` its text form, an error a dict (:meth:`PrError.to_dict`)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Keys(_Plain):
    """READ KEYS: the PR generation and one key per registered I_T nexus."""

    generation: int
    keys: Tuple[int, ...]
    path: str = ""
    """The path that answered."""

    def __str__(self) -> str:
        lines = [f"PR generation=0x{self.generation:x}, {len(self.keys)} registered reservation keys follow:"]
        lines += [f"    0x{k:x}" for k in self.keys]
        return "\n".join(lines)


@dataclass(frozen=True)
class Reservation(_Plain):
    """A persistent reservation: its holder's key (0 for the all-registrants types), type
    (``None`` for an obsolete or reserved code, see ``type_code``) and scope code."""

    key: int
    type: Optional[ReservationType]
    type_code: int
    scope: int = 0

    def __str__(self) -> str:
        t = self.type.short_name if self.type is not None else f"type 0x{self.type_code:x}"
        return f"Key=0x{self.key:x} scope={'LU_SCOPE' if self.scope == 0 else self.scope} type={t}"


@dataclass(frozen=True)
class ReservationState(_Plain):
    """READ RESERVATION: the PR generation and the reservation, if any."""

    generation: int
    reservation: Optional[Reservation]
    path: str = ""

    def __str__(self) -> str:
        head = f"PR generation=0x{self.generation:x}, "
        if self.reservation is None:
            return head + "there is NO reservation held"
        return head + f"Reservation follows:\n    {self.reservation}"


@dataclass(frozen=True)
class Capabilities(_Plain):
    """REPORT CAPABILITIES, field by field."""

    crh: bool
    sip_c: bool
    atp_c: bool
    ptpl_c: bool
    tmv: bool
    ptpl_a: bool
    rlr_c: bool
    allow_commands: int
    types: FrozenSet[ReservationType]
    """The types the device supports (meaningful when ``tmv``)."""

    def __str__(self) -> str:
        flags = [n for n in ("crh", "sip_c", "atp_c", "ptpl_c", "tmv", "ptpl_a", "rlr_c") if getattr(self, n)]
        types = ",".join(t.short_name for t in sorted(self.types))
        return f"capabilities: {' '.join(flags) or '-'}; allow_commands={self.allow_commands}; types={types or '-'}"


@dataclass(frozen=True)
class StatusEntry(_Plain):
    """One READ FULL STATUS descriptor."""

    key: int
    all_tg_pt: bool
    holder: bool
    type: Optional[ReservationType]
    type_code: int
    relative_target_port: int
    transport_id: Optional[TransportId]
    """The decoded TransportID (``None`` if it does not decode; see ``transport_id_bytes``)."""
    transport_id_bytes: bytes = b""

    def __str__(self) -> str:
        s = f"Key=0x{self.key:x}"
        if self.holder:
            t = self.type.short_name if self.type is not None else f"0x{self.type_code:x}"
            s += f" (holder, {t})"
        if self.all_tg_pt:
            s += " all_tg_pt"
        s += f" rtpi={self.relative_target_port} {self.transport_id}"
        return s


@dataclass(frozen=True)
class FullStatus(_Plain):
    """READ FULL STATUS: every registration with its nexus (no 32-entry cap)."""

    generation: int
    entries: Tuple[StatusEntry, ...]
    path: str = ""

    def __str__(self) -> str:
        return "\n".join([f"PR generation=0x{self.generation:x}"] + [f"    {e}" for e in self.entries])


@dataclass(frozen=True)
class Step(_Plain):
    """One command sent on one path, and how it ended."""

    path: str
    phase: str
    """Why it was sent (``Initial``, ``IgnoreRetry``, ``Rollback``, ``SelfPreempt``, ...)."""
    command: str
    attempts: int
    ok: bool
    error: Optional[str] = None
    status: Optional[int] = None
    sense: bytes = b""

    def __str__(self) -> str:
        out = f"{self.path} [{self.phase}] {self.command}: {'ok' if self.ok else self.error}"
        return out + (f" ({self.attempts} attempts)" if self.attempts > 1 else "")


@dataclass(frozen=True)
class Report(_Plain):
    """Everything an operation did: every command on every path, map suspend/resume events,
    each path's registration afterwards, and notes. ``str()`` gives the full text."""

    lun: str
    steps: Tuple[Step, ...]
    registrations: Dict[str, str] = dataclasses.field(default_factory=dict)
    map_events: Tuple[str, ...] = ()
    notes: Tuple[str, ...] = ()
    text: str = dataclasses.field(default="", compare=False)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LunResult(_Plain):
    """The result of a many-LUN operation for one LUN: ``report`` when it succeeded,
    ``error`` (a :class:`~pr_sdk.PrError`, not raised) when it failed or was cancelled.

    ``outcome`` says how it ended: ``"ok"``; ``"already_fenced"`` (a fence found the
    victim's key already gone from the LUN: fencing is idempotent, so ``ok`` is true and a
    retried fence reports it rather than a reservation conflict); ``"failed"``; or
    ``"cancelled"`` (not started: ``error`` is an :class:`~pr_sdk.OperationCancelledError`).
    (pr-multipath reports "already fenced" from its next version; until then a fence of a
    LUN without the victim's key fails as the device answers.)"""

    lun: str
    ok: bool
    report: Optional[Report] = None
    error: Optional[PrError] = dataclasses.field(default=None, compare=False)
    outcome: str = "ok"

    @property
    def already_fenced(self) -> bool:
        """Whether a fence found the victim's key already gone (see ``outcome``)."""
        return self.outcome == "already_fenced"

    def __str__(self) -> str:
        if self.already_fenced:
            return f"{self.lun}: already fenced"
        return f"{self.lun}: {'ok' if self.ok else self.error}"


@dataclass(frozen=True)
class Progress(_Plain):
    """One LUN of a many-LUN operation finished (``outcome``: ``"ok"``,
    ``"already_fenced"``, ``"failed"`` or ``"cancelled"``, as :attr:`LunResult.outcome`)."""

    done: int
    total: int
    lun: str
    outcome: str
    message: Optional[str] = None

    def __str__(self) -> str:
        return f"[{self.done}/{self.total}] {self.lun}: {self.outcome}" + (f" ({self.message})" if self.message else "")


@dataclass(frozen=True)
class HelperReply(_Plain):
    """A qemu-pr-helper protocol reply (:class:`HelperClient`), as the helper sent it:
    ``result`` (the reply's 32-bit result word: the SCSI status), ``status`` (that status
    as a byte, ``0xff`` when the word does not fit one), ``sense`` (the sense bytes, cut
    from the reply's 96 to their own length; ``b""`` when there are none, as for
    RESERVATION CONFLICT), ``sense_key``/``asc``/``ascq`` decoded from them, and ``data``
    (the PR IN data; empty unless a PR IN completed GOOD)."""

    result: int
    status: int
    sense: bytes = b""
    sense_key: Optional[int] = None
    asc: Optional[int] = None
    ascq: Optional[int] = None
    data: bytes = b""

    @property
    def ok(self) -> bool:
        """Whether the command completed GOOD."""
        return self.status == 0

    def __str__(self) -> str:
        s = f"status 0x{self.status:02x}"
        if self.sense_key is not None:
            s += f", sense {self.sense_key:x}/{self.asc or 0:02x}/{self.ascq or 0:02x}"
        return s + f", {len(self.data)} bytes"
