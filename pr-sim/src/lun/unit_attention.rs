//! Unit attentions: how each personality queues a new condition for a nexus, and which one a
//! command reports.

use super::{ItNexus, LogicalUnit};

impl LogicalUnit {
    pub(super) fn add_ua(&mut self, nexus: &ItNexus, code: (u8, u8)) {
        let lio = self.lio();
        let q = self.uas.entry(nexus.clone()).or_default();
        if lio {
            // LIO compares the new condition with the head of the queue only; 29h goes in
            // front of 2Ah; everything else goes to the tail.
            match q.front().copied() {
                None => q.push_back(code),
                Some(head) if head == code => {}
                Some((0x29, hq)) => {
                    if code.0 == 0x29 && code.1 > hq {
                        q.push_front(code)
                    } else {
                        q.push_back(code)
                    }
                }
                Some((0x2a, _)) if code.0 == 0x29 => q.push_front(code),
                Some(_) => q.push_back(code),
            }
        } else if code.0 == 0x29 {
            // A power on or reset supersedes every condition queued before it.
            q.clear();
            q.push_back(code);
        } else if !q.contains(&code) {
            q.push_back(code);
        }
    }

    /// Takes the unit attention to report to `nexus`: the first one (SPC: one at a time;
    /// LIO: the first, and the others are discarded).
    pub(super) fn take_ua(&mut self, nexus: &ItNexus) -> Option<(u8, u8)> {
        let lio = self.lio();
        let q = self.uas.get_mut(nexus)?;
        let first = q.pop_front();
        if lio {
            q.clear();
        }
        first
    }

    /// Queues `code` for the nexus of every registration on the list except `except`
    /// (LIO walks the list, so a nexus registered twice is visited twice).
    pub(super) fn lio_ua_to_list(&mut self, except: Option<u64>, code: (u8, u8)) {
        let targets: Vec<ItNexus> = self
            .regs
            .iter()
            .filter(|r| Some(r.id) != except)
            .map(|r| r.nexus.clone())
            .collect();
        for n in targets {
            self.add_ua(&n, code);
        }
    }
}
