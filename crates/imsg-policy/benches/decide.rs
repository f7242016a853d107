//! Criterion bench of `decide` against a naive re-parse-and-scan baseline.

fn main() {}
