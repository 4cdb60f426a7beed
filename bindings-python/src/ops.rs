// SPDX-License-Identifier: MIT OR Apache-2.0
//! The methods `Device` and `AsyncDevice` share (one definition, two front doors): each
//! checks its arguments and turns them into one [`crate::core::Call`] (a pr-multipath
//! `OutRequest` or `PrInAction`), in this file only, and hands it to the class's `call`,
//! which waits for it (blocking) or returns an awaitable (asyncio).

/// Expands to the `#[pymethods]` block of a device class, with `$extra` methods added.
/// The class has a `handle: Arc<crate::core::Handle>` and a `call(&self, py, Call)`.
macro_rules! device_methods {
    ($cls:ident, { $($extra:tt)* }) => {
        #[pymethods]
        impl $cls {
            $($extra)*

            /// The LUN's name (the map name, the device's kernel name such as ``sdb``, or
            /// the simulated LUN's name).
            #[getter]
            fn name(&self) -> String {
                self.handle.name().to_owned()
            }

            /// The names of the LUN's paths.
            #[getter]
            fn paths(&self, py: Python<'_>) -> PyResult<Vec<String>> {
                let lun = self.handle.lun(py)?;
                Ok(py.detach(|| lun.paths().iter().map(|p| p.name().to_owned()).collect()))
            }

            /// The names of the paths commands may be sent to.
            #[getter]
            fn usable_paths(&self, py: Python<'_>) -> PyResult<Vec<String>> {
                let lun = self.handle.lun(py)?;
                Ok(py.detach(|| lun.usable_paths().into_iter().map(str::to_owned).collect()))
            }

            /// Whether the LUN is simulated (built by ``Sim``/``SimCluster``).
            #[getter]
            fn simulated(&self) -> bool {
                self.handle.simulated()
            }

            /// Whether ``close()`` was called (on this view or on the other view of the
            /// same device).
            #[getter]
            fn closed(&self) -> bool {
                self.handle.is_closed()
            }

            /// Closes the device (idempotent): later calls raise ``DeviceClosedError``.
            /// Operations already running finish; the path devices are closed when the
            /// last of them ends. ``aio``/``sync`` views of the device are closed too.
            fn close(&self) {
                self.handle.close();
            }

            /// Marks a path usable or failed (as multipathd would); ``ValueError`` for an
            /// unknown path.
            fn set_path_usable(&self, py: Python<'_>, path: &str, usable: bool) -> PyResult<()> {
                let lun = self.handle.lun(py)?;
                let state = if usable {
                    pr_multipath::PathState::Usable
                } else {
                    pr_multipath::PathState::Failed
                };
                if py.detach(|| lun.set_path_state(path, state)) {
                    Ok(())
                } else {
                    Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "path: {path:?} is not a path of {}",
                        lun.name()
                    )))
                }
            }

            /// PERSISTENT RESERVE IN, READ KEYS (first usable path that answers). Returns
            /// ``Keys``.
            fn read_keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::In(PrInAction::ReadKeys))
            }

            /// PERSISTENT RESERVE IN, READ RESERVATION. Returns ``ReservationState``.
            fn read_reservation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::In(PrInAction::ReadReservation))
            }

            /// PERSISTENT RESERVE IN, REPORT CAPABILITIES. Returns ``Capabilities``.
            fn report_capabilities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::In(PrInAction::ReportCapabilities))
            }

            /// PERSISTENT RESERVE IN, READ FULL STATUS (every descriptor, no 32-entry cap).
            /// Returns ``FullStatus``.
            fn read_full_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::In(PrInAction::ReadFullStatus))
            }

            /// REGISTER ``new_key`` on every usable path (``old_key``: the key the paths have
            /// now, 0 if unregistered; ``new_key`` 0 unregisters). ``all_tg_pt``: ``None``
            /// for the LUN's default. ``rollback``: undo partial success on a conflict
            /// (multipath-tools 0.9.4) instead of retrying the conflicting paths with
            /// REGISTER AND IGNORE EXISTING KEY (0.13). Returns ``Report``.
            #[pyo3(signature = (new_key, *, old_key = None, aptpl = false, all_tg_pt = None, rollback = false))]
            fn register<'py>(
                &self,
                py: Python<'py>,
                new_key: &Bound<'py, PyAny>,
                old_key: Option<&Bound<'py, PyAny>>,
                aptpl: bool,
                all_tg_pt: Option<bool>,
                rollback: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let old = match old_key {
                    Some(k) => key_arg(k, "old_key")?,
                    None => ReservationKey(0),
                };
                let mut req = RegisterRequest::register(old, key_arg(new_key, "new_key")?);
                req = finish_register(req, aptpl, all_tg_pt, rollback);
                self.call(py, Call::Out(OutRequest::register(req)))
            }

            /// REGISTER AND IGNORE EXISTING KEY: every usable path gets ``new_key``, whatever
            /// it had (0 unregisters). Returns ``Report``.
            #[pyo3(signature = (new_key, *, aptpl = false, all_tg_pt = None))]
            fn register_and_ignore<'py>(
                &self,
                py: Python<'py>,
                new_key: &Bound<'py, PyAny>,
                aptpl: bool,
                all_tg_pt: Option<bool>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let req = RegisterRequest::register_ignore(key_arg(new_key, "new_key")?);
                self.call(py, Call::Out(OutRequest::register(finish_register(req, aptpl, all_tg_pt, false))))
            }

            /// Unregisters ``key`` from every usable path (releasing first if ``key`` holds the
            /// reservation). Returns ``Report``.
            fn unregister<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                let req = RegisterRequest::register(key_arg(key, "key")?, ReservationKey(0));
                self.call(py, Call::Out(OutRequest::register(req)))
            }

            /// REGISTER with SPEC_I_PT: registers ``new_key`` for this host's paths and for the
            /// I_T nexuses of ``transport_ids`` (``TransportId`` objects or text forms).
            /// Returns ``Report``.
            #[pyo3(signature = (new_key, transport_ids, *, old_key = None, aptpl = false))]
            fn register_spec_i_pt<'py>(
                &self,
                py: Python<'py>,
                new_key: &Bound<'py, PyAny>,
                transport_ids: &Bound<'py, PyAny>,
                old_key: Option<&Bound<'py, PyAny>>,
                aptpl: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let old = match old_key {
                    Some(k) => key_arg(k, "old_key")?,
                    None => ReservationKey(0),
                };
                let mut ids = Vec::new();
                if transport_ids.is_instance_of::<pyo3::types::PyString>() {
                    return Err(pyo3::exceptions::PyTypeError::new_err(
                        "transport_ids must be a sequence of TransportId or str, not str",
                    ));
                }
                for (i, t) in transport_ids.try_iter().map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(
                        "transport_ids must be a sequence of TransportId or str",
                    )
                })?.enumerate() {
                    ids.push(tid_arg(&t?, &format!("transport_ids[{i}]"))?);
                }
                let req = finish_register(
                    RegisterRequest::register(old, key_arg(new_key, "new_key")?),
                    aptpl,
                    None,
                    false,
                );
                self.call(py, Call::Out(OutRequest::Register { request: req, spec_i_pt: ids }))
            }

            /// RESERVE with ``key`` and ``type`` (a ``ReservationType``). Returns ``Report``.
            #[pyo3(signature = (key, r#type))]
            fn reserve<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, r#type: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Out(OutRequest::Reserve {
                    key: key_arg(key, "key")?,
                    reservation_type: type_arg(r#type, "type")?,
                }))
            }

            /// RELEASE the reservation held with ``key`` and ``type``. Returns ``Report``.
            #[pyo3(signature = (key, r#type))]
            fn release<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, r#type: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Out(OutRequest::Release {
                    key: key_arg(key, "key")?,
                    reservation_type: type_arg(r#type, "type")?,
                }))
            }

            /// CLEAR: removes every registration and the reservation (``key`` must be
            /// registered). Returns ``Report``.
            fn clear<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Out(OutRequest::Clear { key: key_arg(key, "key")? }))
            }

            /// PREEMPT (``abort=True``: PREEMPT AND ABORT) the registrations of
            /// ``victim_key`` with ``key``, taking the reservation with ``type`` if the victim
            /// held it. Returns ``Report``.
            #[pyo3(signature = (key, victim_key, r#type, *, abort = false))]
            fn preempt<'py>(
                &self,
                py: Python<'py>,
                key: &Bound<'py, PyAny>,
                victim_key: &Bound<'py, PyAny>,
                r#type: &Bound<'py, PyAny>,
                abort: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let key = key_arg(key, "key")?;
                let victim = key_arg(victim_key, "victim_key")?;
                let reservation_type = type_arg(r#type, "type")?;
                self.call(py, Call::Out(if abort {
                    OutRequest::PreemptAndAbort { key, victim, reservation_type }
                } else {
                    OutRequest::Preempt { key, victim, reservation_type }
                }))
            }

            /// PREEMPT AND ABORT (what fence agents do): as ``preempt(..., abort=True)``.
            #[pyo3(signature = (key, victim_key, r#type))]
            fn preempt_and_abort<'py>(
                &self,
                py: Python<'py>,
                key: &Bound<'py, PyAny>,
                victim_key: &Bound<'py, PyAny>,
                r#type: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Out(OutRequest::PreemptAndAbort {
                    key: key_arg(key, "key")?,
                    victim: key_arg(victim_key, "victim_key")?,
                    reservation_type: type_arg(r#type, "type")?,
                }))
            }

            /// REPLACE LOST RESERVATION (SPC-5) with ``key`` and ``type``, then
            /// re-registers ``key`` on the other paths. Returns ``Report``.
            #[pyo3(signature = (key, r#type))]
            fn replace_lost_reservation<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, r#type: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Out(OutRequest::ReplaceLostReservation {
                    new_key: key_arg(key, "key")?,
                    reservation_type: type_arg(r#type, "type")?,
                }))
            }

            /// REGISTER AND MOVE: moves the reservation held with ``key`` to the I_T nexus
            /// ``transport_id`` through ``relative_target_port``, registered with
            /// ``dest_key``. Returns ``Report``.
            #[pyo3(signature = (key, dest_key, r#type, transport_id, relative_target_port, *, unreg = false, aptpl = false))]
            #[allow(clippy::too_many_arguments)]
            fn register_and_move<'py>(
                &self,
                py: Python<'py>,
                key: &Bound<'py, PyAny>,
                dest_key: &Bound<'py, PyAny>,
                r#type: &Bound<'py, PyAny>,
                transport_id: &Bound<'py, PyAny>,
                relative_target_port: &Bound<'py, PyAny>,
                unreg: bool,
                aptpl: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Out(OutRequest::RegisterAndMove {
                    key: key_arg(key, "key")?,
                    destination_key: key_arg(dest_key, "dest_key")?,
                    reservation_type: type_arg(r#type, "type")?,
                    destination: tid_arg(transport_id, "transport_id")?,
                    relative_target_port: u16_arg(relative_target_port, "relative_target_port")?,
                    unregister: unreg,
                    aptpl,
                }))
            }

            /// Re-reads the paths' states (maps: the dm status; simulated and single path
            /// devices: nothing to read). Returns ``None``.
            fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.call(py, Call::Refresh)
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                match self.handle.lun(py) {
                    Ok(lun) => format!(
                        "<{} {} paths={:?}>",
                        stringify!($cls),
                        lun.name(),
                        lun.paths().iter().map(|p| p.name()).collect::<Vec<_>>()
                    ),
                    Err(_) => format!("<{} {} closed>", stringify!($cls), self.handle.name()),
                }
            }
        }
    };
}

pub(crate) use device_methods;

use pr_multipath::{ConflictPolicy, RegisterRequest};

/// Applies the common REGISTER options.
pub(crate) fn finish_register(
    mut req: RegisterRequest,
    aptpl: bool,
    all_tg_pt: Option<bool>,
    rollback: bool,
) -> RegisterRequest {
    if aptpl {
        req = req.aptpl();
    }
    if let Some(a) = all_tg_pt {
        req = req.all_tg_pt(a);
    }
    if rollback {
        req = req.policy(ConflictPolicy::Rollback);
    }
    req
}
