//! Per-path faults through the async Transport layer, on tokio's paused clock.

use std::time::Duration;

use pr_core::cdb::PrInCdb;
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Transport, TransportError};
use pr_core::types::{PrInAction, ReservationKey as Key, ReservationType};
use pr_sim::{ClusterSpec, Injection, Latency, Sim, SimPath, TraceOutcome};

fn register_req(old: u64, new: u64) -> Request {
    let p = PrOut::register(Key(old), Key(new));
    let mut cdb = [0u8; 10];
    p.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; 24];
    p.encode_params(&mut params).unwrap();
    Request::data_out(Cdb::from(cdb), params)
}

fn reserve_req(key: u64, ty: ReservationType) -> Request {
    let p = PrOut::reserve(Key(key), ty);
    let mut cdb = [0u8; 10];
    p.encode_cdb(&mut cdb).unwrap();
    let mut params = vec![0u8; 24];
    p.encode_params(&mut params).unwrap();
    Request::data_out(Cdb::from(cdb), params)
}

fn tur() -> Request {
    Request::no_data(Cdb::new(&[0; 6]).unwrap())
}

fn setup() -> (Sim, SimPath, SimPath) {
    let c = Sim::cluster(&ClusterSpec {
        luns: 1,
        ..ClusterSpec::default()
    });
    let a = c.nodes[0].paths[0][0].clone();
    let b = c.nodes[1].paths[0][0].clone();
    (c.sim, a, b)
}

fn generation(sim: &Sim) -> u32 {
    sim.with_lun(pr_sim::Lun(0), |l| l.generation()).unwrap()
}

#[test]
fn paths_are_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<SimPath>();
    assert_traits::<Sim>();
}

#[tokio::test(start_paused = true)]
async fn path_down_fails_with_path_down_and_recovers() {
    let (sim, a, _) = setup();
    a.set_down(true);
    let e = a.execute(register_req(0, 1)).await.unwrap_err();
    assert!(matches!(e, TransportError::PathDown { .. }), "{e}");
    assert_eq!(generation(&sim), 0, "never reached the device server");
    a.set_down(false);
    assert!(
        a.execute(register_req(0, 1))
            .await
            .unwrap()
            .completion
            .is_good()
    );
    assert_eq!(generation(&sim), 1);
}

