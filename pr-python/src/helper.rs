// SPDX-License-Identifier: MIT OR Apache-2.0
//! The qemu-pr-helper protocol from Python. `HelperClient` is a client of any helper (our
//! `pr-helper` daemon or QEMU's `qemu-pr-helper`): pr-helper's [`BlockingClient`], one
//! request at a time on one connection, the GIL released while it waits. `SimHelper` runs
//! pr-helper's [`Server`] in this process on a Unix socket with a simulated LUN behind
//! every descriptor a client sends (the same hook pr-helper's own end-to-end tests use),
//! so that clients can be tested without root or hardware.
//!
//! Raw calls (`call`, `pr_in`, `pr_out`) return the helper's reply as it came (a
//! `HelperReply`: result, status, sense, data) whatever the SCSI status; the named
//! actions (`read_keys`, `register`, ...) raise the `PrError` subclass that the same
//! status and sense give on a `Device`. A socket that fails or a reply that breaks the
//! protocol raises `HelperConnectionError` and closes the connection (the helper closes
//! it itself on requests it refuses); a request that breaks the protocol is refused
//! before anything is sent (`InvalidArgumentError`), and the connection stays usable.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pr_core::outcome::{Completion, SenseBuf};
use pr_core::prin::{ReadKeys, ReadReservation, Response};
use pr_core::sense::ScsiStatus;
use pr_core::types::{PrInAction, ReservationKey};
use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};
use pr_helper::{BlockingClient, LunSource, Reply, Server, wire};
use pr_multipath::blocking::{self, Pending};
use pr_multipath::{CancellationToken, FullStatusInfo, InResult, KeysInfo, Lun, ReservationInfo};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString, PyType};

use crate::convert::{build, key_arg, obj, seconds_arg, type_arg, u8_arg, u16_arg};
use crate::core::{detached, wait_pending};
use crate::errors::{bridge_error, command_error, internal_error_message, raise};
use crate::sync::Device;

/// The file a request's descriptor comes from.
enum Target {
    /// A duplicate of the descriptor the caller gave.
    Fd(OwnedFd, i32),
    /// A path, opened read-write for the one request.
    Path(PathBuf),
}

impl Target {
    /// How results and errors name the device.
    fn label(&self) -> String {
        match self {
            Target::Fd(_, n) => format!("fd {n}"),
            Target::Path(p) => p.display().to_string(),
        }
    }
}

/// A `device` argument: a descriptor number, an object with `fileno()`, or a path (`str`,
/// `bytes`, `os.PathLike`).
fn device_arg(obj: &Bound<'_, PyAny>) -> PyResult<Target> {
    let py = obj.py();
    let fd = if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        Some(obj.extract::<i64>()?)
    } else if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.hasattr("__fspath__")?
    {
        let path: String = py
            .import("os")?
            .call_method1("fsdecode", (obj,))?
            .extract()?;
        if path.is_empty() {
            return Err(raise(py, "InvalidArgumentError", "device: empty path"));
        }
        return Ok(Target::Path(PathBuf::from(path)));
    } else if obj.hasattr("fileno")? {
        Some(obj.call_method0("fileno")?.extract::<i64>()?)
    } else {
        let t = obj
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        return Err(PyTypeError::new_err(format!(
            "device must be a file descriptor (int), an object with fileno(), or a path \
             (str, bytes, os.PathLike), not {t}"
        )));
    };
    let n = fd
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| PyValueError::new_err("device: the descriptor number is out of range"))?;
    match crate::sys::dup_fd(n) {
        Ok(owned) => Ok(Target::Fd(owned, n)),
        Err(e) => Err(PyValueError::new_err(format!(
            "device: {n} is not an open file descriptor ({e})"
        ))),
    }
}

/// A socket path argument (`str`, `bytes`, `os.PathLike`).
fn socket_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if !(obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.hasattr("__fspath__")?)
    {
        return Err(PyTypeError::new_err(
            "socket_path must be a str, bytes or os.PathLike",
        ));
    }
    let path: String = obj
        .py()
        .import("os")?
        .call_method1("fsdecode", (obj,))?
        .extract()?;
    if path.is_empty() {
        return Err(raise(
            obj.py(),
            "InvalidArgumentError",
            "socket_path: empty path",
        ));
    }
    Ok(path)
}

