//! PERSISTENT RESERVE OUT requests: validated at build time, encoded into a caller's CDB
//! array and parameter buffer without allocation, and decoded back from raw bytes.
//!
//! Two parameter lists exist (SPC-5 6.17.3, 6.17.4):
//!
//! ```text
//! basic (24 bytes, + TransportIDs with SPEC_I_PT)    REGISTER AND MOVE (24 bytes + one TransportID)
//!  0-7   RESERVATION KEY                              0-7   RESERVATION KEY
//!  8-15  SERVICE ACTION RESERVATION KEY               8-15  SERVICE ACTION RESERVATION KEY
//!  16-19 obsolete                                     16    reserved
//!  20    SPEC_I_PT(3) ALL_TG_PT(2) APTPL(0)           17    UNREG(1) APTPL(0)
//!  21    reserved                                     18-19 RELATIVE TARGET PORT IDENTIFIER
//!  22-23 obsolete                                     20-23 TRANSPORTID PARAMETER DATA LENGTH
//!  24-27 TRANSPORTID PARAMETER DATA LENGTH (SPEC_I_PT) 24..   TransportID
//!  28..  TransportIDs (SPEC_I_PT)
//! ```
//!
//! ```
//! use pr_core::prout::{PrOut, ParamList};
//! use pr_core::transport_id::TransportId;
//! use pr_core::types::{ReservationKey, ReservationType};
//!
//! let dest = TransportId::Sas { address: 0x5001405a00000002 };
//! let mv = PrOut::register_and_move(
//!     ReservationKey(0x33), ReservationKey(0x44),
//!     ReservationType::WriteExclusive, &dest, 2,
//! );
//! let mut buf = [0u8; 64];
//! let n = mv.encode_params(&mut buf).unwrap();
//! assert_eq!(n, 48);
//! match ParamList::decode(mv.action, &buf[..n]).unwrap() {
//!     ParamList::Move(m) => {
//!         assert_eq!(m.sa_key, ReservationKey(0x44));
//!         assert_eq!(m.relative_target_port, 2);
//!         assert_eq!(m.transport_id().unwrap(), dest);
//!     }
//!     ParamList::Basic(_) => unreachable!(),
//! }
//! ```

use core::slice;

use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::cdb::{CDB_LEN, PrOutCdb};
use crate::error::{BuildError, DecodeError};
use crate::transport_id::TransportId;
use crate::types::{PrOutAction, PrOutFlags, ReservationKey, ReservationType, Scope};

/// Length of the basic parameter list without TransportIDs.
pub const BASIC_LEN: usize = 24;
/// Length of the REGISTER AND MOVE parameter list header (before its TransportID).
pub const MOVE_HEADER_LEN: usize = 24;

/// Wire layout of the basic PR OUT parameter list.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct BasicLayout {
    /// RESERVATION KEY.
    pub key: U64,
    /// SERVICE ACTION RESERVATION KEY.
    pub sa_key: U64,
    /// Obsolete (formerly SCOPE-SPECIFIC ADDRESS).
    pub obsolete: [u8; 4],
    /// SPEC_I_PT (bit 3), ALL_TG_PT (bit 2), APTPL (bit 0).
    pub flags: u8,
    /// Reserved.
    pub reserved: u8,
    /// Obsolete (formerly EXTENT LENGTH).
    pub obsolete2: [u8; 2],
}

/// Wire layout of the REGISTER AND MOVE parameter list header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct MoveLayout {
    /// RESERVATION KEY (the issuer's, which holds the reservation).
    pub key: U64,
    /// SERVICE ACTION RESERVATION KEY (the destination's new key).
    pub sa_key: U64,
    /// Reserved.
    pub reserved: u8,
    /// UNREG (bit 1), APTPL (bit 0).
    pub flags: u8,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: U16,
    /// TRANSPORTID PARAMETER DATA LENGTH.
    pub transport_id_length: U32,
}

const _: () = assert!(core::mem::size_of::<BasicLayout>() == BASIC_LEN);
const _: () = assert!(core::mem::size_of::<MoveLayout>() == MOVE_HEADER_LEN);

const BASIC_FLAG_MASK: u8 = 0x0d; // SPEC_I_PT | ALL_TG_PT | APTPL
const MOVE_UNREG: u8 = 0x02;
const MOVE_APTPL: u8 = 0x01;

