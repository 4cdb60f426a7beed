//! Human-readable rendering of decoded PR IN responses, kept apart from decoding.
//!
//! These `Display` impls are for logs and interactive tools. They are *not* the exact text
//! formats of `sg_persist` or `mpathpersist`, which scripts and fence agents parse; those
//! belong to the command-line tools and are built there on top of the same views.
//!
//! ```
//! use pr_core::prin::ReadKeys;
//! let bytes = [0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];
//! let text = ReadKeys::decode(&bytes).unwrap().to_string();
//! assert_eq!(text, "PRgeneration 0x2, 1 registered key: 0xabcd");
//! ```

use core::fmt;

use crate::prin::{Capabilities, FullStatus, ReadKeys, ReadReservation, Response, Truncation};
use crate::types::{ReservationType, type_code_name};

impl fmt::Display for ReadKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.reported_count();
        write!(
            f,
            "PRgeneration {:#x}, {} registered key{}",
            self.generation(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for (i, k) in self.keys().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{k}")?;
        }
        if self.is_truncated() {
            write!(f, " (truncated: {} of {} shown)", self.len(), n)?;
        }
        Ok(())
    }
}

impl fmt::Display for ReadReservation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PRgeneration {:#x}, ", self.generation())?;
        match self.reservation() {
            Some(r) => write!(
                f,
                "reservation held with key {}, scope {}, type {}",
                r.key,
                r.scope,
                type_code_name(r.type_code)
            ),
            None if self.is_reserved() => f.write_str("reservation held (descriptor truncated)"),
            None => f.write_str("no reservation"),
        }
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |v: bool| u8::from(v);
        write!(
            f,
            "RLR_C={} CRH={} SIP_C={} ATP_C={} PTPL_C={} TMV={} ALLOW_COMMANDS={} PTPL_A={}",
            b(self.rlr_c()),
            b(self.crh()),
            b(self.sip_c()),
            b(self.atp_c()),
            b(self.ptpl_c()),
            b(self.tmv()),
            self.allow_commands.0,
            b(self.ptpl_a())
        )?;
        if self.tmv() {
            f.write_str(", types:")?;
            let mut any = false;
            for t in ReservationType::ALL {
                if self.type_mask.supports(t) {
                    write!(f, " {}", t.short_name())?;
                    any = true;
                }
            }
            if !any {
                f.write_str(" none")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for FullStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PRgeneration {:#x}", self.generation())?;
        let mut n = 0usize;
        for d in self.descriptors() {
            n = n.saturating_add(1);
            write!(f, "\n  key {}", d.key())?;
            if d.is_holder() {
                write!(
                    f,
                    ", reservation holder ({}, {})",
                    d.scope(),
                    type_code_name(d.type_code())
                )?;
            }
            if d.all_tg_pt() {
                f.write_str(", all target ports")?;
            } else {
                write!(f, ", relative target port {:#x}", d.relative_target_port())?;
            }
            match d.transport_id() {
                Ok(t) => write!(f, ", initiator {t}")?,
                Err(e) => write!(f, ", undecodable TransportID ({e})")?,
            }
        }
        if n == 0 {
            f.write_str(", no registrations")?;
        }
        if let Truncation::Cut { needed } = self.truncation(u32::MAX) {
            write!(f, "\n  (truncated: allocation length {needed} needed)")?;
        }
        Ok(())
    }
}

impl fmt::Display for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::ReadKeys(r) => r.fmt(f),
            Response::ReadReservation(r) => r.fmt(f),
            Response::ReportCapabilities(r) => r.fmt(f),
            Response::ReadFullStatus(r) => r.fmt(f),
        }
    }
}