/// `OSError` (of the subclass its errno gives) for `e` on `path`.
fn os_error(e: &std::io::Error, what: &str, path: &str) -> PyErr {
    PyOSError::new_err((
        e.raw_os_error().unwrap_or(0),
        format!("{what}: {e}"),
        path.to_owned(),
    ))
}

/// The sense bytes of a reply: its 96 bytes cut to the sense's own length (none when
/// the first byte is no sense response code).
fn sense_of(r: &Reply) -> &[u8] {
    match r.sense[0] & 0x7f {
        0x70..=0x73 => {
            let len = 8 + usize::from(r.sense[7]);
            &r.sense[..len.min(r.sense.len())]
        }
        _ => &[],
    }
}

/// The `HelperReply` object of `r`.
fn reply_object(py: Python<'_>, r: &Reply) -> PyResult<Py<PyAny>> {
    let (key, asc, ascq) = match r.sense_key_asc_ascq() {
        Some((k, a, q)) => (Some(k), Some(a), Some(q)),
        None => (None, None, None),
    };
    build(
        py,
        "HelperReply",
        &[
            ("result", obj(py, r.result)?),
            ("status", obj(py, r.status())?),
            ("sense", PyBytes::new(py, sense_of(r)).into_any()),
            ("sense_key", obj(py, key)?),
            ("asc", obj(py, asc)?),
            ("ascq", obj(py, ascq)?),
            ("data", PyBytes::new(py, &r.data).into_any()),
        ],
    )
}

/// What a call brought back from the thread that waited for it.
enum Outcome {
    Reply(Reply),
    Open(std::io::Error),
    Closed,
    Failed(pr_helper::ClientError),
    Panicked(String),
}

/// A connection to a qemu-pr-helper-compatible helper (our ``pr-helper`` daemon or QEMU's
/// ``qemu-pr-helper``) over its Unix socket, blocking: each request waits with the GIL
/// released. One request at a time per connection, as the protocol requires (threads that
/// share a client take turns). ``device`` arguments are a file descriptor (``int``; a
/// duplicate is sent), an object with ``fileno()``, or a path, opened read-write for the
/// request (pass a descriptor opened ``O_RDONLY`` to send one: helpers refuse PR OUT on
/// it). ``call``, ``pr_in`` and ``pr_out`` return the :class:`HelperReply` whatever the
/// SCSI status; the named actions raise the :class:`PrError` subclass of the status and
/// sense (``ReservationConflictError``, ``UnitAttentionError``, ...). A socket error, or a
/// connection the helper closed (it does so, without a reply, for requests it refuses),
/// raises :class:`HelperConnectionError` and closes the client.
#[pyclass(frozen, module = "pr_sdk._native", name = "HelperClient")]
pub(crate) struct HelperClient {
    socket: String,
    conn: Arc<Mutex<Option<BlockingClient>>>,
}

