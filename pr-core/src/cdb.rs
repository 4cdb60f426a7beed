//! CDBs.
