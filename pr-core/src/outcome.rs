//! Command outcomes (placeholder: being written).
/// Placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("placeholder")]
pub struct CommandError;
