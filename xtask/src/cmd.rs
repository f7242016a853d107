//! Small helpers to run cargo and report progress; xtask stays std-only apart from serde_json.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Prints a line for the person running xtask; xtask is a terminal tool, so stderr is its voice.
pub(crate) fn say(msg: &str) {
    #[expect(
        clippy::print_stderr,
        reason = "xtask reports progress to the terminal"
    )]
    {
        eprintln!("{msg}");
    }
}

/// The workspace root: xtask lives one folder below it.
pub(crate) fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map_or_else(|| here.to_path_buf(), Path::to_path_buf)
}

/// A `cargo` command run from the workspace root, using the same cargo that runs xtask.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    cmd
}

/// Runs a command to completion, failing with its description when it does not exit 0.
pub(crate) fn run_step(name: &str, cmd: &mut Command) -> Result<(), String> {
    say(&format!("==> {name}"));
    let status = cmd
        .status()
        .map_err(|err| format!("{name}: could not start: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name}: failed ({status})"))
    }
}

/// Runs a command and returns its stdout, failing when it does not exit 0.
pub(crate) fn capture(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|err| format!("could not start {cmd:?}: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|err| format!("{cmd:?} printed invalid UTF-8: {err}"))
}
