//! Display (placeholder: being written).
