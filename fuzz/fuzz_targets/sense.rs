#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::outcome::{Completion, SenseBuf};
use pr_core::sense::{ScsiStatus, Sense};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Sense::parse(data) {
        let _ = (s.key(), s.asc(), s.ascq(), s.information(), s.sense_key_specific());
    }
    let Some((&status, sense)) = data.split_first() else { return };
    let c = Completion {
        status: ScsiStatus(status),
        sense: SenseBuf::new(sense),
        host_status: 0,
        driver_status: 0,
        residual: 0,
        duration: std::time::Duration::ZERO,
    };
    if let Err(e) = c.check() {
        let _ = e.to_string();
    }
});
