#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::prin::ReadKeys;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ReadKeys::decode(data) {
        let n = r.keys().count();
        assert!(n * 8 + 8 <= data.len());
        assert!(n as u64 <= u64::from(r.reported_count()));
        let _ = (r.needed_alloc_len(), r.to_string());
    }
});
