//! `completions bash|zsh|fish`.

use clap::CommandFactory as _;

use crate::cli::{Cli, Shell};
use crate::exit::{Failure, OK};

/// Writes the completion script for `shell` to stdout.
///
/// # Errors
///
/// Exit 1 when stdout is closed.
pub fn print(shell: Shell) -> Result<u8, Failure> {
    let mut command = Cli::command();
    let mut buffer = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut command, "imsg-gateway", &mut buffer);
    let text = String::from_utf8_lossy(&buffer);
    crate::output::line(text.trim_end())?;
    Ok(OK)
}
