#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::nvme::{NvmeIoctlResult, NvmeStatus, ResvCommand};

// Bytes 0-3: an ioctl return (LE i32); 4-5: a CQE status half; then opcode, CDW10, CDW11
// and the data of a reservation command as a controller would receive it.
fuzz_target!(|data: &[u8]| {
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if let Some(ret) = word(0) {
        let r = NvmeIoctlResult::from_return(ret as i32);
        let _ = (r.disposition(), r.is_retryable(), r.to_string());
    }
    if let Some(b) = data.get(4..6) {
        let s = NvmeStatus::from_cqe_status(u16::from_le_bytes([b[0], b[1]]));
        let _ = (
            s.disposition(),
            s.linux_pr_status(),
            s.name(),
            s.to_string(),
        );
    }
    if let (Some(&op), Some(c10), Some(c11), Some(rest)) =
        (data.get(6), word(7), word(11), data.get(15..))
    {
        if let Ok(c) = ResvCommand::decode(op, c10, c11, rest) {
            let mut buf = [0u8; 16];
            if let (Ok(cdw10), Ok(n)) = (c.cdw10(), c.encode_data(&mut buf)) {
                assert_eq!(
                    ResvCommand::decode(c.opcode(), cdw10, c.cdw11(), &buf[..n]),
                    Ok(c)
                );
            }
        }
    }
});
