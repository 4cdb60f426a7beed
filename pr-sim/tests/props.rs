//! Property tests: no input panics the device server, and its invariants hold on random
//! command sequences.

use proptest::prelude::*;

use pr_core::prin::FullStatus;
use pr_sim::sequence::{GenConfig, generate};
use pr_sim::{ItNexus, LogicalUnit, LunConfig, lab_iscsi_nexuses, lab_loop_nexuses};

fn lu(
    lio: bool,
    nexuses: &[(pr_core::transport_id::TransportId<'static>, u16)],
) -> (LogicalUnit, Vec<ItNexus>) {
    let cfg = if lio {
        LunConfig::lio()
    } else {
        LunConfig::spc5()
    }
    .with_max_registrations(6);
    let mut lu = LogicalUnit::new(cfg, vec![1, 2, 3]);
    let n: Vec<ItNexus> = nexuses
        .iter()
        .map(|(t, p)| ItNexus::new(t.clone(), *p))
        .collect();
    for x in &n {
        lu.add_nexus(x.clone());
    }
    (lu, n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_commands_never_panic(
        lio: bool,
        cmds in proptest::collection::vec(
            (0usize..3,
             proptest::sample::select(vec![0x00u8, 0x03, 0x12, 0x25, 0x28, 0x2a, 0x5e, 0x5f, 0x88, 0x8a, 0xa0, 0xff]),
             proptest::collection::vec(any::<u8>(), 0..17),
             proptest::collection::vec(any::<u8>(), 0..120),
             0usize..300),
            1..20),
    ) {
        let (mut lu, n) = lu(lio, &lab_loop_nexuses(3));
        for (i, op, mut cdb, data, room) in cmds {
            if !cdb.is_empty() { cdb[0] = op; }
            let r = lu.execute(&n[i], &cdb, &data, room);
            prop_assert!(r.data.len() <= room);
            prop_assert!(lu.check_invariants().is_ok(), "{:?}", lu.check_invariants());
        }
    }

    #[test]
    fn random_sequences_keep_the_invariants(seed: u64, lio: bool, iscsi: bool) {
        let nexuses = if iscsi { lab_iscsi_nexuses(3) } else { lab_loop_nexuses(3) };
        let (mut lu, n) = lu(lio, &nexuses);
        let mut cfg = GenConfig::new(seed, 120, nexuses);
        cfg.invalid_rate = 0.1;
        let mut last = 0u32;
        for s in generate(&cfg) {
            let r = lu.execute(&n[s.nexus], &s.cdb, &s.data_out, s.data_in_len);
            prop_assert!(r.data.len() <= s.data_in_len);
            // PRgeneration is monotone (it only wraps after 2^32 steps).
            prop_assert!(lu.generation() >= last);
            last = lu.generation();
            prop_assert!(lu.check_invariants().is_ok(), "{:?}", lu.check_invariants());
            // All-registrants: the holder set is exactly the registrants.
            let fs = lu.execute(&n[0], &[0x5e, 3, 0, 0, 0, 0, 0, 0x20, 0, 0], &[], 8192);
            if fs.status.is_good() {
                let f = FullStatus::decode(&fs.data).unwrap();
                let holders = f.descriptors().filter(|d| d.is_holder()).count();
                match lu.reservation() {
                    None => prop_assert_eq!(holders, 0),
                    Some(r) if r.reservation_type.is_all_registrants() => {
                        prop_assert_eq!(holders, f.descriptors().count())
                    }
                    Some(r) => {
                        let h = r.holder.unwrap();
                        prop_assert!(lu.is_registered(&h));
                        prop_assert!(holders >= 1);
                    }
                }
            }
        }
    }
}
