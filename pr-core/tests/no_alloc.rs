//! Building CDBs and parameter lists and decoding responses allocate nothing: a counting
//! global allocator watches this thread while the codec runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pr_core::cdb::{PrInCdb, PrOutCdb};
use pr_core::outcome::{Completion, SenseBuf};
use pr_core::prin::alloc::next_alloc_len;
use pr_core::prin::{
    Capabilities, FullStatus, FullStatusEntry, ReadKeys, ReadReservation, Reservation,
};
use pr_core::prout::{ParamList, PrOut};
use pr_core::sense::{ScsiStatus, Sense};
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType, Scope};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local Cell that does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

#[test]
fn codec_paths_allocate_nothing() {
    // Inputs prepared outside the measured region.
    let sas = [
        TransportId::Sas {
            address: 0x5001405a00000001,
        },
        TransportId::Sas {
            address: 0x5001405a00000002,
        },
    ];
    let iscsi =
        TransportId::parse("iqn.2003-01.org.linux-iscsi.prlab:init.p1,i,0x00023d000001").unwrap();
    let entries = [
        FullStatusEntry {
            key: ReservationKey(0x11),
            all_tg_pt: false,
            r_holder: true,
            scope: Scope::LogicalUnit,
            type_code: 5,
            relative_target_port: 1,
            transport_id: sas[0].clone(),
        },
        FullStatusEntry {
            key: ReservationKey(0x22),
            all_tg_pt: false,
            r_holder: false,
            scope: Scope::LogicalUnit,
            type_code: 0,
            relative_target_port: 1,
            transport_id: iscsi.clone(),
        },
    ];
    let keys = [ReservationKey(1), ReservationKey(2), ReservationKey(3)];
    let mut fs_buf = [0u8; 512];
    let mut rk_buf = [0u8; 64];
    let mut rr_buf = [0u8; 24];
    let mut params = [0u8; 512];
    let mut cdb = [0u8; 10];
    let ua = [
        0x70u8, 0, 6, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x2a, 0x05, 0, 0, 0, 0,
    ];
    let ua_sense = SenseBuf::new(&ua);

    let (total, n) = allocations(|| {
        let mut total = 0usize;
        // CDBs.
        for a in PrInAction::ALL {
            PrInCdb::new(a, 8192).encode(&mut cdb);
            total += usize::from(cdb[1]);
        }
        // PR OUT: every constructor, SPEC_I_PT list, REGISTER AND MOVE with iSCSI.
        let reqs = [
            PrOut::register(ReservationKey(0), ReservationKey(0x1234)).with_aptpl(),
            PrOut::register_ignore(ReservationKey(0x1234)).with_all_tg_pt(),
            PrOut::reserve(
                ReservationKey(0x1234),
                ReservationType::WriteExclusiveRegistrantsOnly,
            ),
            PrOut::release(
                ReservationKey(0x1234),
                ReservationType::WriteExclusiveRegistrantsOnly,
            ),
            PrOut::clear(ReservationKey(0x1234)),
            PrOut::preempt(
                ReservationKey(1),
                ReservationKey(2),
                ReservationType::WriteExclusive,
            ),
            PrOut::preempt_and_abort(
                ReservationKey(1),
                ReservationKey(2),
                ReservationType::ExclusiveAccess,
            ),
            PrOut::replace_lost_reservation(ReservationKey(9), ReservationType::WriteExclusive),
        ];
        for r in reqs {
            r.encode_cdb(&mut cdb).unwrap();
            total += r.encode_params(&mut params).unwrap();
        }
        let spec = PrOut::register(ReservationKey(0), ReservationKey(7)).with_spec_i_pt(&sas);
        spec.encode_cdb(&mut cdb).unwrap();
        let len = spec.encode_params(&mut params).unwrap();
        if let ParamList::Basic(b) = ParamList::decode(spec.action, &params[..len]).unwrap() {
            total += b.transport_ids().filter(Result::is_ok).count();
        }
        let mv = PrOut::register_and_move(
            ReservationKey(1),
            ReservationKey(2),
            ReservationType::WriteExclusive,
            &iscsi,
            1,
        );
        mv.encode_cdb(&mut cdb).unwrap();
        total += mv.encode_params(&mut params).unwrap();
        total += PrOutCdb::decode(&cdb).unwrap().parameter_list_length as usize;

        // PR IN responses: encode and decode.
        let n = ReadKeys::encode(3, keys.iter().copied(), &mut rk_buf);
        let rk = ReadKeys::decode(&rk_buf[..n]).unwrap();
        total += rk.keys().map(|k| k.0 as usize).sum::<usize>();
        let n = ReadReservation::encode(
            3,
            Some(Reservation {
                key: ReservationKey(0x11),
                scope: Scope::LogicalUnit,
                type_code: 5,
            }),
            &mut rr_buf,
        );
        total += ReadReservation::decode(&rr_buf[..n])
            .unwrap()
            .reservation()
            .unwrap()
            .key
            .0 as usize;
        let caps = Capabilities::decode(&[0x00, 0x08, 0x1d, 0x91, 0xea, 0x01, 0, 0]).unwrap();
        total += usize::from(caps.sip_c());
        let n = FullStatus::encode(4, entries.iter().cloned(), &mut fs_buf, false).unwrap();
        let fs = FullStatus::decode(&fs_buf[..n]).unwrap();
        for d in fs.descriptors() {
            total += d.key().0 as usize + usize::from(d.relative_target_port());
            total += d.transport_id().unwrap().encoded_len();
        }

        // The allocation-length rule, on every action (growing and not).
        for a in PrInAction::ALL {
            let first = pr_core::prin::alloc::initial_alloc_len(a);
            total += usize::from(next_alloc_len(a, first, &rk_buf[..16]).unwrap_or(0));
            total += usize::from(next_alloc_len(a, 4, &[]).unwrap_or(0));
        }
        total += usize::from(
            next_alloc_len(PrInAction::ReadFullStatus, 100, &fs_buf[..100]).unwrap_or(0),
        );
        total += usize::from(next_alloc_len(PrInAction::ReadKeys, 16, &rk_buf[..16]).unwrap_or(0));

        // Sense and outcome classification.
        let s = Sense::parse(&ua).unwrap();
        total += usize::from(s.asc().unwrap_or(0));
        let c = Completion {
            status: ScsiStatus::CHECK_CONDITION,
            sense: ua_sense,
            host_status: 0,
            driver_status: 0,
            residual: 0,
            duration: std::time::Duration::ZERO,
        };
        total += usize::from(c.check().is_err());
        total
    });
    assert!(total > 0);
    assert_eq!(n, 0, "the codec allocated {n} times");
}