/// A PERSISTENT RESERVE OUT request, built by one of the constructors and refined with the
/// `with_*` methods. Invalid combinations are reported by [`PrOut::validate`] (and by every
/// encoder) with a [`BuildError`] naming the problem.
///
/// ```
/// use pr_core::prout::PrOut;
/// use pr_core::types::{ReservationKey, ReservationType};
/// use pr_core::BuildError;
///
/// let bad = PrOut::register_ignore(ReservationKey(1)).with_type(ReservationType::WriteExclusive);
/// assert!(matches!(bad.validate(), Err(BuildError::TypeNotAllowed { .. })));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrOut<'a> {
    /// The service action.
    pub action: PrOutAction,
    /// The scope (LU_SCOPE; others are obsolete).
    pub scope: Scope,
    /// The reservation type, for the actions that use one.
    pub reservation_type: Option<ReservationType>,
    /// RESERVATION KEY: the issuing nexus's current key (0 when unregistered).
    pub key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY: the new key (REGISTER), the victim's key (PREEMPT),
    /// the destination's key (REGISTER AND MOVE), the new key (REPLACE LOST RESERVATION).
    pub sa_key: ReservationKey,
    /// SPEC_I_PT, ALL_TG_PT, APTPL, UNREG.
    pub flags: PrOutFlags,
    /// TransportIDs: the SPEC_I_PT list, or the one destination of REGISTER AND MOVE.
    pub transport_ids: &'a [TransportId<'a>],
    /// REGISTER AND MOVE: the relative target port through which the destination I_T
    /// nexus is reached.
    pub relative_target_port: u16,
}

impl PrOut<'static> {
    fn base(action: PrOutAction) -> Self {
        PrOut {
            action,
            scope: Scope::LogicalUnit,
            reservation_type: None,
            key: ReservationKey::ZERO,
            sa_key: ReservationKey::ZERO,
            flags: PrOutFlags::empty(),
            transport_ids: &[],
            relative_target_port: 0,
        }
    }

    /// REGISTER: replace the nexus's key `key` (0 when unregistered) by `new_key`; a
    /// `new_key` of 0 unregisters.
    pub fn register(key: ReservationKey, new_key: ReservationKey) -> Self {
        PrOut {
            key,
            sa_key: new_key,
            ..Self::base(PrOutAction::Register)
        }
    }

    /// REGISTER AND IGNORE EXISTING KEY: register `new_key` whatever the current key; 0
    /// unregisters.
    pub fn register_ignore(new_key: ReservationKey) -> Self {
        PrOut {
            sa_key: new_key,
            ..Self::base(PrOutAction::RegisterAndIgnoreExistingKey)
        }
    }

    /// RESERVE with the nexus's registered `key`.
    pub fn reserve(key: ReservationKey, ty: ReservationType) -> Self {
        PrOut {
            key,
            reservation_type: Some(ty),
            ..Self::base(PrOutAction::Reserve)
        }
    }

    /// RELEASE the reservation of type `ty` held with `key`.
    pub fn release(key: ReservationKey, ty: ReservationType) -> Self {
        PrOut {
            key,
            reservation_type: Some(ty),
            ..Self::base(PrOutAction::Release)
        }
    }

    /// CLEAR every registration and the reservation, as a registrant with `key`.
    pub fn clear(key: ReservationKey) -> Self {
        PrOut {
            key,
            ..Self::base(PrOutAction::Clear)
        }
    }

    /// PREEMPT the registrations with key `victim` (and the reservation if `victim`
    /// holds it, taking it as type `ty`). A `victim` of 0 is valid only against an
    /// all-registrants reservation.
    pub fn preempt(key: ReservationKey, victim: ReservationKey, ty: ReservationType) -> Self {
        PrOut {
            key,
            sa_key: victim,
            reservation_type: Some(ty),
            ..Self::base(PrOutAction::Preempt)
        }
    }

    /// PREEMPT AND ABORT: as [`PrOut::preempt`], and abort the victims' tasks (the fencing
    /// primitive).
    pub fn preempt_and_abort(
        key: ReservationKey,
        victim: ReservationKey,
        ty: ReservationType,
    ) -> Self {
        PrOut {
            key,
            sa_key: victim,
            reservation_type: Some(ty),
            ..Self::base(PrOutAction::PreemptAndAbort)
        }
    }

    /// REPLACE LOST RESERVATION: after the device lost a reservation (SPC-5 5.14.11),
    /// register `new_key` and establish a reservation of type `ty`. The RESERVATION KEY
    /// field is ignored by the device server and sent as 0.
    pub fn replace_lost_reservation(new_key: ReservationKey, ty: ReservationType) -> Self {
        PrOut {
            sa_key: new_key,
            reservation_type: Some(ty),
            ..Self::base(PrOutAction::ReplaceLostReservation)
        }
    }
}

