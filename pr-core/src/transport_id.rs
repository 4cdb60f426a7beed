//! TransportIDs (placeholder: being written).
/// Placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("placeholder")]
pub struct TransportIdError;
/// Placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportId<'a> {
    /// Placeholder.
    Sas {
        /// SAS address.
        address: u64,
    },
    /// Placeholder.
    Iscsi {
        /// name
        name: std::borrow::Cow<'a, str>,
    },
}
