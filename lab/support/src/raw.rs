//! One PERSISTENT RESERVE IN or OUT command on one [`Transport`], for the lab's tests and
//! benchmarks: the four PR IN service actions with the allocation-length rule of
//! [`pr_core::prin::alloc`], and PR OUT from a pr-core [`PrOut`] request.
//!
//! This is test tooling, not a product engine: it never picks a path, retries or fans out
//! (pr-multipath's LUN is the front door for that). The lab uses it to look at one device,
//! one path or one map node directly, beside whatever is under test.
//!
//! CDBs, parameter lists, response views and the growth rule are pr-core's; this module
//! only moves bytes and classifies completions with
//! [`pr_core::outcome::Completion::check`], whose
//! [`CommandError`](pr_core::outcome::CommandError) (with the sense bytes) is carried in
//! [`Error::Command`].
//!
//! ```no_run
//! # async fn demo() -> pr_sgio::Result<()> {
//! use pr_core::prout::PrOut;
//! use pr_core::types::ReservationKey;
//! use pr_lab_support::raw;
//! use pr_sgio::Device;
//!
//! let dev = Device::open("/dev/sdb")?;
//! raw::pr_out(&dev, &PrOut::register(ReservationKey(0), ReservationKey(0x1234)).with_aptpl(), None).await?;
//! let keys = raw::read_keys(&dev).await?;
//! for k in keys.read_keys()?.keys() {
//!     println!("{k}");
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use pr_core::DecodeError;
use pr_core::cdb::PrInCdb;
use pr_core::outcome::Completion;
use pr_core::prin::alloc::{MAX_ATTEMPTS, MIN_ALLOC_LEN, initial_alloc_len, next_alloc_len};
use pr_core::prin::{Capabilities, FullStatus, ReadKeys, ReadReservation, Response};
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::types::PrInAction;
use pr_sgio::{Error, Result};

/// Options of a PR IN command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrInOptions {
    /// Allocation length of the first attempt (raised to 8); `None`: pr-core's
    /// [`initial_alloc_len`] for the action.
    pub alloc_len: Option<u16>,
    /// Re-issue the command as pr-core's [`next_alloc_len`] says (at most
    /// [`MAX_ATTEMPTS`] commands in all); `false`: send it once.
    pub grow: bool,
    /// Command timeout.
    pub timeout: Duration,
}

impl Default for PrInOptions {
    fn default() -> Self {
        PrInOptions {
            alloc_len: None,
            grow: true,
            timeout: Request::DEFAULT_TIMEOUT,
        }
    }
}

/// The bytes and completion of a successful PR IN command, with typed views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrInData {
    /// The service action.
    pub action: PrInAction,
    /// The response bytes (as many as the device returned).
    pub bytes: Vec<u8>,
    /// The allocation length of the last attempt.
    pub alloc_len: u16,
    /// How many times the command was sent (2 when it grew once).
    pub attempts: u32,
    /// The completion of the last attempt.
    pub completion: Completion,
}

impl PrInData {
    /// Decodes the response.
    pub fn decode(&self) -> Result<Response<'_>, DecodeError> {
        Response::decode(self.action, &self.bytes)
    }

    fn expect(&self, action: PrInAction) -> Result<(), DecodeError> {
        if self.action == action {
            Ok(())
        } else {
            Err(DecodeError::WrongAction { action })
        }
    }

    /// The READ KEYS view.
    pub fn read_keys(&self) -> Result<ReadKeys<'_>> {
        self.expect(PrInAction::ReadKeys)?;
        Ok(ReadKeys::decode(&self.bytes)?)
    }

    /// The READ RESERVATION view.
    pub fn read_reservation(&self) -> Result<ReadReservation<'_>> {
        self.expect(PrInAction::ReadReservation)?;
        Ok(ReadReservation::decode(&self.bytes)?)
    }

    /// The REPORT CAPABILITIES response.
    pub fn capabilities(&self) -> Result<Capabilities> {
        self.expect(PrInAction::ReportCapabilities)?;
        Ok(Capabilities::decode(&self.bytes)?)
    }

    /// The READ FULL STATUS view.
    pub fn full_status(&self) -> Result<FullStatus<'_>> {
        self.expect(PrInAction::ReadFullStatus)?;
        Ok(FullStatus::decode(&self.bytes)?)
    }

    /// Whether ADDITIONAL LENGTH says the response is still cut short (the device had more
    /// than 65535 bytes, or growth was off).
    pub fn is_truncated(&self) -> bool {
        self.decode()
            .ok()
            .and_then(|r| r.needed_alloc_len())
            .is_some()
    }
}