impl<'a> PrOut<'a> {
    /// REGISTER AND MOVE: move the reservation held with `key` to the I_T nexus named by
    /// `destination` (reached through `relative_target_port`), registering it with
    /// `dest_key`; the new reservation has type `ty`.
    pub fn register_and_move(
        key: ReservationKey,
        dest_key: ReservationKey,
        ty: ReservationType,
        destination: &'a TransportId<'a>,
        relative_target_port: u16,
    ) -> Self {
        PrOut {
            action: PrOutAction::RegisterAndMove,
            scope: Scope::LogicalUnit,
            reservation_type: Some(ty),
            key,
            sa_key: dest_key,
            flags: PrOutFlags::empty(),
            transport_ids: slice::from_ref(destination),
            relative_target_port,
        }
    }

    /// Sets APTPL (activate persist through power loss).
    pub fn with_aptpl(mut self) -> Self {
        self.flags |= PrOutFlags::APTPL;
        self
    }

    /// Sets ALL_TG_PT (register on every target port of the initiator port).
    pub fn with_all_tg_pt(mut self) -> Self {
        self.flags |= PrOutFlags::ALL_TG_PT;
        self
    }

    /// Sets UNREG (REGISTER AND MOVE: unregister the issuer after the move).
    pub fn with_unreg(mut self) -> Self {
        self.flags |= PrOutFlags::UNREG;
        self
    }

