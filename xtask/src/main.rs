//! `cargo xtask`: the project's automation, written in Rust so it runs the same on every machine.
//!
//! `ci` runs exactly what CI runs, `tidy` checks the repository's own rules, and `bench` runs the
//! criterion benches with short settings and prints each figure next to its same-run baseline.

use std::process::ExitCode;

mod bench;
mod ci;
mod cmd;
mod tidy;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci       run every check CI runs: fmt, clippy, tests (nextest), doctests, docs, tidy, cargo-deny
  tidy     check the repository rules (headers, layering, processes, machine paths, rust-version, stubs)
  bench    run the criterion benches (short settings) and print the figures with their ratios
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("tidy") => tidy::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            cmd::say(USAGE);
            return ExitCode::SUCCESS;
        }
        _ => {
            cmd::say(USAGE);
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            cmd::say(&format!("xtask: error: {err}"));
            ExitCode::FAILURE
        }
    }
}