fn command_error(device: &str, what: String, e: pr_core::outcome::CommandError) -> Error {
    Error::Command {
        device: device.to_owned(),
        what,
        source: Box::new(e),
    }
}

/// Sends PERSISTENT RESERVE IN `action`, re-issuing it as pr-core's [`next_alloc_len`]
/// says when the device had (or, for READ FULL STATUS, may have had) more to return.
/// Errors: [`Error::Transport`] when the command did not complete, [`Error::Command`] when
/// it completed unsuccessfully (with its sense bytes).
pub async fn pr_in<T: Transport + ?Sized>(
    t: &T,
    action: PrInAction,
    options: &PrInOptions,
) -> Result<PrInData> {
    let mut alloc_len = options
        .alloc_len
        .unwrap_or(initial_alloc_len(action))
        .max(MIN_ALLOC_LEN);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let cdb = PrInCdb::new(action, alloc_len).to_bytes();
        let request =
            Request::data_in(Cdb::from(cdb), usize::from(alloc_len)).with_timeout(options.timeout);
        let response = t.execute(request).await?;
        response.completion.check().map_err(|e| {
            command_error(
                t.name(),
                format!("PERSISTENT RESERVE IN {}", action.name()),
                e,
            )
        })?;
        let data = PrInData {
            action,
            bytes: response.buf,
            alloc_len,
            attempts,
            completion: response.completion,
        };
        if options.grow && attempts < MAX_ATTEMPTS {
            if let Some(next) = next_alloc_len(action, alloc_len, &data.bytes) {
                alloc_len = next;
                continue;
            }
        }
        return Ok(data);
    }
}

/// READ KEYS with the default options.
pub async fn read_keys<T: Transport + ?Sized>(t: &T) -> Result<PrInData> {
    pr_in(t, PrInAction::ReadKeys, &PrInOptions::default()).await
}

/// READ RESERVATION with the default options.
pub async fn read_reservation<T: Transport + ?Sized>(t: &T) -> Result<PrInData> {
    pr_in(t, PrInAction::ReadReservation, &PrInOptions::default()).await
}

/// REPORT CAPABILITIES with the default options.
pub async fn report_capabilities<T: Transport + ?Sized>(t: &T) -> Result<PrInData> {
    pr_in(t, PrInAction::ReportCapabilities, &PrInOptions::default()).await
}

/// READ FULL STATUS with the default options.
pub async fn read_full_status<T: Transport + ?Sized>(t: &T) -> Result<PrInData> {
    pr_in(t, PrInAction::ReadFullStatus, &PrInOptions::default()).await
}

