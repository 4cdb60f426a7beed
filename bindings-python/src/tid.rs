// SPDX-License-Identifier: MIT OR Apache-2.0
//! `TransportId`: pr-core's TransportIDs with their `sg_persist` text forms.

use pr_core::transport_id::TransportId;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A SCSI TransportID (the identity of an initiator port), built from one of the text forms
/// ``sg_persist --transport-id`` accepts (``sas,5001405aabbccdd0``, ``fcp,...``,
/// ``iqn.2003-01.org.example:host,i,0x23d000000000``, hex bytes, ...) or from its binary
/// form. ``str()`` gives the canonical text form, which parses back to an equal object.
#[pyclass(frozen, eq, hash, module = "pr_sdk._native", name = "TransportId")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyTransportId {
    pub(crate) tid: TransportId<'static>,
}

#[pymethods]
impl PyTransportId {
    /// Parses a text form; ``ValueError`` (naming what is wrong) if it does not parse.
    #[new]
    fn new(text: &str) -> PyResult<Self> {
        TransportId::parse(text)
            .map(|t| PyTransportId {
                tid: t.into_owned(),
            })
            .map_err(|e| PyValueError::new_err(format!("text: {e}: {text:?}")))
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
