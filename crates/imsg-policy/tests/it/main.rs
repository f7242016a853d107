//! Integration tests of `imsg-policy`: spec vectors, pairing, outbound, warnings, model and fuzz proptests.

// Fixture helpers outside `#[test]` functions unwrap too: a typo in a fixture should stop the test.
#![expect(clippy::unwrap_used, reason = "test fixtures panic on a typo")]

mod common;
mod fuzz;
mod guards;
mod model;
mod outbound;
mod pairing;
mod vectors;
mod warnings;
