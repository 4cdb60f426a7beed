//! Sense data (placeholder: being written).
