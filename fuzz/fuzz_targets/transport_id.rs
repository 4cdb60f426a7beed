#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::transport_id::TransportId;

fuzz_target!(|data: &[u8]| {
    if let Ok((t, used)) = TransportId::decode(data) {
        assert!(used <= data.len());
        let text = t.to_string();
        let _ = t.describe().to_string();
        // What we print, we can read back.
        if let Ok(back) = TransportId::parse(&text) {
            assert_eq!(back.protocol(), t.protocol());
        }
    }
});