    /// Sets SPEC_I_PT with the TransportIDs of the initiator ports to register too.
    pub fn with_spec_i_pt<'b>(self, ids: &'b [TransportId<'b>]) -> PrOut<'b>
    where
        'a: 'b,
    {
        let this: PrOut<'b> = self;
        PrOut {
            flags: this.flags | PrOutFlags::SPEC_I_PT,
            transport_ids: ids,
            ..this
        }
    }

    /// Replaces the reservation type (for tests of invalid combinations too).
    pub fn with_type(mut self, ty: ReservationType) -> Self {
        self.reservation_type = Some(ty);
        self
    }

    /// Replaces the scope.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Checks the request against SPC-5's table of valid parameters per service action.
    ///
    /// Rules: a type is required by RESERVE, RELEASE, PREEMPT, PREEMPT AND ABORT, REGISTER
    /// AND MOVE and REPLACE LOST RESERVATION, and refused by REGISTER, REGISTER AND IGNORE
    /// EXISTING KEY and CLEAR; SPEC_I_PT only with REGISTER (SPC-5 makes a device server
    /// answer INVALID FIELD IN PARAMETER LIST to it with any other action) and then with at
    /// least one TransportID; ALL_TG_PT only with REGISTER and REGISTER AND IGNORE
    /// EXISTING KEY; APTPL only with those two, REGISTER AND MOVE and REPLACE LOST
    /// RESERVATION; UNREG only with REGISTER AND MOVE; REGISTER AND MOVE takes exactly one
    /// TransportID and no all-registrants type.
    pub fn validate(&self) -> Result<(), BuildError> {
        let a = self.action;
        match (a.uses_type(), self.reservation_type) {
            (true, None) => return Err(BuildError::TypeRequired { action: a }),
            (false, Some(t)) => {
                return Err(BuildError::TypeNotAllowed {
                    action: a,
                    code: t.code(),
                });
            }
            _ => {}
        }
        let f = self.flags;
        if f.contains(PrOutFlags::SPEC_I_PT) && a != PrOutAction::Register {
            return Err(BuildError::FlagNotAllowed {
                action: a,
                flag: "SPEC_I_PT",
            });
        }
        if f.contains(PrOutFlags::ALL_TG_PT) && !a.is_register() {
            return Err(BuildError::FlagNotAllowed {
                action: a,
                flag: "ALL_TG_PT",
            });
        }
        if f.contains(PrOutFlags::APTPL)
            && !(a.is_register()
                || a == PrOutAction::RegisterAndMove
                || a == PrOutAction::ReplaceLostReservation)
        {
            return Err(BuildError::FlagNotAllowed {
                action: a,
                flag: "APTPL",
            });
        }
        if f.contains(PrOutFlags::UNREG) && a != PrOutAction::RegisterAndMove {
            return Err(BuildError::FlagNotAllowed {
                action: a,
                flag: "UNREG",
            });
        }
        let n = self.transport_ids.len();
        if a == PrOutAction::RegisterAndMove {
            if n != 1 {
                return Err(BuildError::MoveNeedsOneTransportId { count: n });
            }
            if let Some(t) = self.reservation_type.filter(|t| t.is_all_registrants()) {
                return Err(BuildError::MoveAllRegistrants { code: t.code() });
            }
        } else if f.contains(PrOutFlags::SPEC_I_PT) {
            if n == 0 {
                return Err(BuildError::SpecIPtWithoutTransportIds);
            }
        } else if n != 0 {
            return Err(BuildError::TransportIdsNotAllowed {
                action: a,
                count: n,
            });
        }
        self.param_len().map(|_| ())
    }

    /// Total encoded length of the TransportIDs.
    fn transport_ids_len(&self) -> Result<usize, BuildError> {
        let mut total: usize = 0;
        for (index, t) in self.transport_ids.iter().enumerate() {
            let l = t.encoded_len();
            if l == 0 {
                return Err(BuildError::BadTransportId {
                    index,
                    reason: "encodes to no bytes",
                });
            }
            total = total
                .checked_add(l)
                .ok_or(BuildError::ParameterListTooLong { len: usize::MAX })?;
        }
        Ok(total)
    }

    /// The PARAMETER LIST LENGTH this request needs: 24, or 24 + 4 + TransportIDs with
    /// SPEC_I_PT, or 24 + the TransportID for REGISTER AND MOVE. Computable before any
    /// buffer exists.
    pub fn param_len(&self) -> Result<usize, BuildError> {
        let tids = self.transport_ids_len()?;
        let len = if self.action == PrOutAction::RegisterAndMove {
            MOVE_HEADER_LEN.checked_add(tids)
        } else if self.flags.contains(PrOutFlags::SPEC_I_PT) {
            BASIC_LEN.checked_add(4).and_then(|l| l.checked_add(tids))
        } else {
            Some(BASIC_LEN)
        }
        .ok_or(BuildError::ParameterListTooLong { len: usize::MAX })?;
        if u32::try_from(len).is_err() {
            return Err(BuildError::ParameterListTooLong { len });
        }
        Ok(len)
    }

    /// The raw CDB fields of this request.
    pub fn cdb(&self) -> Result<PrOutCdb, BuildError> {
        self.validate()?;
        let len = self.param_len()?;
        Ok(PrOutCdb {
            service_action: self.action.code(),
            scope: self.scope.code(),
            type_code: self.reservation_type.map_or(0, ReservationType::code),
            parameter_list_length: u32::try_from(len)
                .map_err(|_| BuildError::ParameterListTooLong { len })?,
            control: 0,
        })
    }

    /// Validates the request and writes its 10-byte CDB into `out`.
    pub fn encode_cdb(&self, out: &mut [u8; CDB_LEN]) -> Result<(), BuildError> {
        self.cdb()?.encode(out);
        Ok(())
    }

    /// Validates the request and writes its parameter list into the start of `out`,
    /// returning the number of bytes written ([`PrOut::param_len`]). Nothing is allocated.
    pub fn encode_params(&self, out: &mut [u8]) -> Result<usize, BuildError> {
        self.validate()?;
        let len = self.param_len()?;
        let available = out.len();
        let out = out.get_mut(..len).ok_or(BuildError::BufferTooSmall {
            needed: len,
            available,
        })?;
        out.fill(0);
        let (head, rest) = out.split_at_mut(BASIC_LEN);
        if self.action == PrOutAction::RegisterAndMove {
            let mut flags = 0;
            if self.flags.contains(PrOutFlags::UNREG) {
                flags |= MOVE_UNREG;
            }
            if self.flags.contains(PrOutFlags::APTPL) {
                flags |= MOVE_APTPL;
            }
            let tid_len =
                u32::try_from(rest.len()).map_err(|_| BuildError::ParameterListTooLong { len })?;
            let h = MoveLayout {
                key: U64::new(self.key.0),
                sa_key: U64::new(self.sa_key.0),
                reserved: 0,
                flags,
                relative_target_port: U16::new(self.relative_target_port),
                transport_id_length: U32::new(tid_len),
            };
            head.copy_from_slice(h.as_bytes());
            write_tids(self.transport_ids, rest)?;
        } else {
            let h = BasicLayout {
                key: U64::new(self.key.0),
                sa_key: U64::new(self.sa_key.0),
                obsolete: [0; 4],
                flags: self.flags.bits() & BASIC_FLAG_MASK,
                reserved: 0,
                obsolete2: [0; 2],
            };
            head.copy_from_slice(h.as_bytes());
            if self.flags.contains(PrOutFlags::SPEC_I_PT) {
                let (lenf, tids) = rest.split_at_mut(4);
                let tid_len = u32::try_from(tids.len())
                    .map_err(|_| BuildError::ParameterListTooLong { len })?;
                lenf.copy_from_slice(&tid_len.to_be_bytes());
                write_tids(self.transport_ids, tids)?;
            }
        }
        Ok(len)
    }
}

fn write_tids(ids: &[TransportId<'_>], mut out: &mut [u8]) -> Result<(), BuildError> {
    for (index, t) in ids.iter().enumerate() {
        let n = t.encode(out).map_err(|_| BuildError::BadTransportId {
            index,
            reason: "cannot be encoded",
        })?;
        out = out.get_mut(n..).ok_or(BuildError::BadTransportId {
            index,
            reason: "encoded longer than its stated length",
        })?;
    }
    Ok(())
}

/// A decoded PR OUT parameter list: what an initiator sent, as a device server sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamList<'a> {
    /// The basic list (every action but REGISTER AND MOVE).
    Basic(BasicParams<'a>),
    /// The REGISTER AND MOVE list.
    Move(MoveParams<'a>),
}

impl<'a> ParamList<'a> {
    /// Decodes the parameter list of `action` from `bytes` (exactly the PARAMETER LIST
    /// LENGTH bytes the initiator sent).
    pub fn decode(action: PrOutAction, bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if action == PrOutAction::RegisterAndMove {
            MoveParams::decode(bytes).map(ParamList::Move)
        } else {
            BasicParams::decode(bytes).map(ParamList::Basic)
        }
    }
}

/// A borrowed view of a basic PR OUT parameter list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicParams<'a> {
    /// RESERVATION KEY.
    pub key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY.
    pub sa_key: ReservationKey,
    /// SPEC_I_PT, ALL_TG_PT, APTPL as sent (unknown bits dropped).
    pub flags: PrOutFlags,
    /// The raw flags byte (byte 20), for checks of reserved bits.
    pub raw_flags: u8,
    /// With SPEC_I_PT: the bytes of the TransportID list (after its 4-byte length),
    /// clamped to the TRANSPORTID PARAMETER DATA LENGTH; empty otherwise.
    pub transport_id_bytes: &'a [u8],
    /// With SPEC_I_PT: the TRANSPORTID PARAMETER DATA LENGTH field as sent.
    pub transport_id_length: u32,
}

impl<'a> BasicParams<'a> {
    /// Decodes a basic list. Fewer than 24 bytes, or SPEC_I_PT with no length field, is an
    /// error; a device server maps these to PARAMETER LIST LENGTH ERROR.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (h, rest) = BasicLayout::ref_from_prefix(bytes).map_err(|_| DecodeError::Short {
            what: "PR OUT basic parameter list",
            len: bytes.len(),
            needed: BASIC_LEN,
        })?;
        let flags = PrOutFlags::from_bits_truncate(h.flags & BASIC_FLAG_MASK);
        let (transport_id_bytes, transport_id_length) = if flags.contains(PrOutFlags::SPEC_I_PT) {
            let (l, tids) = U32::ref_from_prefix(rest).map_err(|_| DecodeError::Short {
                what: "PR OUT parameter list with SPEC_I_PT",
                len: bytes.len(),
                needed: BASIC_LEN.saturating_add(4),
            })?;
            let n = usize::try_from(l.get())
                .unwrap_or(usize::MAX)
                .min(tids.len());
            (tids.get(..n).unwrap_or(&[]), l.get())
        } else {
            (&[][..], 0)
        };
        Ok(BasicParams {
            key: ReservationKey(h.key.get()),
            sa_key: ReservationKey(h.sa_key.get()),
            flags,
            raw_flags: h.flags,
            transport_id_bytes,
            transport_id_length,
        })
    }

    /// The SPEC_I_PT TransportIDs, decoded one after another. An element that cannot be
    /// decoded ends the iteration with that error.
    pub fn transport_ids(&self) -> TransportIds<'a> {
        TransportIds {
            rest: self.transport_id_bytes,
        }
    }
}

