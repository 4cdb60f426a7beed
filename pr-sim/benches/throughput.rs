//! Commands per second of one simulated LUN with 64 registrants (issue 4).
//!
//! Every benchmark reports throughput in commands (`Throughput::Elements`). The state: a
//! target with 4 target ports and 68 initiator ports; initiators 0..64 are registered
//! through port `1 + i % 4` (keys `0x1000 + i`), nexus 0 holds a Write Exclusive –
//! Registrants Only reservation; nexuses 64..68 are not registered.
//!
//! - `single/*`: one command kind at a time through the synchronous core
//!   ([`LogicalUnit::execute`]); `single/test_unit_ready` is the per-command floor (the
//!   same-run baseline for the others).
//! - `mix/*`: the same 16-command mix (READ KEYS, READ FULL STATUS, REGISTER/unregister
//!   churn, RESERVE/RELEASE, WRITE(10) access checks, allowed and in conflict) through each
//!   layer: `logical_unit` (the bare device server), `sim_core` (`Sim::with_core`, with the
//!   trace on, as tests use it), `sim_path_now` (`SimPath::execute_now`: faults, locking,
//!   Request/Response), `sim_path_async` (`Transport::execute` awaited on a current-thread
//!   tokio runtime) and `sim_path_async_4_tasks` (4 tasks on a 4-worker runtime sharing the
//!   LUN).
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use pr_core::cdb::PrInCdb;
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_sim::{ItNexus, LogicalUnit, Lun, LunConfig, Sim, SimPath};

const REGISTRANTS: usize = 64;
const UNREGISTERED: usize = 4;
const PORTS: u16 = 4;

fn key(i: usize) -> ReservationKey {
    ReservationKey(0x1000 + i as u64)
}

fn tid(i: usize) -> TransportId<'static> {
    TransportId::Sas {
        address: 0x5001_4050_0000_0000 + i as u64,
    }
}

fn port(i: usize) -> u16 {
    1 + (i % usize::from(PORTS)) as u16
}

/// One command: CDB, data-out, room for data-in, initiator index.
#[derive(Clone)]
struct Cmd {
    who: usize,
    cdb: Vec<u8>,
    data: Vec<u8>,
    room: usize,
}

fn prout(who: usize, p: PrOut<'_>) -> Cmd {
    let mut cdb = [0u8; 10];
    p.encode_cdb(&mut cdb).unwrap();
    let mut data = vec![0u8; p.param_len().unwrap()];
    p.encode_params(&mut data).unwrap();
    Cmd {
        who,
        cdb: cdb.to_vec(),
        data,
        room: 0,
    }
}

fn prin(who: usize, a: PrInAction) -> Cmd {
    Cmd {
        who,
        cdb: PrInCdb::new(a, 8192).to_bytes().to_vec(),
        data: Vec::new(),
        room: 8192,
    }
}

fn write10(who: usize) -> Cmd {
    Cmd {
        who,
        cdb: vec![0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0],
        data: vec![0x5a; 512],
        room: 0,
    }
}

fn tur(who: usize) -> Cmd {
    Cmd {
        who,
        cdb: vec![0; 6],
        data: Vec::new(),
        room: 0,
    }
}

const RO: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;

/// The setup commands: everyone registers, nexus 0 reserves.
fn setup() -> Vec<Cmd> {
    let mut v: Vec<Cmd> = (0..REGISTRANTS)
        .map(|i| prout(i, PrOut::register(ReservationKey(0), key(i))))
        .collect();
    v.push(prout(0, PrOut::reserve(key(0), RO)));
    v
}

/// The mix: 16 commands that leave the state as they found it (so it can loop), with
/// PRgeneration advancing. Nexus 63 unregisters and registers again (it is then last in
/// registration order, as before); the holder releases and reserves again.
fn mix() -> Vec<Cmd> {
    let last = REGISTRANTS - 1;
    vec![
        prin(5, PrInAction::ReadKeys),
        prin(9, PrInAction::ReadFullStatus),
        prin(13, PrInAction::ReadReservation),
        prout(last, PrOut::register(key(last), ReservationKey(0))),
        write10(last), // unregistered now: RESERVATION CONFLICT
        prout(last, PrOut::register(ReservationKey(0), key(last))),
        write10(last), // registered: allowed
        prout(0, PrOut::release(key(0), RO)),
        write10(REGISTRANTS), // no reservation: allowed
        prout(0, PrOut::reserve(key(0), RO)),
        write10(REGISTRANTS + 1), // conflict
        write10(1),
        prin(17, PrInAction::ReadKeys),
        prin(21, PrInAction::ReadFullStatus),
        prout(7, PrOut::register_ignore(key(7))),
        tur(REGISTRANTS + 2),
    ]
}

fn nexuses() -> Vec<ItNexus> {
    (0..REGISTRANTS + UNREGISTERED)
        .map(|i| ItNexus::new(tid(i), port(i)))
        .collect()
}