impl HelperClient {
    /// Sends one request and returns the reply, whatever its status.
    fn request(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        cdb: &[u8],
        data: &[u8],
        what: &str,
    ) -> PyResult<(Reply, String)> {
        if cdb.len() > wire::CDB_SIZE {
            return Err(raise(
                py,
                "InvalidArgumentError",
                &format!("{what}: a CDB is at most 16 bytes, got {}", cdb.len()),
            ));
        }
        if let Err(e) = wire::encode_request(cdb, data) {
            return Err(raise(py, "InvalidArgumentError", &format!("{what}: {e}")));
        }
        let target = device_arg(device)?;
        let label = target.label();
        let conn = Arc::clone(&self.conn);
        let (cdb, data) = (cdb.to_vec(), data.to_vec());
        let outcome = detached(py, move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let file;
                let fd = match &target {
                    Target::Fd(fd, _) => fd.as_fd(),
                    Target::Path(p) => {
                        match File::options().read(true).write(true).open(p) {
                            Ok(f) => file = f,
                            Err(e) => return Outcome::Open(e),
                        }
                        file.as_fd()
                    }
                };
                let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(client) = guard.as_mut() else {
                    return Outcome::Closed;
                };
                match client.call(&fd, &cdb, &data) {
                    Ok(r) => Outcome::Reply(r),
                    Err(e) => {
                        // The connection's state is unknown: no further request on it.
                        *guard = None;
                        Outcome::Failed(e)
                    }
                }
            }))
            .unwrap_or_else(|p| Outcome::Panicked(blocking::runtime::panic_message(p.as_ref())))
        });
        match outcome {
            Outcome::Reply(r) => Ok((r, label)),
            Outcome::Open(e) => {
                let class = match e.kind() {
                    std::io::ErrorKind::NotFound => "DeviceNotFoundError",
                    std::io::ErrorKind::PermissionDenied => "PermissionDeniedError",
                    _ => "PrError",
                };
                Err(raise(py, class, &format!("{what}: {label}: {e}")))
            }
            Outcome::Closed => Err(raise(
                py,
                "HelperConnectionError",
                &format!("{what}: the connection to {} is closed", self.socket),
            )),
            Outcome::Failed(e) => Err(raise(
                py,
                "HelperConnectionError",
                &format!(
                    "{what} on {label}: {}: {e} (the client is closed; the helper closes \
                     the connection without a reply on requests it refuses)",
                    self.socket
                ),
            )),
            Outcome::Panicked(m) => Err(internal_error_message(py, &m)),
        }
    }

    /// Sends one request; a status other than GOOD raises the `PrError` subclass of the
    /// status and sense.
    fn checked(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        cdb: &[u8],
        data: &[u8],
        what: &str,
    ) -> PyResult<(Reply, String)> {
        let (r, label) = self.request(py, device, cdb, data, what)?;
        let completion = Completion {
            status: ScsiStatus(r.status()),
            sense: SenseBuf::new(sense_of(&r)),
            host_status: 0,
            driver_status: 0,
            residual: 0,
            duration: Duration::ZERO,
        };
        match completion.check() {
            Ok(()) => Ok((r, label)),
            Err(c) => Err(command_error(py, &c, &format!("{what} on {label}"))),
        }
    }

    /// A PR IN action, decoded into the result object `Device` gives for it.
    fn read(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        action: PrInAction,
        allocation_length: u16,
        what: &str,
    ) -> PyResult<Py<PyAny>> {
        let cdb = pr_in_cdb(action.code(), allocation_length);
        let (r, label) = self.checked(py, device, &cdb, &[], what)?;
        let bad = |e: pr_core::DecodeError| {
            raise(
                py,
                "PrError",
                &format!("{what} on {label}: the reply's data does not decode: {e}"),
            )
        };
        let result = match Response::decode(action, &r.data).map_err(bad)? {
            Response::ReadKeys(k) => InResult::Keys(keys_info(&k, label)),
            Response::ReadReservation(rr) => InResult::Reservation(reservation_info(&rr, label)),
            Response::ReportCapabilities(c) => InResult::Capabilities(c),
            Response::ReadFullStatus(fs) => InResult::FullStatus(FullStatusInfo::from_response(
                label,
                &fs,
                allocation_length,
                1,
            )),
        };
        crate::convert::in_result(py, result)
    }

    /// A PR OUT action with a basic parameter list; raises on a status other than GOOD.
    #[allow(clippy::too_many_arguments)]
    fn out(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        service_action: u8,
        type_code: u8,
        key: u64,
        sa_key: u64,
        flags: u8,
        what: &str,
    ) -> PyResult<Py<PyAny>> {
        let cdb = pr_out_cdb(service_action, type_code, 24);
        let params = basic_params(key, sa_key, flags);
        let (r, _) = self.checked(py, device, &cdb, &params, what)?;
        reply_object(py, &r)
    }
}

fn keys_info(k: &ReadKeys<'_>, path: String) -> KeysInfo {
    KeysInfo {
        path,
        generation: k.generation(),
        keys: k.keys().collect(),
    }
}

fn reservation_info(r: &ReadReservation<'_>, path: String) -> ReservationInfo {
    ReservationInfo {
        path,
        generation: r.generation(),
        reservation: r.reservation(),
    }
}

/// The flags byte of a basic parameter list.
fn flags(aptpl: bool, all_tg_pt: bool) -> u8 {
    (if all_tg_pt { 0x04 } else { 0 }) | u8::from(aptpl)
}

fn key(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    key_arg(obj, name).map(|ReservationKey(k)| k)
}

fn type_code(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    type_arg(obj, "type").map(|t| t.code())
}

