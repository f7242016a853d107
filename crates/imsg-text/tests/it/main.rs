//! Integration tests of imsg-text: the anchor's vectors as a snapshot table, and the properties.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on a broken fixture")]

mod props;
mod vectors;
