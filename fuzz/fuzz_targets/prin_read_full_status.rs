#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::prin::FullStatus;

fuzz_target!(|data: &[u8]| {
    if let Ok(fs) = FullStatus::decode(data) {
        for d in fs.descriptors() {
            let _ = (d.key(), d.reservation_type(), d.relative_target_port());
            if let Ok(t) = d.transport_id() {
                let _ = (t.to_string(), t.encoded_len());
            }
        }
        let _ = (fs.truncation(u32::from(u16::MAX)), fs.to_string());
    }
});
