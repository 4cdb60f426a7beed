//! The command-sequence generator and runner: reproducible, sim-vs-sim identical, and the
//! LIO personality diverging from SPC-5.

use pr_sim::sequence::{self, GenConfig};
use pr_sim::{LunConfig, Sim, lab_iscsi_nexuses, lab_loop_nexuses};

#[test]
fn generation_is_reproducible_from_the_seed() {
    let n = lab_loop_nexuses(3);
    let a = sequence::generate(&GenConfig::new(11, 300, n.clone()));
    let b = sequence::generate(&GenConfig::new(11, 300, n.clone()));
    let c = sequence::generate(&GenConfig::new(12, 300, n));
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Every PR OUT service action and all four PR IN ones appear.
    for sa in 0u8..=8 {
        assert!(
            a.iter().any(|s| s.cdb[0] == 0x5f && s.cdb[1] == sa),
            "PR OUT SA {sa}"
        );
    }
    for sa in 0u8..=3 {
        assert!(
            a.iter().any(|s| s.cdb[0] == 0x5e && s.cdb[1] == sa),
            "PR IN SA {sa}"
        );
    }
    assert!(
        a.iter()
            .any(|s| s.cdb[0] == 0x5f && s.data_out.get(20).is_some_and(|f| f & 8 != 0))
    );
    assert!(!a[0].to_string().is_empty());
}

#[tokio::test]
async fn spc5_against_spc5_is_identical() {
    for (seed, nexuses) in [
        (1u64, lab_loop_nexuses(3)),
        (2, lab_iscsi_nexuses(3)),
        (3, lab_loop_nexuses(4)),
    ] {
        let steps = sequence::generate(&GenConfig::new(seed, 400, nexuses.clone()));
        let (_, a) = Sim::single_lun(LunConfig::spc5(), &nexuses);
        let (_, b) = Sim::single_lun(LunConfig::spc5(), &nexuses);
        let ra = sequence::run(&steps, &a, 0).await;
        let rb = sequence::run(&steps, &b, 0).await;
        assert_eq!(ra.len(), 400);
        assert!(sequence::first_divergence(&ra, &rb).is_none());
    }
}

#[tokio::test]
async fn spc5_against_lio_diverges() {
    let mut diverged = 0;
    let mut first = Vec::new();
    for seed in 0..20u64 {
        let nexuses = lab_loop_nexuses(3);
        let steps = sequence::generate(&GenConfig::new(seed, 200, nexuses.clone()));
        // Same REPORT CAPABILITIES on both sides, so that only behaviour differs.
        let spc = LunConfig::spc5().with_capabilities(LunConfig::lio_capabilities());
        let (_, a) = Sim::single_lun(spc, &nexuses);
        let (_, b) = Sim::single_lun(LunConfig::lio(), &nexuses);
        let ra = sequence::run(&steps, &a, 0).await;
        let rb = sequence::run(&steps, &b, 0).await;
        if let Some(d) = sequence::first_divergence(&ra, &rb) {
            diverged += 1;
            if first.len() < 6 {
                first.push(format!("seed {seed}: {} at {}", d, steps[d.step]));
            }
        }
    }
    eprintln!("Spc5 vs Lio: {diverged}/20 sequences diverge; first: {first:#?}");
    assert!(
        diverged >= 15,
        "the personalities should differ on most random sequences"
    );
}