#[pymethods]
impl HelperClient {
    /// Connects to the helper's socket and exchanges the feature words. ``timeout``:
    /// seconds each read and write on the socket may wait (``None``: no limit), after
    /// which the request fails with ``HelperConnectionError``.
    #[new]
    #[pyo3(signature = (socket_path, *, timeout = None))]
    fn new(
        py: Python<'_>,
        socket_path: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let socket = socket_arg(socket_path)?;
        let timeout = timeout.map(|t| seconds_arg(t, "timeout")).transpose()?;
        if timeout == Some(Duration::ZERO) {
            return Err(PyValueError::new_err("timeout must be above 0 seconds"));
        }
        let path = socket.clone();
        let connected = detached(py, move || {
            std::panic::catch_unwind(|| {
                let c = BlockingClient::connect(&path)?;
                c.stream().set_read_timeout(timeout)?;
                c.stream().set_write_timeout(timeout)?;
                Ok::<_, pr_helper::ClientError>(c)
            })
        });
        match connected {
            Ok(Ok(c)) => Ok(HelperClient {
                socket,
                conn: Arc::new(Mutex::new(Some(c))),
            }),
            Ok(Err(e)) => Err(raise(
                py,
                "HelperConnectionError",
                &format!("cannot connect to the helper at {socket}: {e}"),
            )),
            Err(p) => Err(internal_error_message(
                py,
                &blocking::runtime::panic_message(p.as_ref()),
            )),
        }
    }

    /// The helper's socket path.
    #[getter]
    fn socket_path(&self) -> &str {
        &self.socket
    }

