#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::prin::ReadReservation;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ReadReservation::decode(data) {
        let _ = (r.reservation(), r.needed_alloc_len(), r.to_string());
    }
});