fn logical_unit() -> (LogicalUnit, Vec<ItNexus>) {
    let n = nexuses();
    let mut lu = LogicalUnit::new(LunConfig::spc5(), (1..=PORTS).collect());
    for c in setup() {
        let r = lu.execute(&n[c.who], &c.cdb, &c.data, c.room);
        assert!(r.sense.is_empty() && r.status.0 == 0, "setup failed");
    }
    (lu, n)
}

fn sim() -> (Sim, Vec<SimPath>) {
    let nx = nexuses();
    let (sim, paths) = Sim::single_lun(
        LunConfig::spc5(),
        &nx.iter()
            .map(|n| (n.initiator.clone(), n.relative_target_port))
            .collect::<Vec<_>>(),
    );
    for c in setup() {
        let r = paths[c.who].execute_now(&request(&c)).unwrap();
        assert!(r.completion.is_good(), "setup failed");
    }
    (sim, paths)
}

fn request(c: &Cmd) -> Request {
    let cdb = Cdb::new(&c.cdb).unwrap();
    if !c.data.is_empty() {
        Request::data_out(cdb, c.data.clone())
    } else if c.room > 0 {
        Request::data_in(cdb, c.room)
    } else {
        Request::no_data(cdb)
    }
}

fn check_mix_is_stable(lu: &mut LogicalUnit, n: &[ItNexus]) {
    let before = (lu.registrations(), lu.reservation());
    for c in mix() {
        lu.execute(&n[c.who], &c.cdb, &c.data, c.room);
    }
    assert_eq!(before, (lu.registrations(), lu.reservation()));
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("single");
    g.throughput(Throughput::Elements(1));
    let cases: Vec<(&str, Vec<Cmd>)> = vec![
        ("test_unit_ready", vec![tur(3)]),
        ("read_keys", vec![prin(3, PrInAction::ReadKeys)]),
        (
            "read_full_status",
            vec![prin(3, PrInAction::ReadFullStatus)],
        ),
        ("write10_registered", vec![write10(3)]),
        ("write10_conflict", vec![write10(REGISTRANTS)]),
        (
            "register_unregister",
            vec![
                prout(40, PrOut::register(key(40), ReservationKey(0))),
                prout(40, PrOut::register(ReservationKey(0), key(40))),
            ],
        ),
        (
            "release_reserve",
            vec![
                prout(0, PrOut::release(key(0), RO)),
                prout(0, PrOut::reserve(key(0), RO)),
            ],
        ),
    ];
    for (name, cmds) in cases {
        let (mut lu, n) = logical_unit();
        g.throughput(Throughput::Elements(cmds.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for c in &cmds {
                    black_box(lu.execute(&n[c.who], &c.cdb, &c.data, c.room));
                }
            })
        });
    }
    g.finish();
}

fn mixes(c: &mut Criterion) {
    let m = mix();
    let mut g = c.benchmark_group("mix");
    g.throughput(Throughput::Elements(m.len() as u64));

    let (mut lu, n) = logical_unit();
    check_mix_is_stable(&mut lu, &n);
    g.bench_function("logical_unit", |b| {
        b.iter(|| {
            for c in &m {
                black_box(lu.execute(&n[c.who], &c.cdb, &c.data, c.room));
            }
        })
    });

    let (sim, paths) = sim();
    let nexus: Vec<_> = paths.iter().map(SimPath::nexus).collect();
    g.bench_function("sim_core", |b| {
        b.iter(|| {
            sim.with_core(|core| {
                for c in &m {
                    black_box(core.execute(nexus[c.who], Lun(0), &c.cdb, &c.data, c.room));
                }
            })
        })
    });

    let reqs: Vec<(usize, Request)> = m.iter().map(|c| (c.who, request(c))).collect();
    g.bench_function("sim_path_now", |b| {
        b.iter(|| {
            for (who, r) in &reqs {
                black_box(paths[*who].execute_now(r).unwrap());
            }
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("sim_path_async", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (who, r) in &reqs {
                    black_box(paths[*who].execute(r.clone()).await.unwrap());
                }
            })
        })
    });

    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let tasks = 4usize;
    let per_task = reqs
        .iter()
        .filter(|(_, r)| r.cdb.as_bytes()[0] != 0x5f)
        .count();
    g.throughput(Throughput::Elements((per_task * tasks) as u64));
    g.bench_function("sim_path_async_4_tasks", |b| {
        b.iter(|| {
            mt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for t in 0..tasks {
                    // Each task runs the read-only and media part of the mix from its own
                    // nexuses, so the tasks do not undo each other's churn.
                    let mine: Vec<(SimPath, Request)> = reqs
                        .iter()
                        .filter(|(_, r)| r.cdb.as_bytes()[0] != 0x5f)
                        .map(|(who, r)| (paths[(who + t * 8) % paths.len()].clone(), r.clone()))
                        .collect();
                    set.spawn(async move {
                        for (p, r) in mine {
                            black_box(p.execute(r).await.unwrap());
                        }
                    });
                }
                set.join_all().await;
            })
        })
    });
    g.finish();
}

criterion_group!(benches, single, mixes);
criterion_main!(benches);
