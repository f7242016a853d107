//! Logging to stderr: human lines on a terminal, JSON lines otherwise or with `--log-format json`.
//!
//! The level is `info` by default, `-v` gives debug (handles and bodies shown), `-vv` trace, `-q`
//! warnings only, `-qq` errors only; `IMSG_GATEWAY_LOG` or `RUST_LOG` override it with an
//! `EnvFilter` directive.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The log format the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human lines on a terminal, JSON lines otherwise.
    Auto,
    /// Human lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The default level for a `-v`/`-q` balance.
fn level(verbose: u8, quiet: u8) -> &'static str {
    match i16::from(verbose) - i16::from(quiet) {
        i16::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    }
}

/// Installs the global subscriber. Safe to call once; a second call is ignored.
pub fn init(format: LogFormat, verbose: u8, quiet: u8) {
    let directive = std::env::var("IMSG_GATEWAY_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|v| !v.trim().is_empty());
    let filter = match directive {
        Some(d) => EnvFilter::try_new(&d).unwrap_or_else(|_| EnvFilter::new(level(verbose, quiet))),
        None => EnvFilter::new(level(verbose, quiet)),
    };
    let stderr_tty = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !stderr_tty,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        // tracing-subscriber colours even a pipe; honour the terminal and NO_COLOR ourselves.
        let ansi = stderr_tty && std::env::var_os("NO_COLOR").is_none();
        builder.with_ansi(ansi).with_target(false).try_init()
    };
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn verbose_and_quiet_balance() {
        assert_eq!(level(0, 0), "info");
        assert_eq!(level(1, 0), "debug");
        assert_eq!(level(3, 0), "trace");
        assert_eq!(level(0, 1), "warn");
        assert_eq!(level(0, 5), "error");
        assert_eq!(level(1, 1), "info");
    }
}
