#![no_main]
use libfuzzer_sys::fuzz_target;
use pr_core::nvme::ReservationReport;

// First byte: bit 0 selects the format (EDS); the rest is the Reservation Status data.
fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let eds = sel & 1 != 0;
    if let Ok(r) = ReservationReport::decode(bytes, eds) {
        let mut n = 0usize;
        for c in r.controllers() {
            let _ = (c.holds_reservation(), c.host_id.to_string(), c.key);
            n += 1;
        }
        assert!(n <= usize::from(r.registered_controllers()));
        assert_eq!(n, usize::from(r.controllers_present()));
        assert_eq!(r.is_truncated(), r.needed_len().is_some());
        let _ = (
            r.generation(),
            r.reservation_type(),
            r.holder(),
            r.persist_through_power_loss(),
        );
    }
});