    /// Whether the client is closed (``close()``, or after a ``HelperConnectionError``).
    #[getter]
    fn closed(&self) -> bool {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Closes the connection (idempotent; waits for a request under way).
    fn close(&self, py: Python<'_>) {
        let conn = Arc::clone(&self.conn);
        detached(py, move || {
            conn.lock().unwrap_or_else(PoisonError::into_inner).take();
        });
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        format!(
            "HelperClient({:?}{})",
            self.socket,
            if self.closed() { ", closed" } else { "" }
        )
    }

    /// Sends one request: ``cdb`` (PERSISTENT RESERVE IN 5Eh or OUT 5Fh, at most 16
    /// bytes, padded with zeros) with ``device``'s descriptor, and ``data``, the PR OUT
    /// parameter list, exactly as long as CDB bytes 7-8 say (empty for PR IN). Returns
    /// the :class:`HelperReply` whatever its status. A request the protocol cannot carry
    /// (another operation code, more than 8192 bytes, ``data`` of another length) raises
    /// ``InvalidArgumentError`` before anything is sent.
    #[pyo3(
        signature = (device, cdb, data = b"".to_vec()),
        text_signature = "($self, device, cdb, data=b'')"
    )]
    fn call(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        cdb: Vec<u8>,
        data: Vec<u8>,
    ) -> PyResult<Py<PyAny>> {
        let (r, _) = self.request(py, device, &cdb, &data, "call")?;
        reply_object(py, &r)
    }

    /// PERSISTENT RESERVE IN of ``service_action`` (0 READ KEYS, 1 READ RESERVATION, 2
    /// REPORT CAPABILITIES, 3 READ FULL STATUS; any 5-bit value is sent) with
    /// ``allocation_length`` (at most 8192): the :class:`HelperReply`, whatever its status.
    #[pyo3(signature = (device, service_action, allocation_length = None))]
    fn pr_in(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        service_action: &Bound<'_, PyAny>,
        allocation_length: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let sa = sa_arg(service_action)?;
        let alloc = allocation_length
            .map(|a| u16_arg(a, "allocation_length"))
            .transpose()?
            .unwrap_or(8192);
        let (r, _) = self.request(py, device, &pr_in_cdb(sa, alloc), &[], "PR IN")?;
        reply_object(py, &r)
    }

    /// PERSISTENT RESERVE OUT of ``service_action`` (0 REGISTER, 1 RESERVE, 2 RELEASE, 3
    /// CLEAR, 4 PREEMPT, 5 PREEMPT AND ABORT, 6 REGISTER AND IGNORE EXISTING KEY, 7
    /// REGISTER AND MOVE, 8 REPLACE LOST RESERVATION) with the parameter list
    /// ``parameters`` (its length goes into the CDB; at most 8192 bytes) and ``type`` and
    /// ``scope`` (the CDB's TYPE and SCOPE fields, sent as given): the
    /// :class:`HelperReply`, whatever its status.
    #[pyo3(
        signature = (device, service_action, parameters, *, r#type = None, scope = None),
        text_signature = "($self, device, service_action, parameters, *, type=None, scope=None)"
    )]
    fn pr_out(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        service_action: &Bound<'_, PyAny>,
        parameters: Vec<u8>,
        r#type: Option<&Bound<'_, PyAny>>,
        scope: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let sa = sa_arg(service_action)?;
        let t = r#type.map(|t| u8_arg(t, "type")).transpose()?.unwrap_or(0);
        let s = scope.map(|s| u8_arg(s, "scope")).transpose()?.unwrap_or(0);
        if t > 0x0f || s > 0x0f {
            return Err(PyValueError::new_err(
                "type and scope are 4-bit fields (0..=15)",
            ));
        }
        let len = u16::try_from(parameters.len())
            .ok()
            .filter(|l| usize::from(*l) <= wire::DATA_SIZE)
            .ok_or_else(|| {
                raise(
                    py,
                    "InvalidArgumentError",
                    &format!(
                        "PR OUT: a parameter list of {} bytes is above the protocol's {}",
                        parameters.len(),
                        wire::DATA_SIZE
                    ),
                )
            })?;
        let cdb = pr_out_cdb(sa, (s << 4) | t, len);
        let (r, _) = self.request(py, device, &cdb, &parameters, "PR OUT")?;
        reply_object(py, &r)
    }

    /// READ KEYS through the helper, as :meth:`Device.read_keys` (``path`` names the
    /// device given).
    fn read_keys(&self, py: Python<'_>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.read(py, device, PrInAction::ReadKeys, 8192, "READ KEYS")
    }

    /// READ RESERVATION through the helper.
    fn read_reservation(&self, py: Python<'_>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.read(
            py,
            device,
            PrInAction::ReadReservation,
            8192,
            "READ RESERVATION",
        )
    }

    /// REPORT CAPABILITIES through the helper.
    fn report_capabilities(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.read(
            py,
            device,
            PrInAction::ReportCapabilities,
            8,
            "REPORT CAPABILITIES",
        )
    }

    /// READ FULL STATUS through the helper (one command of 8192 bytes).
    fn read_full_status(&self, py: Python<'_>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.read(
            py,
            device,
            PrInAction::ReadFullStatus,
            8192,
            "READ FULL STATUS",
        )
    }

    /// REGISTER ``old_key`` (default 0: not registered yet) to ``new_key`` (0
    /// unregisters).
    #[pyo3(signature = (device, new_key, *, old_key = None, aptpl = false, all_tg_pt = false))]
    fn register(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        new_key: &Bound<'_, PyAny>,
        old_key: Option<&Bound<'_, PyAny>>,
        aptpl: bool,
        all_tg_pt: bool,
    ) -> PyResult<Py<PyAny>> {
        let new = key(new_key, "new_key")?;
        let old = old_key.map(|k| key(k, "old_key")).transpose()?.unwrap_or(0);
        self.out(
            py,
            device,
            0x00,
            0,
            old,
            new,
            flags(aptpl, all_tg_pt),
            "REGISTER",
        )
    }

    /// REGISTER AND IGNORE EXISTING KEY to ``new_key``.
    #[pyo3(signature = (device, new_key, *, aptpl = false, all_tg_pt = false))]
    fn register_and_ignore(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        new_key: &Bound<'_, PyAny>,
        aptpl: bool,
        all_tg_pt: bool,
    ) -> PyResult<Py<PyAny>> {
        let new = key(new_key, "new_key")?;
        let f = flags(aptpl, all_tg_pt);
        self.out(
            py,
            device,
            0x06,
            0,
            0,
            new,
            f,
            "REGISTER AND IGNORE EXISTING KEY",
        )
    }

    /// REGISTER ``key`` to 0: removes the registration.
    fn unregister(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let k = self::key(key, "key")?;
        self.out(py, device, 0x00, 0, k, 0, 0, "REGISTER (unregister)")
    }

    /// RESERVE with ``key`` and ``type`` (a ``ReservationType`` or its code).
    fn reserve(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        r#type: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let (k, t) = (self::key(key, "key")?, type_code(r#type)?);
        self.out(py, device, 0x01, t, k, 0, 0, "RESERVE")
    }

    /// RELEASE with ``key`` and ``type``.
    fn release(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        r#type: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let (k, t) = (self::key(key, "key")?, type_code(r#type)?);
        self.out(py, device, 0x02, t, k, 0, 0, "RELEASE")
    }

    /// CLEAR with ``key``: every registration and the reservation go.
    fn clear(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let k = self::key(key, "key")?;
        self.out(py, device, 0x03, 0, k, 0, 0, "CLEAR")
    }

    /// PREEMPT (``abort``: PREEMPT AND ABORT) ``victim_key`` with ``key``, taking the
    /// reservation with ``type``.
    #[pyo3(signature = (device, key, victim_key, r#type, *, abort = false))]
    fn preempt(
        &self,
        py: Python<'_>,
        device: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        victim_key: &Bound<'_, PyAny>,
        r#type: &Bound<'_, PyAny>,
        abort: bool,
    ) -> PyResult<Py<PyAny>> {
        let k = self::key(key, "key")?;
        let v = self::key(victim_key, "victim_key")?;
        let t = type_code(r#type)?;
        let (sa, what) = if abort {
            (0x05, "PREEMPT AND ABORT")
        } else {
            (0x04, "PREEMPT")
        };
        self.out(py, device, sa, t, k, v, 0, what)
    }
}