#[tokio::test(start_paused = true)]
async fn fixed_latency_sleeps_on_the_tokio_clock() {
    let (_, a, _) = setup();
    a.set_latency(Latency::Fixed(Duration::from_millis(250)));
    let t0 = tokio::time::Instant::now();
    let r = a.execute(tur()).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
    assert_eq!(r.completion.duration, Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn uniform_latency_is_in_range_and_reproducible_from_the_seed() {
    let (_, a, _) = setup();
    let lat = Latency::Uniform {
        min: Duration::from_millis(10),
        max: Duration::from_millis(50),
    };
    a.set_latency(lat);
    let mut first = Vec::new();
    for seed in [1u64, 1] {
        a.seed_faults(seed);
        let mut v = Vec::new();
        for _ in 0..20 {
            let d = a.execute(tur()).await.unwrap().completion.duration;
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(50));
            v.push(d);
        }
        if first.is_empty() {
            first = v;
        } else {
            assert_eq!(first, v);
        }
    }
    assert!(first.iter().any(|d| *d != first[0]));
}

#[tokio::test(start_paused = true)]
async fn injected_unit_attention_busy_and_task_set_full_answer_without_executing() {
    let (sim, a, _) = setup();
    a.inject(Injection::UnitAttention(0x2a, 0x09), 1);
    a.inject(Injection::Busy, 1);
    a.inject(Injection::TaskSetFull, 1);
    let r = a.execute(register_req(0, 1)).await.unwrap();
    assert_eq!(r.completion.sense().unwrap().asc_ascq(), Some((0x2a, 0x09)));
    let r = a.execute(register_req(0, 1)).await.unwrap();
    assert_eq!(r.completion.status.0, 0x08);
    let r = a.execute(register_req(0, 1)).await.unwrap();
    assert_eq!(r.completion.status.0, 0x28);
    assert_eq!(generation(&sim), 0);
    assert!(
        a.execute(register_req(0, 1))
            .await
            .unwrap()
            .completion
            .is_good()
    );
}

#[tokio::test(start_paused = true)]
async fn probabilistic_injection_is_seeded() {
    let (_, a, _) = setup();
    a.seed_faults(42);
    a.inject_with_probability(Injection::Busy, 0.5);
    let mut busy = 0;
    for _ in 0..200 {
        if a.execute(tur()).await.unwrap().completion.status.0 == 0x08 {
            busy += 1;
        }
    }
    assert!((60..140).contains(&busy), "{busy}");
    a.inject_with_probability(Injection::Busy, 0.0);
    assert!(a.execute(tur()).await.unwrap().completion.is_good());
}

#[tokio::test(start_paused = true)]
async fn lost_reply_executes_then_times_out() {
    let (sim, a, _) = setup();
    a.lose_replies(1);
    let e = a
        .execute(register_req(0, 7).with_timeout(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(e, TransportError::Timeout(Duration::from_secs(3)));
    assert_eq!(generation(&sim), 1, "the REGISTER happened");
    // A retry of the same REGISTER now conflicts: the classic ambiguity.
    let r = a.execute(register_req(0, 7)).await.unwrap();
    assert_eq!(r.completion.status.0, 0x18);
}

#[tokio::test(start_paused = true)]
async fn target_restart_gives_power_on_unit_attention_to_every_nexus_and_loses_state() {
    let (sim, a, b) = setup();
    assert!(
        a.execute(register_req(0, 1))
            .await
            .unwrap()
            .completion
            .is_good()
    );
    assert!(
        a.execute(reserve_req(1, ReservationType::WriteExclusive))
            .await
            .unwrap()
            .completion
            .is_good()
    );
    a.restart_target();
    for p in [&a, &b] {
        let r = p.execute(tur()).await.unwrap();
        assert_eq!(r.completion.sense().unwrap().asc_ascq(), Some((0x29, 0x00)));
        assert!(p.execute(tur()).await.unwrap().completion.is_good());
    }
    assert!(
        sim.with_lun(pr_sim::Lun(0), |l| l.registrations().is_empty())
            .unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn trace_records_every_command_and_fault() {
    let (sim, a, b) = setup();
    sim.clear_trace();
    a.execute(register_req(0, 1)).await.unwrap();
    a.set_down(true);
    let _ = a.execute(tur()).await;
    a.set_down(false);
    b.inject(Injection::Busy, 1);
    b.execute(tur()).await.unwrap();
    b.lose_replies(1);
    let _ = b.execute(tur()).await;
    sim.power_cycle();
    let t = sim.trace();
    let kinds: Vec<_> = t.iter().map(|e| e.outcome.clone()).collect();
    assert!(matches!(
        kinds[0],
        TraceOutcome::Completed { status: 0, .. }
    ));
    assert_eq!(kinds[1], TraceOutcome::PathDown);
    assert_eq!(kinds[2], TraceOutcome::Injected(Injection::Busy));
    assert!(matches!(kinds[3], TraceOutcome::ReplyLost { .. }));
    assert_eq!(kinds[4], TraceOutcome::PowerCycle);
    assert!(t[0].to_string().contains("cdb 5f 00"), "{}", t[0]);
    assert_eq!(t[0].path, "n0p0l0");
}

#[tokio::test(start_paused = true)]
async fn linux_host_byte_marks_reservation_conflict() {
    let (_, a, b) = setup();
    assert!(
        a.execute(register_req(0, 1))
            .await
            .unwrap()
            .completion
            .is_good()
    );
    assert!(
        a.execute(reserve_req(1, ReservationType::ExclusiveAccess))
            .await
            .unwrap()
            .completion
            .is_good()
    );
    let b = b.with_linux_host_bytes();
    let r = b.execute(tur()).await.unwrap();
    assert!(
        r.completion.is_good(),
        "TEST UNIT READY passes (ALLOW COMMANDS 001b)"
    );
    let read = Request::data_in(Cdb::new(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 512);
    let r = b.execute(read).await.unwrap();
    assert_eq!(
        (r.completion.status.0, r.completion.host_status),
        (0x18, 0x11)
    );
    assert!(r.completion.check().unwrap_err().is_reservation_conflict());
}

#[tokio::test(start_paused = true)]
async fn data_in_is_cut_to_the_buffer_with_residual() {
    let (_, a, _) = setup();
    a.execute(register_req(0, 1)).await.unwrap();
    let cdb = Cdb::from(PrInCdb::new(PrInAction::ReadKeys, 100).to_bytes());
    let r = a.execute(Request::data_in(cdb, 100)).await.unwrap();
    assert_eq!(r.buf.len(), 16);
    assert_eq!(r.completion.residual, 84);
    let r = a.execute(Request::data_in(cdb, 12)).await.unwrap();
    assert_eq!(r.buf.len(), 12);
}

#[test]
fn execute_now_runs_without_a_runtime() {
    let (sim, a, _) = setup();
    assert!(
        a.execute_now(&register_req(0, 1))
            .unwrap()
            .completion
            .is_good()
    );
    assert_eq!(generation(&sim), 1);
}

#[tokio::test]
async fn injected_not_ready_answers_the_next_commands_without_executing() {
    let (sim, a, _) = setup();
    a.inject(
        Injection::NotReady {
            asc: 0x04,
            ascq: 0x01,
        },
        2,
    );
    for _ in 0..2 {
        let r = a.execute(register_req(0, 0xa1)).await.unwrap();
        assert_eq!(
            r.completion.sense().map(|s| s.key()),
            Some(pr_core::sense::SenseKey::NotReady)
        );
        assert_eq!(r.completion.sense().unwrap().asc_ascq(), Some((0x04, 0x01)));
    }
    assert_eq!(generation(&sim), 0);
    assert!(
        a.execute(register_req(0, 0xa1))
            .await
            .unwrap()
            .completion
            .is_good()
    );
}

#[test]
fn it_nexus_inside_with_lun_does_not_deadlock() {
    let (sim, a, _) = setup();
    let registered = sim
        .with_lun(a.lun(), |lu| lu.is_registered(&a.it_nexus().unwrap()))
        .unwrap();
    assert!(!registered);
}

#[test]
fn locking_the_simulator_inside_with_lun_panics_instead_of_deadlocking() {
    let (sim, a, _) = setup();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.with_lun(a.lun(), |_| sim.trace().len())
    }));
    assert!(r.is_err());
    // The simulator is still usable afterwards.
    assert_eq!(generation(&sim), 0);
}
