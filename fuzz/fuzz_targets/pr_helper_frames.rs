#![no_main]
//! pr-helper's request decoder on any byte stream, cut into pieces of any size (the first
//! byte picks the piece size): it must never panic, never hold more than one request, and
//! every request it returns must re-encode to exactly the bytes it consumed. The reply
//! header decoder runs on the same bytes.
use libfuzzer_sys::fuzz_target;
use pr_helper::wire::{
    CDB_SIZE, DATA_SIZE, RESPONSE_HEADER_SIZE, ReplyHeader, RequestDecoder, encode_request,
};

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else { return };
    let piece = usize::from(piece).max(1);
    let mut decoder = RequestDecoder::new();
    let mut consumed = Vec::new();
    'outer: for chunk in stream.chunks(piece) {
        let mut input = chunk;
        while !input.is_empty() {
            let before = input.len();
            match decoder.decode(&mut input) {
                Ok(Some(frame)) => {
                    consumed.extend_from_slice(&chunk[chunk.len() - before..chunk.len() - input.len()]);
                    assert!(frame.header.transfer_len <= DATA_SIZE);
                    assert_eq!(frame.data.len(), frame.header.data_len());
                    let again = encode_request(&frame.header.cdb, &frame.data).unwrap();
                    assert_eq!(again, consumed);
                    assert!(decoder.is_idle());
                    consumed.clear();
                }
                Ok(None) => {
                    consumed.extend_from_slice(&chunk[chunk.len() - before..chunk.len() - input.len()]);
                    assert!(input.is_empty(), "the decoder stopped before the input's end");
                    assert!(consumed.len() < CDB_SIZE + DATA_SIZE);
                }
                Err(_) => break 'outer,
            }
        }
    }
    if let Some(h) = stream.get(..RESPONSE_HEADER_SIZE) {
        let h: &[u8; RESPONSE_HEADER_SIZE] = h.try_into().unwrap();
        if let Ok(r) = ReplyHeader::decode(h) {
            assert!(r.size <= DATA_SIZE);
        }
    }
});
