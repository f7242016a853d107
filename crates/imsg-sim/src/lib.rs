//! Placeholder crate root; the owning issue fills this crate in.