/// A borrowed view of a REGISTER AND MOVE parameter list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoveParams<'a> {
    /// RESERVATION KEY (the issuer's).
    pub key: ReservationKey,
    /// SERVICE ACTION RESERVATION KEY (the destination's).
    pub sa_key: ReservationKey,
    /// UNREG and APTPL as sent.
    pub flags: PrOutFlags,
    /// RELATIVE TARGET PORT IDENTIFIER.
    pub relative_target_port: u16,
    /// TRANSPORTID PARAMETER DATA LENGTH as sent.
    pub transport_id_length: u32,
    /// The TransportID bytes, clamped to that length and to what was sent.
    pub transport_id_bytes: &'a [u8],
}

impl<'a> MoveParams<'a> {
    /// Decodes a REGISTER AND MOVE list.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (h, rest) = MoveLayout::ref_from_prefix(bytes).map_err(|_| DecodeError::Short {
            what: "REGISTER AND MOVE parameter list",
            len: bytes.len(),
            needed: MOVE_HEADER_LEN,
        })?;
        let mut flags = PrOutFlags::empty();
        if h.flags & MOVE_UNREG != 0 {
            flags |= PrOutFlags::UNREG;
        }
        if h.flags & MOVE_APTPL != 0 {
            flags |= PrOutFlags::APTPL;
        }
        let len = h.transport_id_length.get();
        let n = usize::try_from(len).unwrap_or(usize::MAX).min(rest.len());
        Ok(MoveParams {
            key: ReservationKey(h.key.get()),
            sa_key: ReservationKey(h.sa_key.get()),
            flags,
            relative_target_port: h.relative_target_port.get(),
            transport_id_length: len,
            transport_id_bytes: rest.get(..n).unwrap_or(&[]),
        })
    }

    /// The destination TransportID.
    pub fn transport_id(&self) -> Result<TransportId<'a>, crate::transport_id::TransportIdError> {
        TransportId::decode(self.transport_id_bytes).map(|(t, _)| t)
    }
}

