//! The seam between a gateway and iMessage: the `Channel` trait and the iMessage channel that joins
//! `imsg-rpc`, `imsg-policy` and `imsg-config`.
//!
//! Nothing is built here yet; the channel issue fills this crate in. It exists now so that the crate
//! layering (checked by `cargo xtask tidy`) is in place from the start.