/// A 5-bit service action argument.
fn sa_arg(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    let sa = u8_arg(obj, "service_action")?;
    if sa > 0x1f {
        return Err(PyValueError::new_err(format!(
            "service_action is a 5-bit field (0..=0x1f), got {sa:#x}"
        )));
    }
    Ok(sa)
}

/// TEST ONLY source of pr-helper's server: every descriptor reaches the one simulated LUN.
struct OneLun(Arc<Lun>);

impl LunSource for OneLun {
    fn lun_for(&self, _fd: std::os::fd::BorrowedFd<'_>) -> Result<Arc<Lun>, pr_multipath::Error> {
        Ok(Arc::clone(&self.0))
    }
}

/// pr-helper's server, in this process, on the Unix socket ``socket_path`` (created; it
/// must not exist), with the simulated LUN of ``device`` (a ``Device`` of :class:`Sim`)
/// behind every descriptor a client sends, whatever file it is (``/dev/null`` will do):
/// the daemon's protocol, refusals and replies, without root or hardware, for testing
/// clients (:class:`HelperClient`, a VMM). Real devices need the ``pr-helper`` daemon.
/// ``close()`` (or the end of a ``with`` block) stops it and removes the socket.
#[pyclass(frozen, module = "pr_sdk._native", name = "SimHelper")]
pub(crate) struct SimHelper {
    socket: String,
    running: Mutex<Option<(CancellationToken, Pending<()>)>>,
}

#[pymethods]
impl SimHelper {
    #[new]
    fn new(
        py: Python<'_>,
        device: PyRef<'_, Device>,
        socket_path: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let socket = socket_arg(socket_path)?;
        if !device.handle.simulated() {
            return Err(raise(
                py,
                "InvalidArgumentError",
                &format!(
                    "SimHelper serves simulated devices only (Sim.device, SimCluster.device), \
                     not {}: run the pr-helper daemon for real devices",
                    device.handle.name()
                ),
            ));
        }
        let lun = device.handle.lun(py)?;
        let listener = StdUnixListener::bind(&socket)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| os_error(&e, "cannot listen on the socket", &socket))?;
        let token = CancellationToken::new();
        let stop = token.clone();
        let server = Server::new(Arc::new(OneLun(lun)));
        let pending = blocking::spawn(async move {
            match tokio::net::UnixListener::from_std(listener) {
                Ok(l) => server.serve(l, stop).await,
                Err(e) => tracing::warn!(target: "pr_sdk::helper", "SimHelper: {e}"),
            }
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&socket);
            bridge_error(py, &e)
        })?;
        Ok(SimHelper {
            socket,
            running: Mutex::new(Some((token, pending))),
        })
    }

    /// The socket path.
    #[getter]
    fn socket_path(&self) -> &str {
        &self.socket
    }

    /// Whether the server was stopped.
    #[getter]
    fn closed(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Stops the server (connections waiting for a request close, commands under way
    /// finish) and removes the socket. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((token, pending)) = running {
            token.cancel();
            let _ = std::fs::remove_file(&self.socket);
            wait_pending(py, pending)?;
        }
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "SimHelper({:?}{})",
            self.socket,
            if self.closed() { ", closed" } else { "" }
        )
    }
}

impl Drop for SimHelper {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((token, pending)) = running {
            token.cancel();
            let _ = std::fs::remove_file(&self.socket);
            // Dropping `pending` aborts the task if it has not ended yet.
            drop(pending);
        }
    }
}