/// Iterator over a list of TransportIDs laid end to end.
#[derive(Clone, Debug)]
pub struct TransportIds<'a> {
    rest: &'a [u8],
}

impl<'a> TransportIds<'a> {
    /// Iterates over the TransportIDs in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        TransportIds { rest: bytes }
    }
}

impl<'a> Iterator for TransportIds<'a> {
    type Item = Result<TransportId<'a>, crate::transport_id::TransportIdError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match TransportId::decode(self.rest) {
            Ok((t, n)) => {
                self.rest = self.rest.get(n..).unwrap_or(&[]);
                Some(Ok(t))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const K1: ReservationKey = ReservationKey(0x1111_2222_3333_4444);
    const K2: ReservationKey = ReservationKey(0xabcd);

    fn enc(p: &PrOut<'_>) -> ([u8; 10], Vec<u8>) {
        let mut cdb = [0u8; 10];
        p.encode_cdb(&mut cdb).unwrap();
        let mut buf = vec![0xffu8; p.param_len().unwrap()];
        let n = p.encode_params(&mut buf).unwrap();
        assert_eq!(n, buf.len());
        (cdb, buf)
    }

    #[test]
    fn register_bytes() {
        let (cdb, p) = enc(&PrOut::register(K1, K2).with_aptpl().with_all_tg_pt());
        assert_eq!(cdb, [0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0]);
        let mut want = vec![0u8; 24];
        want[..8].copy_from_slice(&K1.to_be_bytes());
        want[8..16].copy_from_slice(&K2.to_be_bytes());
        want[20] = 0x05;
        assert_eq!(p, want);
    }

    #[test]
    fn reserve_release_preempt_bytes() {
        let (cdb, _) = enc(&PrOut::reserve(
            K1,
            ReservationType::ExclusiveAccessRegistrantsOnly,
        ));
        assert_eq!(cdb, [0x5f, 1, 0x06, 0, 0, 0, 0, 0, 24, 0]);
        let (cdb, _) = enc(&PrOut::release(K1, ReservationType::WriteExclusive));
        assert_eq!(cdb, [0x5f, 2, 0x01, 0, 0, 0, 0, 0, 24, 0]);
        let (cdb, _) = enc(&PrOut::clear(K1));
        assert_eq!(cdb, [0x5f, 3, 0, 0, 0, 0, 0, 0, 24, 0]);
        let (cdb, p) = enc(&PrOut::preempt_and_abort(
            K1,
            K2,
            ReservationType::WriteExclusiveRegistrantsOnly,
        ));
        assert_eq!(cdb, [0x5f, 5, 0x05, 0, 0, 0, 0, 0, 24, 0]);
        assert_eq!(&p[8..16], &K2.to_be_bytes());
        let (cdb, p) = enc(&PrOut::replace_lost_reservation(
            K2,
            ReservationType::WriteExclusive,
        ));
        assert_eq!(cdb, [0x5f, 8, 0x01, 0, 0, 0, 0, 0, 24, 0]);
        assert_eq!(&p[..8], &[0; 8]);
    }

    #[test]
    fn spec_i_pt_list() {
        let ids = [
            TransportId::Sas {
                address: 0x5001405a00000001,
            },
            TransportId::Sas {
                address: 0x5001405a00000002,
            },
        ];
        let req = PrOut::register(ReservationKey(0), K2).with_spec_i_pt(&ids);
        let (cdb, p) = enc(&req);
        assert_eq!(cdb[8], 24 + 4 + 48);
        assert_eq!(p[20], 0x08);
        assert_eq!(&p[24..28], &[0, 0, 0, 48]);
        assert_eq!(p[28], 0x06);
        let ParamList::Basic(b) = ParamList::decode(PrOutAction::Register, &p).unwrap() else {
            panic!()
        };
        let got: Vec<_> = b.transport_ids().map(Result::unwrap).collect();
        assert_eq!(got, ids);
    }

    #[test]
    fn invalid_combinations_are_named() {
        let sas = [TransportId::Sas { address: 1 }];
        let cases: Vec<(PrOut<'_>, BuildError)> = vec![
            (
                PrOut::register(K1, K2).with_type(ReservationType::WriteExclusive),
                BuildError::TypeNotAllowed {
                    action: PrOutAction::Register,
                    code: 1,
                },
            ),
            (
                PrOut::register_ignore(K2).with_spec_i_pt(&sas),
                BuildError::FlagNotAllowed {
                    action: PrOutAction::RegisterAndIgnoreExistingKey,
                    flag: "SPEC_I_PT",
                },
            ),
            (
                PrOut::reserve(K1, ReservationType::WriteExclusive).with_aptpl(),
                BuildError::FlagNotAllowed {
                    action: PrOutAction::Reserve,
                    flag: "APTPL",
                },
            ),
            (
                PrOut::clear(K1).with_all_tg_pt(),
                BuildError::FlagNotAllowed {
                    action: PrOutAction::Clear,
                    flag: "ALL_TG_PT",
                },
            ),
            (
                PrOut::register(K1, K2).with_unreg(),
                BuildError::FlagNotAllowed {
                    action: PrOutAction::Register,
                    flag: "UNREG",
                },
            ),
            (
                PrOut::register(K1, K2).with_spec_i_pt(&[]),
                BuildError::SpecIPtWithoutTransportIds,
            ),
            (
                PrOut {
                    reservation_type: None,
                    ..PrOut::preempt(K1, K2, ReservationType::WriteExclusive)
                },
                BuildError::TypeRequired {
                    action: PrOutAction::Preempt,
                },
            ),
            (
                PrOut::register_and_move(
                    K1,
                    K2,
                    ReservationType::WriteExclusiveAllRegistrants,
                    &sas[0],
                    1,
                ),
                BuildError::MoveAllRegistrants { code: 7 },
            ),
            (
                PrOut {
                    transport_ids: &[],
                    ..PrOut::register_and_move(K1, K2, ReservationType::WriteExclusive, &sas[0], 1)
                },
                BuildError::MoveNeedsOneTransportId { count: 0 },
            ),
            (
                PrOut {
                    transport_ids: &sas,
                    ..PrOut::clear(K1)
                },
                BuildError::TransportIdsNotAllowed {
                    action: PrOutAction::Clear,
                    count: 1,
                },
            ),
        ];
        for (req, want) in cases {
            assert_eq!(req.validate(), Err(want.clone()), "{req:?}");
            let mut cdb = [0; 10];
            assert_eq!(req.encode_cdb(&mut cdb), Err(want.clone()));
            let mut buf = [0; 128];
            assert_eq!(req.encode_params(&mut buf), Err(want.clone()));
            assert!(!want.to_string().is_empty());
        }
    }

    #[test]
    fn buffer_too_small() {
        let mut buf = [0u8; 23];
        assert_eq!(
            PrOut::clear(K1).encode_params(&mut buf),
            Err(BuildError::BufferTooSmall {
                needed: 24,
                available: 23
            })
        );
    }

    #[test]
    fn short_lists_are_errors() {
        assert!(BasicParams::decode(&[0; 23]).is_err());
        let mut b = [0u8; 24];
        b[20] = 0x08;
        assert!(BasicParams::decode(&b).is_err());
        assert!(MoveParams::decode(&[0; 10]).is_err());
    }

    fn ty() -> impl Strategy<Value = ReservationType> {
        proptest::sample::select(ReservationType::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn basic_roundtrip(key: u64, sa: u64, aptpl: bool, all_tg: bool, a in 0usize..9, t in ty(),
                           addrs in proptest::collection::vec(any::<u64>(), 0..5)) {
            let action = PrOutAction::ALL[a];
            let ids: Vec<TransportId<'static>> = addrs.iter().map(|&address| TransportId::Sas { address }).collect();
            let mut req = PrOut { key: ReservationKey(key), sa_key: ReservationKey(sa), ..PrOut::clear(ReservationKey(0)) };
            req.action = action;
            req.reservation_type = action.uses_type().then_some(t);
            if aptpl { req = req.with_aptpl(); }
            if all_tg { req = req.with_all_tg_pt(); }
            if action == PrOutAction::Register && !ids.is_empty() { req = req.with_spec_i_pt(&ids); }
            if action == PrOutAction::RegisterAndMove { req.transport_ids = &ids[..ids.len().min(1)]; }
            if req.validate().is_err() { return Ok(()); }
            let (cdb, p) = enc(&req);
            let c = PrOutCdb::decode(&cdb).unwrap();
            prop_assert_eq!(c.service_action, action.code());
            prop_assert_eq!(c.type_code, req.reservation_type.map_or(0, |t| t.code()));
            prop_assert_eq!(usize::try_from(c.parameter_list_length).unwrap(), p.len());
            match ParamList::decode(action, &p).unwrap() {
                ParamList::Basic(b) => {
                    prop_assert_eq!(b.key, req.key);
                    prop_assert_eq!(b.sa_key, req.sa_key);
                    prop_assert_eq!(b.flags, req.flags);
                    let got: Vec<_> = b.transport_ids().map(Result::unwrap).collect();
                    prop_assert_eq!(&got[..], req.transport_ids);
                }
                ParamList::Move(m) => {
                    prop_assert_eq!(m.key, req.key);
                    prop_assert_eq!(m.sa_key, req.sa_key);
                    prop_assert_eq!(m.flags, req.flags);
                    prop_assert_eq!(m.transport_id().unwrap(), req.transport_ids[0].clone());
                }
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), a in 0usize..9) {
            if let Ok(p) = ParamList::decode(PrOutAction::ALL[a], &bytes) {
                match p {
                    ParamList::Basic(b) => { for t in b.transport_ids() { let _ = t; } }
                    ParamList::Move(m) => { let _ = m.transport_id(); }
                }
            }
        }
    }
}
