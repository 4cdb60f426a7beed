#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::prin::Capabilities;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Capabilities::decode(data) {
        // Every bit survives a round trip.
        let mut want = [0u8; 8];
        want[..6].copy_from_slice(&data[..6]);
        assert_eq!(c.to_bytes(), want);
        let _ = c.to_string();
    }
});
