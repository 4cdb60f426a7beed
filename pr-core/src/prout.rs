//! PR OUT.
