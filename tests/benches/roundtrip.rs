//! Placeholder until the round-trip bench lands.
fn main() {}
