//! PR IN.
