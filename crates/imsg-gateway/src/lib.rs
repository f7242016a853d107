//! The library side of the `imsg-gateway` binary: the parts its commands are built from, kept here so tests
//! can reach them.
pub mod agent;
