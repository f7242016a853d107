//! One module per command; each takes its parsed arguments and the global options and returns the
//! exit code or a [`Failure`](crate::exit::Failure).

pub mod channels;
pub mod completions;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod message;
pub mod pairing;
pub mod policy;
pub mod run;
pub mod service;

use std::path::PathBuf;

/// The options every command shares.
#[derive(Debug, Clone)]
pub struct Globals {
    /// `--config` (or `IMSG_GATEWAY_CONFIG`).
    pub config: Option<PathBuf>,
    /// `--state-dir` (or `IMSG_GATEWAY_STATE_DIR`).
    pub state_dir: Option<PathBuf>,
}
