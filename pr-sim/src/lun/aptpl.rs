//! APTPL: the state file, written (or removed) after each successful PR OUT and read back when
//! the logical unit is created and at power on.

use crate::persist::{self, Stored, StoredReg};

use super::{LogicalUnit, R, Resv, lu_comm_failure};

impl LogicalUnit {
    pub(super) fn stored(&self) -> Stored {
        Stored {
            regs: self
                .regs
                .iter()
                .map(|r| StoredReg {
                    nexus: r.nexus.clone(),
                    key: r.key,
                    all_tg_pt: r.all_tg_pt,
                })
                .collect(),
            resv: self.resv.as_ref().map(|r| (r.ty, r.holder.clone())),
        }
    }

    /// The text of the APTPL state file for the current state.
    pub fn state_text(&self) -> String {
        persist::encode(&self.stored())
    }

    pub(super) fn persist(&self) -> R<()> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        let r = if self.aptpl {
            persist::write_atomically(path, &self.state_text())
        } else {
            persist::remove(path)
        };
        // The state changed in memory; the device reports that it could not store it.
        r.map_err(|_| lu_comm_failure())
    }

    pub(super) fn load_state_file(&mut self) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Ok(st) = persist::decode(&text) else {
            return;
        };
        self.regs.clear();
        for r in st.regs {
            self.push_reg(r.nexus, r.key, r.all_tg_pt);
        }
        self.resv = st.resv.map(|(ty, holder)| Resv {
            ty,
            holder,
            holder_reg: None,
        });
        self.aptpl = true;
        self.settle();
        self.lio_fixup();
    }
}
