//! Codec benchmarks: CDB build, PR OUT parameter list encode, READ FULL STATUS decode of
//! 1,024 descriptors (reported per descriptor via Throughput::Elements), with a same-run
//! baseline (a plain byte copy of the same response) to compare against.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use pr_core::cdb::PrInCdb;
use pr_core::prin::{FullStatus, FullStatusEntry};
use pr_core::prout::PrOut;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType, Scope};

fn full_status(n: usize) -> Vec<u8> {
    let entries = (0..n).map(|i| FullStatusEntry {
        key: ReservationKey(0x1000 + i as u64),
        all_tg_pt: false,
        r_holder: i == 0,
        scope: Scope::LogicalUnit,
        type_code: if i == 0 { 5 } else { 0 },
        relative_target_port: (i % 4) as u16 + 1,
        transport_id: TransportId::Sas {
            address: 0x5001405a00000000 + i as u64,
        },
    });
    let mut buf = vec![0u8; 8 + 48 * n];
    let len = FullStatus::encode(1, entries, &mut buf, false).unwrap();
    buf.truncate(len);
    buf
}

fn benches(c: &mut Criterion) {
    c.bench_function("cdb/prin_read_full_status", |b| {
        let mut out = [0u8; 10];
        b.iter(|| {
            PrInCdb::new(black_box(PrInAction::ReadFullStatus), black_box(8192)).encode(&mut out);
            black_box(out)
        })
    });
    c.bench_function("cdb/prout_reserve", |b| {
        let mut out = [0u8; 10];
        b.iter(|| {
            PrOut::reserve(
                black_box(ReservationKey(0x1234)),
                ReservationType::WriteExclusiveRegistrantsOnly,
            )
            .encode_cdb(&mut out)
            .unwrap();
            black_box(out)
        })
    });
    c.bench_function("params/register", |b| {
        let mut out = [0u8; 24];
        b.iter(|| {
            PrOut::register(black_box(ReservationKey(1)), black_box(ReservationKey(2)))
                .with_aptpl()
                .encode_params(&mut out)
                .unwrap();
            black_box(out)
        })
    });
    let ids: Vec<TransportId<'static>> = (0..8)
        .map(|i| TransportId::Sas {
            address: 0x5001405a00000000 + i,
        })
        .collect();
    c.bench_function("params/register_spec_i_pt_8", |b| {
        let mut out = [0u8; 512];
        b.iter(|| {
            PrOut::register(ReservationKey(0), black_box(ReservationKey(2)))
                .with_spec_i_pt(&ids)
                .encode_params(&mut out)
                .unwrap();
            black_box(out[30])
        })
    });

    let n = 1024;
    let bytes = full_status(n);
    let mut g = c.benchmark_group("read_full_status");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(
        BenchmarkId::new("decode_keys_rtpi", n),
        &bytes,
        |b, bytes| {
            b.iter(|| {
                let fs = FullStatus::decode(black_box(bytes)).unwrap();
                let mut acc = 0u64;
                for d in fs.descriptors() {
                    acc = acc.wrapping_add(d.key().0) ^ u64::from(d.relative_target_port());
                }
                black_box(acc)
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("decode_with_transport_id", n),
        &bytes,
        |b, bytes| {
            b.iter(|| {
                let fs = FullStatus::decode(black_box(bytes)).unwrap();
                let mut acc = 0u64;
                for d in fs.descriptors() {
                    if let Ok(TransportId::Sas { address }) = d.transport_id() {
                        acc = acc.wrapping_add(address).wrapping_add(d.key().0);
                    }
                }
                black_box(acc)
            })
        },
    );
    g.bench_with_input(BenchmarkId::new("baseline_copy", n), &bytes, |b, bytes| {
        let mut dst = vec![0u8; bytes.len()];
        b.iter(|| {
            dst.copy_from_slice(black_box(bytes));
            black_box(dst[dst.len() - 1])
        })
    });
    g.finish();
}

criterion_group!(codec, benches);
criterion_main!(codec);
