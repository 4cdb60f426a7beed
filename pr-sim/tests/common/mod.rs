//! Shared helpers: a synchronous harness around one logical unit.
#![allow(dead_code, unreachable_pub)]

use pr_core::cdb::PrInCdb;
use pr_core::prout::PrOut;
use pr_core::transport_id::TransportId;
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_sim::{ItNexus, LogicalUnit, LunConfig, Reply};

pub const K1: u64 = 0x1111;
pub const K2: u64 = 0x2222;
pub const K3: u64 = 0x3333;

pub const WE: ReservationType = ReservationType::WriteExclusive;
pub const EA: ReservationType = ReservationType::ExclusiveAccess;
pub const WE_RO: ReservationType = ReservationType::WriteExclusiveRegistrantsOnly;
pub const EA_RO: ReservationType = ReservationType::ExclusiveAccessRegistrantsOnly;
pub const WE_AR: ReservationType = ReservationType::WriteExclusiveAllRegistrants;
pub const EA_AR: ReservationType = ReservationType::ExclusiveAccessAllRegistrants;

pub fn sas(k: u64) -> TransportId<'static> {
    TransportId::Sas {
        address: 0x5001_4050_0000_0000 | k,
    }
}

/// One LU with two target ports (1, 2); nexus `i` is initiator `sas(i)` through port 1;
/// `alt(i)` is the same initiator through port 2.
pub struct H {
    pub lu: LogicalUnit,
    pub n: Vec<ItNexus>,
}

impl H {
    pub fn new(config: LunConfig, nexuses: usize) -> H {
        let mut lu = LogicalUnit::new(config, vec![1, 2]);
        let n: Vec<ItNexus> = (0..nexuses as u64)
            .map(|k| ItNexus::new(sas(k), 1))
            .collect();
        for x in &n {
            lu.add_nexus(x.clone());
            lu.add_nexus(ItNexus::new(x.initiator.clone(), 2));
        }
        H { lu, n }
    }

    pub fn spc(nexuses: usize) -> H {
        H::new(LunConfig::spc5(), nexuses)
    }

    pub fn lio(nexuses: usize) -> H {
        H::new(LunConfig::lio(), nexuses)
    }

    pub fn lio7_1(nexuses: usize) -> H {
        H::new(LunConfig::lio7_1(), nexuses)
    }

    pub fn alt(&self, i: usize) -> ItNexus {
        ItNexus::new(self.n[i].initiator.clone(), 2)
    }

    pub fn out_at(&mut self, nx: &ItNexus, p: PrOut<'_>) -> Reply {
        let mut cdb = [0u8; 10];
        p.encode_cdb(&mut cdb).unwrap();
        let mut params = vec![0u8; p.param_len().unwrap()];
        p.encode_params(&mut params).unwrap();
        self.lu.execute(nx, &cdb, &params, 0)
    }

    pub fn out(&mut self, i: usize, p: PrOut<'_>) -> Reply {
        let nx = self.n[i].clone();
        self.out_at(&nx, p)
    }

    pub fn raw(&mut self, i: usize, cdb: &[u8], data: &[u8], room: usize) -> Reply {
        let nx = self.n[i].clone();
        self.lu.execute(&nx, cdb, data, room)
    }

    pub fn register(&mut self, i: usize, new: u64) -> Reply {
        self.out(i, PrOut::register(ReservationKey(0), ReservationKey(new)))
    }

    pub fn reserve(&mut self, i: usize, key: u64, ty: ReservationType) -> Reply {
        self.out(i, PrOut::reserve(ReservationKey(key), ty))
    }

    pub fn prin(&mut self, i: usize, action: PrInAction, alloc: u16) -> Reply {
        let cdb = PrInCdb::new(action, alloc).to_bytes();
        self.raw(i, &cdb, &[], usize::from(alloc))
    }

    pub fn keys(&self) -> Vec<u64> {
        self.lu.registrations().iter().map(|r| r.key.0).collect()
    }

    pub fn holder(&self) -> Option<(Option<usize>, ReservationType)> {
        self.lu.reservation().map(|r| {
            (
                r.holder.and_then(|h| self.n.iter().position(|x| *x == h)),
                r.reservation_type,
            )
        })
    }

    pub fn uas(&self, i: usize) -> Vec<(u8, u8)> {
        self.lu.pending_unit_attentions(&self.n[i])
    }

    pub fn generation(&self) -> u32 {
        self.lu.generation()
    }
}

pub fn good(r: &Reply) {
    assert!(
        r.status.is_good(),
        "expected GOOD, got {:?} {:02x?}",
        r.status,
        r.sense_code()
    );
}

pub fn conflict(r: &Reply) {
    assert_eq!(
        r.status.0,
        0x18,
        "expected RESERVATION CONFLICT, got {:?} {:02x?}",
        r.status,
        r.sense_code()
    );
}

pub fn check(r: &Reply, key: u8, asc: u8, ascq: u8) {
    assert_eq!(
        r.status.0, 0x02,
        "expected CHECK CONDITION, got {:?}",
        r.status
    );
    assert_eq!(r.sense_code(), Some((key, asc, ascq)));
}

/// SKSV field pointer: (C/D, byte, bit).
pub fn field(r: &Reply) -> Option<(bool, u16, Option<u8>)> {
    let s = r.sense.as_bytes();
    let b15 = *s.get(15)?;
    if b15 & 0x80 == 0 {
        return None;
    }
    Some((
        b15 & 0x40 != 0,
        u16::from_be_bytes([s[16], s[17]]),
        (b15 & 0x08 != 0).then_some(b15 & 7),
    ))
}

pub fn read10() -> [u8; 10] {
    [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]
}

pub fn write10() -> [u8; 10] {
    [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]
}
