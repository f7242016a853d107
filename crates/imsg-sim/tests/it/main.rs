//! Integration tests of the `imsg-sim` binary through raw pipes, against literal request and answer lines of
//! imsg 0.9.0.

// The harness helpers state their expectations with `expect` on purpose: a failure there is a test failure.
#![expect(clippy::expect_used, reason = "test helpers fail loudly by design")]
#![expect(
    unreachable_pub,
    reason = "helpers are shared between the test modules"
)]

mod examples;
mod faults;
mod harness;
mod scenarios;
mod sends;
