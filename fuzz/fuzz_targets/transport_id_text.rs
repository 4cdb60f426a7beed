#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::transport_id::TransportId;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = TransportId::parse(s) {
        let mut buf = vec![0u8; t.encoded_len()];
        let n = t.encode(&mut buf).expect("a parsed TransportID encodes");
        assert_eq!(n, buf.len());
        let (back, used) = TransportId::decode(&buf).expect("an encoded TransportID decodes");
        assert_eq!(used, n);
        assert_eq!(back.protocol(), t.protocol());
    }
});