#[test]
fn counter_sees_allocations() {
    // Guard against a counter that cannot fail.
    let (_v, n) = allocations(|| vec![1u8; 10]);
    assert!(n >= 1);
}

#[test]
fn nvme_codec_paths_allocate_nothing() {
    use pr_core::nvme::report::CNTLID_DYNAMIC;
    use pr_core::nvme::{
        HostId, NvmeIoctlResult, NvmeReservationType, NvmeStatus, RegisteredController,
        ReservationReport, ResvAcquire, ResvCommand, ResvRegister, ResvRelease, ResvReport,
    };

    let std_entries = [
        RegisteredController {
            cntlid: 1,
            rcsts: 1,
            host_id: HostId::Bits64([0x11; 8]),
            key: ReservationKey(0x11),
        },
        RegisteredController {
            cntlid: 2,
            rcsts: 0,
            host_id: HostId::Bits64([0x22; 8]),
            key: ReservationKey(0x22),
        },
    ];
    let ext_entries = [RegisteredController {
        cntlid: CNTLID_DYNAMIC,
        rcsts: 1,
        host_id: HostId::Bits128([0x33; 16]),
        key: ReservationKey(0x33),
    }];
    let scsi_reqs = [
        PrOut::register(ReservationKey(0), ReservationKey(0x1234)).with_aptpl(),
        PrOut::register_ignore(ReservationKey(0x1234)),
        PrOut::reserve(ReservationKey(1), ReservationType::ExclusiveAccess),
        PrOut::preempt_and_abort(
            ReservationKey(1),
            ReservationKey(2),
            ReservationType::WriteExclusiveAllRegistrants,
        ),
        PrOut::release(ReservationKey(1), ReservationType::ExclusiveAccess),
        PrOut::clear(ReservationKey(1)),
        PrOut::replace_lost_reservation(ReservationKey(9), ReservationType::WriteExclusive),
    ];
    let mut data = [0u8; 16];
    let mut std_buf = [0u8; 24 + 36];
    let mut ext_buf = [0u8; 128];

    let (total, n) = allocations(|| {
        let mut total = 0usize;
        let cmds = [
            ResvCommand::Register(ResvRegister::replace(ReservationKey(1), ReservationKey(2))),
            ResvCommand::Acquire(ResvAcquire::preempt(
                ReservationKey(1),
                ReservationKey(2),
                NvmeReservationType::ExclusiveAccessRegistrantsOnly,
            )),
            ResvCommand::Release(ResvRelease::clear(ReservationKey(1))),
            ResvCommand::Report(ResvReport::for_len(4096, true).unwrap()),
        ];
        for c in cmds {
            let len = c.encode_data(&mut data).unwrap();
            let back = ResvCommand::decode(c.opcode(), c.cdw10().unwrap(), c.cdw11(), &data[..len])
                .unwrap();
            total += usize::from(back == c) + len;
        }
        for r in &scsi_reqs {
            // Mapped or refused (REPLACE LOST RESERVATION), without allocating either way.
            total += ResvCommand::from_prout(r).map_or(1, |c| usize::from(c.opcode()));
        }
        // Reports: standard (truncated: room for one entry and a half) and extended.
        let len = ReservationReport::encode(5, 3, true, std_entries, false, &mut std_buf).unwrap();
        let r = ReservationReport::decode(&std_buf[..len], false).unwrap();
        total += r.controllers().count() + usize::from(r.is_truncated());
        total += usize::try_from(r.needed_len().unwrap()).unwrap();
        total += r.keys().map(|k| k.0 as usize).sum::<usize>();
        let len = ReservationReport::encode(6, 6, false, ext_entries, true, &mut ext_buf).unwrap();
        let r = ReservationReport::decode(&ext_buf[..len], true).unwrap();
        total += r.holder().unwrap().key.0 as usize;
        // Statuses.
        for ret in [0, 0x4083, 0x370, -4, -22] {
            let s = NvmeIoctlResult::from_return(ret);
            total += usize::from(s.is_retryable()) + usize::from(s.is_reservation_conflict());
        }
        total += usize::from(NvmeStatus::from_cqe_status(0x8107).sc());
        total
    });
    assert!(total > 0);
    assert_eq!(n, 0, "the NVMe codec allocated {n} times");
}
