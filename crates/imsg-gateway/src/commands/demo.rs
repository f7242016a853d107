//! `demo`: placeholder while the script is written.

use crate::cli::DemoArgs;
use crate::exit::Failure;

/// `demo`.
///
/// # Errors
///
/// Not yet.
pub async fn run(args: &DemoArgs) -> Result<u8, Failure> {
    let _ = args;
    Err(Failure::other("demo"))
}
