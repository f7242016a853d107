//! `imsg-sim`: a stand-in for the macOS `imsg` 0.9.0 CLI that runs on Linux over a SQLite file with the
//! Messages schema subset.
//!
//! As far as a client can tell it is `imsg` without the private IMCore bridge: `imsg rpc` speaks the same
//! JSON-RPC 2.0 over stdio with the same keys, defaults, coercions, errors and framing, `watch.subscribe`
//! streams rows as they are written to chat.db, and `send` behaves like Messages.app by writing the outgoing
//! row. [`run`] is the whole program; [`db`] lets tests seed a database from Rust.
//!
//! The crate shares no code with the project's client crates on purpose: its output is checked against the
//! literal examples of the protocol specification, so a mistake on one side cannot hide in the other.

mod body;
mod cli;
mod dates;
pub mod db;
mod failure;
mod output;
mod params;
mod plist;
mod rpc;
mod send;
mod settings;
mod store;
mod watch;

/// Runs the simulator with `args` (without the program name), on the real stdin and stdout.
///
/// This is everything the `imsg-sim` binary does, so another package can build a wrapper binary, for
/// example one literally named `imsg`. Environment variables `IMSG_VERSION` and `IMSG_SIM_*` are read here.
#[must_use]
pub fn run(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    cli::run(&cli::strings(args))
}
