//! The complete CI test a user writes to property-test their own policy (filled in below).
