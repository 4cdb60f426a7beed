// SPDX-License-Identifier: MIT OR Apache-2.0
//! `TransportId`: pr-core's TransportIDs with their `sg_persist` text forms.

use pr_core::transport_id::TransportId;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyType};

/// A SCSI TransportID (the identity of an initiator port), built from one of the text forms
/// ``sg_persist --transport-id`` accepts (``sas,5001405aabbccdd0``, ``fcp,...``,
/// ``iqn.2003-01.org.example:host,i,0x23d000000000``, hex bytes, ...) or from its binary
/// form (``bytes``, as ``from_bytes``). ``str()`` gives the canonical text form, which parses
/// back to an equal object. Picklable (as its binary form).
#[pyclass(frozen, eq, hash, module = "pr_sdk._native", name = "TransportId")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyTransportId {
    pub(crate) tid: TransportId<'static>,
}

#[pymethods]
impl PyTransportId {
    /// Parses a text form (or decodes a binary form given as ``bytes``); ``ValueError``
    /// (naming what is wrong) if it does not parse.
    #[new]
    fn new(text: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(b) = text.cast::<PyBytes>() {
            return Self::from_bytes(b.as_bytes());
        }
        let Ok(s) = text.cast::<PyString>() else {
            return Err(PyTypeError::new_err(
                "text must be a str (a text form) or bytes (the binary form)",
            ));
        };
        let text = s.to_cow()?;
        TransportId::parse(&text)
            .map(|t| PyTransportId {
                tid: t.into_owned(),
            })
            .map_err(|e| PyValueError::new_err(format!("text: {e}: {text:?}")))
    }

    /// Pickles as ``TransportId(binary form)`` (or the text form, should the binary form
    /// not encode).
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyType>, (Bound<'py, PyAny>,))> {
        let py = slf.py();
        let me = slf.get();
        let arg = match me.to_bytes(py) {
            Ok(b) => b.into_any(),
            Err(_) => PyString::new(py, &me.tid.to_string()).into_any(),
        };
        Ok((slf.get_type(), (arg,)))
    }

    /// Decodes the binary form (the first TransportID in ``data``; extra bytes are ignored).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        TransportId::decode(data)
            .map(|(t, _)| PyTransportId {
                tid: t.into_owned(),
            })
            .map_err(|e| PyValueError::new_err(format!("data: {e}")))
    }

    /// The binary form, as it goes on the wire.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut buf = vec![0u8; self.tid.encoded_len()];
        self.tid
            .encode(&mut buf)
            .map_err(|e| PyValueError::new_err(format!("cannot encode: {e}")))?;
        Ok(PyBytes::new(py, &buf))
    }

    /// The protocol's name (``SAS``, ``iSCSI``, ``FCP``, ...).
    #[getter]
    fn protocol(&self) -> String {
        self.tid.protocol().to_string()
    }

    /// The PROTOCOL IDENTIFIER code (6 for SAS, 5 for iSCSI, ...).
    #[getter]
    fn protocol_id(&self) -> u8 {
        self.tid.protocol().code()
    }

    /// A multi-line human description, field by field.
    fn describe(&self) -> String {
        self.tid.describe().to_string()
    }

    fn __str__(&self) -> String {
        self.tid.to_string()
    }

    fn __repr__(&self) -> String {
        format!("TransportId({:?})", self.tid.to_string())
    }
}
