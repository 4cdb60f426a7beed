//! The human, multi-line description of a TransportID ([`TransportId::describe`]).

use std::fmt;

use super::{ISID_SEPARATOR, TransportId};

impl<'a> TransportId<'a> {
    /// A human, multi-line description (protocol, then each field on its own line), in the
    /// spirit of how `sg_persist` shows TransportIDs in READ FULL STATUS. Use
    /// [`Describe::indent`] to prefix every line.
    #[must_use]
    pub fn describe(&self) -> Describe<'_, 'a> {
        Describe {
            tid: self,
            indent: "",
        }
    }
}

/// A multi-line human description of a TransportID; see [`TransportId::describe`].
#[derive(Debug, Clone, Copy)]
pub struct Describe<'t, 'a> {
    tid: &'t TransportId<'a>,
    indent: &'t str,
}

impl<'t, 'a> Describe<'t, 'a> {
    /// Prefixes every line with `indent`.
    #[must_use]
    pub fn indent(self, indent: &'t str) -> Self {
        Describe { indent, ..self }
    }
}

impl fmt::Display for Describe<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.indent;
        let tid = self.tid;
        write!(f, "{i}TransportID, {}:", tid.protocol())?;
        match tid {
            TransportId::FibreChannel { n_port_name } => {
                write!(f, "\n{i}  N_Port_Name: 0x{n_port_name:016x}")
            }
            TransportId::ParallelScsi {
                scsi_address,
                relative_target_port,
            } => write!(
                f,
                "\n{i}  SCSI address: 0x{scsi_address:x}\
                 \n{i}  relative target port identifier: {relative_target_port}"
            ),
            TransportId::Ieee1394 { eui64 } => write!(f, "\n{i}  EUI-64 name: 0x{eui64:016x}"),
            TransportId::Srp { port_id } => {
                write!(f, "\n{i}  initiator port identifier: 0x")?;
                port_id.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            TransportId::Iscsi { name, isid: None } => {
                write!(f, "\n{i}  iSCSI name: {}", Escaped(name))
            }
            TransportId::Iscsi {
                name,
                isid: Some(isid),
            } => write!(
                f,
                "\n{i}  world wide unique port id: {}{ISID_SEPARATOR}{}\
                 \n{i}  iSCSI name: {}\
                 \n{i}  ISID: 0x{}",
                Escaped(name),
                Escaped(isid),
                Escaped(name),
                Escaped(isid)
            ),
            TransportId::Sas { address } => write!(f, "\n{i}  SAS address: 0x{address:016x}"),
            TransportId::Sop { routing_id } => {
                let [bus, low] = routing_id.to_be_bytes();
                write!(
                    f,
                    "\n{i}  routing ID: 0x{routing_id:04x} (bus {bus}, device {}, function {}; \
                     with ARI: bus {bus}, function {low})",
                    low.wrapping_shr(3),
                    low & 0x07
                )
            }
            TransportId::Ssa { format, .. } | TransportId::Other { format, .. } => {
                write!(f, "\n{i}  format code {format}: no layout defined; bytes:")?;
                let mut n: usize = 0;
                tid.emit(|b| {
                    if n % 16 == 0 {
                        write!(f, "\n{i}   ")?;
                    }
                    n = n.saturating_add(1);
                    write!(f, " {b:02x}")
                })
            }
        }
    }
}

/// Writes text with control characters escaped (for names decoded from untrusted bytes).
struct Escaped<'s>(&'s str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}
