//! The cross-face scenario through the async and the blocking Rust front doors: the same
//! dump, and the outcomes the scenario must have (see `pr_tests::cross_face`). The C and
//! Python sides are compared with this one by `tests/cross-face.sh`.

use pr_tests::cross_face::{run_async, run_blocking};

#[test]
fn async_and_blocking_front_doors_end_in_the_same_state() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = rt.block_on(run_async()).unwrap();
    let b = run_blocking().unwrap();
    assert_eq!(a, b);
    // The scenario's own expectations, so that equal but wrong dumps fail too.
    for lun in ["lun0", "lun1", "lun2"] {
        assert!(a.contains(&format!("fence1 {lun} ok\n")), "{a}");
        assert!(a.contains(&format!("fence2 {lun} already_fenced\n")), "{a}");
    }
    assert!(
        !a.contains("key=0x1111"),
        "node 1 is fenced everywhere:\n{a}"
    );
    assert_eq!(
        a.matches("key=0x2222").count(),
        6,
        "node 2's two paths on three LUNs:\n{a}"
    );
    assert_eq!(
        a.matches("holder=1 type=5").count(),
        3,
        "node 2 holds WE_RO (5h) through one path of every LUN:\n{a}"
    );
    assert_eq!(a.matches("holder=1").count(), 3, "{a}");
    // Deterministic: a second run gives the same dump.
    assert_eq!(a, rt.block_on(run_async()).unwrap());
}
