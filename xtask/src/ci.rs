//! `cargo xtask ci`: the one list of checks, shared by CI (`.ci/run`) and developers.

use crate::cmd::{cargo, run_step, say};
use crate::tidy;

/// Runs every check in order and stops at the first failure, so the log ends with the cause.
pub(crate) fn run() -> Result<(), String> {
    run_step(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--check"]),
    )?;
    run_step(
        "cargo clippy (all targets, all features, -D warnings)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // nextest does not run doctests. They run first so that nextest's summary is the last word of
    // the test runners in the log.
    run_step(
        "cargo test --doc",
        cargo()
            .args(["test", "--doc", "--workspace", "--all-features", "--locked"])
            .env("INSTA_UPDATE", "no"),
    )?;
    // Snapshot tests must fail on a mismatch instead of writing `.snap.new` files.
    run_step(
        "cargo nextest run (all features)",
        cargo()
            .args([
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--locked",
                "--profile",
                "ci",
            ])
            .env("INSTA_UPDATE", "no")
            .env("CI", "true"),
    )?;
    run_step(
        "cargo doc (-D warnings)",
        cargo()
            .args([
                "doc",
                "--workspace",
                "--no-deps",
                "--all-features",
                "--locked",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    say("==> tidy");
    tidy::run()?;
    ensure_cargo_deny()?;
    // `advisories` needs the RustSec database from the network, which these machines cannot reach.
    run_step(
        "cargo deny check bans licenses sources",
        cargo().args(["deny", "--locked", "check", "bans", "licenses", "sources"]),
    )?;
    say("==> all checks passed");
    Ok(())
}

/// Installs the pinned cargo-deny from crates.io when the machine lacks it, so `cargo xtask ci`
/// works on a fresh machine on its own.
fn ensure_cargo_deny() -> Result<(), String> {
    let present = cargo()
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    run_step(
        "cargo install cargo-deny (first run on this machine)",
        cargo().args(["install", "--locked", "cargo-deny@0.20.2"]),
    )
}
