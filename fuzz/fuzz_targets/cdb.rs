#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::cdb::{PrInCdb, PrOutCdb};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = PrInCdb::decode(data) {
        assert_eq!(PrInCdb::decode(&c.to_bytes()), Ok(c));
    }
    if let Ok(c) = PrOutCdb::decode(data) {
        assert_eq!(PrOutCdb::decode(&c.to_bytes()), Ok(c));
    }
});