/// Sends one PERSISTENT RESERVE OUT built by pr-core and returns its (good) completion.
/// `timeout` defaults to [`Request::DEFAULT_TIMEOUT`]. A [`Error::Core`] means the request
/// could not be built and nothing was sent.
pub async fn pr_out<T: Transport + ?Sized>(
    t: &T,
    request: &PrOut<'_>,
    timeout: Option<Duration>,
) -> Result<Completion> {
    let mut cdb = [0u8; 10];
    request.encode_cdb(&mut cdb)?;
    let mut params = vec![0u8; request.param_len()?];
    let n = request.encode_params(&mut params)?;
    params.truncate(n);
    let req = Request::data_out(Cdb::from(cdb), params)
        .with_timeout(timeout.unwrap_or(Request::DEFAULT_TIMEOUT));
    let response = t.execute(req).await?;
    response.completion.check().map_err(|e| {
        let what = format!("PERSISTENT RESERVE OUT {}", request.action.name());
        command_error(t.name(), what, e)
    })?;
    Ok(response.completion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pr_core::outcome::SenseBuf;
    use pr_core::prin::Truncation;
    use pr_core::sense::ScsiStatus;
    use pr_core::transport::{DataDirection, Response as TResponse, TransportError};
    use pr_core::types::{ReservationKey, ReservationType};
    use std::sync::Mutex;

    /// A scripted transport: answers READ KEYS with `nkeys` keys, records requests.
    struct Fake {
        nkeys: usize,
        status: ScsiStatus,
        seen: Mutex<Vec<Request>>,
    }

    impl Fake {
        fn new(nkeys: usize) -> Self {
            Fake {
                nkeys,
                status: ScsiStatus::GOOD,
                seen: Mutex::new(Vec::new()),
            }
        }
    }

    fn good(status: ScsiStatus, sense: &[u8], residual: u32) -> Completion {
        Completion {
            status,
            sense: SenseBuf::new(sense),
            host_status: 0,
            driver_status: 0,
            residual,
            duration: Duration::ZERO,
        }
    }

    impl Transport for Fake {
        async fn execute(&self, request: Request) -> Result<TResponse, TransportError> {
            self.seen.lock().unwrap().push(request.clone());
            let mut buf = request.buf;
            match request.direction {
                DataDirection::FromDevice => {
                    let keys = (0..self.nkeys).map(|i| ReservationKey(0x100 + i as u64));
                    let n = ReadKeys::encode(3, keys, &mut buf);
                    let residual = u32::try_from(buf.len() - n).unwrap();
                    buf.truncate(n);
                    Ok(TResponse {
                        completion: good(self.status, &[], residual),
                        buf,
                    })
                }
                _ if self.status == ScsiStatus::CHECK_CONDITION => {
                    let sense = [
                        0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x2a, 0x05, 0, 0, 0, 0,
                    ];
                    Ok(TResponse {
                        completion: good(self.status, &sense, 0),
                        buf,
                    })
                }
                _ => Ok(TResponse {
                    completion: good(self.status, &[], 0),
                    buf,
                }),
            }
        }

        fn name(&self) -> &str {
            "fake0"
        }
    }

    /// Answers READ FULL STATUS as the Linux LIO target does: whole descriptors only,
    /// ADDITIONAL LENGTH counting only those (iSCSI TransportIDs, 88-byte descriptors).
    struct LioFullStatus {
        n: usize,
        seen: Mutex<Vec<u16>>,
    }

    impl Transport for LioFullStatus {
        async fn execute(&self, request: Request) -> Result<TResponse, TransportError> {
            use pr_core::prin::FullStatusEntry;
            use pr_core::transport_id::TransportId;
            use pr_core::types::Scope;
            let alloc = u16::from_be_bytes([request.cdb.as_bytes()[7], request.cdb.as_bytes()[8]]);
            self.seen.lock().unwrap().push(alloc);
            let names: Vec<String> = (0..self.n)
                .map(|i| format!("iqn.2003-01.org.linux-iscsi.labpr:node1.p{i}"))
                .collect();
            let entries = names.iter().enumerate().map(|(i, name)| FullStatusEntry {
                key: ReservationKey(0x1111 * (i as u64 + 1)),
                all_tg_pt: false,
                r_holder: false,
                scope: Scope::LogicalUnit,
                type_code: 0,
                relative_target_port: 1,
                transport_id: TransportId::Iscsi {
                    name: name.as_str().into(),
                    isid: Some(format!("00023d00000{i}").into()),
                },
            });
            let mut buf = request.buf;
            let n = FullStatus::encode(7, entries, &mut buf, true).unwrap();
            let residual = u32::try_from(buf.len() - n).unwrap();
            buf.truncate(n);
            Ok(TResponse {
                completion: good(ScsiStatus::GOOD, &[], residual),
                buf,
            })
        }

        fn name(&self) -> &str {
            "lio0"
        }
    }

    #[tokio::test]
    async fn read_full_status_regrows_when_lio_may_have_dropped_descriptors() {
        let opts = |alloc_len| PrInOptions {
            alloc_len: Some(alloc_len),
            ..Default::default()
        };
        let t = LioFullStatus {
            n: 3,
            seen: Mutex::new(Vec::new()),
        };
        // Without growth, 200 bytes hold 2 of 3 descriptors and the response looks complete.
        let d = pr_in(
            &t,
            PrInAction::ReadFullStatus,
            &PrInOptions {
                grow: false,
                ..opts(200)
            },
        )
        .await
        .unwrap();
        let fs = d.full_status().unwrap();
        assert_eq!(fs.descriptors().count(), 2);
        assert!(!fs.is_truncated());
        assert_eq!(fs.truncation(200), Truncation::Possible);
        assert!(!d.is_truncated());
        // With growth: re-issued once with 65535, all three are there.
        let d = pr_in(&t, PrInAction::ReadFullStatus, &opts(200))
            .await
            .unwrap();
        assert_eq!((d.attempts, d.alloc_len), (2, 65535));
        assert_eq!(d.full_status().unwrap().descriptors().count(), 3);
        assert_eq!(*t.seen.lock().unwrap(), [200, 200, 65535]);
        // A cut response also goes straight to 65535 (LIO's ADDITIONAL LENGTH undercounts).
        t.seen.lock().unwrap().clear();
        let d = pr_in(&t, PrInAction::ReadFullStatus, &opts(64))
            .await
            .unwrap();
        assert_eq!(d.full_status().unwrap().descriptors().count(), 3);
        assert_eq!(*t.seen.lock().unwrap(), [64, 65535]);
        // Room for another descriptor: complete, sent once.
        t.seen.lock().unwrap().clear();
        let d = read_full_status(&t).await.unwrap();
        assert_eq!(d.attempts, 1);
        assert_eq!(d.full_status().unwrap().descriptors().count(), 3);
        assert_eq!(*t.seen.lock().unwrap(), [8192]);
    }

    #[tokio::test]
    async fn read_keys_grows_once() {
        let t = Fake::new(2000); // 8 + 16000 bytes, more than 8192
        let d = read_keys(&t).await.unwrap();
        assert_eq!(d.attempts, 2);
        assert_eq!(d.alloc_len, 16008);
        assert_eq!(d.read_keys().unwrap().len(), 2000);
        assert!(!d.is_truncated());
        let seen = t.seen.lock().unwrap();
        assert_eq!(
            seen[0].cdb.as_bytes(),
            &[0x5e, 0, 0, 0, 0, 0, 0, 0x20, 0x00, 0]
        );
        assert_eq!(seen[1].cdb.as_bytes()[7..9], 16008u16.to_be_bytes());
        assert_eq!(seen[1].buf.len(), 16008);
        // A wrong-action view is a decode error, not a panic.
        assert!(d.capabilities().is_err());
    }

    #[tokio::test]
    async fn read_keys_caps_at_65535() {
        let t = Fake::new(9000); // needs 72008
        let d = pr_in(
            &t,
            PrInAction::ReadKeys,
            &PrInOptions {
                alloc_len: Some(16),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((d.attempts, d.alloc_len), (2, 65535));
        assert!(d.is_truncated());
        let t = Fake::new(3);
        let d = pr_in(
            &t,
            PrInAction::ReadKeys,
            &PrInOptions {
                alloc_len: Some(16),
                grow: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(d.attempts, 1);
        assert_eq!(d.read_keys().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn pr_out_sends_pr_core_bytes_and_classifies() {
        let t = Fake::new(0);
        let c = pr_out(
            &t,
            &PrOut::reserve(ReservationKey(0xab), ReservationType::WriteExclusive),
            None,
        )
        .await
        .unwrap();
        assert_eq!(c.status, ScsiStatus::GOOD);
        let r = t.seen.lock().unwrap()[0].clone();
        assert_eq!(r.cdb.as_bytes(), &[0x5f, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0]);
        assert_eq!(r.direction, DataDirection::ToDevice);
        assert_eq!(&r.buf[0..8], &0xabu64.to_be_bytes());

        let t = Fake {
            status: ScsiStatus::RESERVATION_CONFLICT,
            ..Fake::new(0)
        };
        let e = pr_out(&t, &PrOut::clear(ReservationKey(1)), None)
            .await
            .unwrap_err();
        assert!(e.is_reservation_conflict(), "{e}");
        assert!(
            e.to_string()
                .starts_with("fake0: PERSISTENT RESERVE OUT CLEAR: "),
            "{e}"
        );

        let t = Fake {
            status: ScsiStatus::CHECK_CONDITION,
            ..Fake::new(0)
        };
        let e = pr_out(&t, &PrOut::clear(ReservationKey(1)), None)
            .await
            .unwrap_err();
        let ce = e.command_error().unwrap();
        assert!(ce.is_unit_attention());
        assert_eq!(ce.asc_ascq(), Some((0x2a, 0x05)));
        assert_eq!(ce.sense_bytes()[12], 0x2a);

        let t = Fake {
            status: ScsiStatus::RESERVATION_CONFLICT,
            ..Fake::new(1)
        };
        let e = read_keys(&t).await.unwrap_err();
        assert!(e.is_reservation_conflict());
    }

    #[tokio::test]
    async fn pr_out_build_errors_send_nothing() {
        let t = Fake::new(0);
        let bad =
            PrOut::register_ignore(ReservationKey(1)).with_type(ReservationType::WriteExclusive);
        let e = pr_out(&t, &bad, None).await.unwrap_err();
        assert!(matches!(e, Error::Core(_)), "{e:?}");
        assert!(t.seen.lock().unwrap().is_empty());
    }
}
