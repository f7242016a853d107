//! The `imsg-gateway` binary. Its commands arrive with the gateway issue; today it reports its version
//! and says plainly that the rest is not built yet.

use std::process::ExitCode;

/// sysexits `EX_UNAVAILABLE`: the requested service is not available (here: not built yet).
const EX_UNAVAILABLE: u8 = 69;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version" | "-V") => {
            #[expect(clippy::print_stdout, reason = "the version is the command's output")]
            {
                println!("imsg-gateway {}", env!("CARGO_PKG_VERSION"));
            }
            ExitCode::SUCCESS
        }
        Some("demo" | "run") => {
            say("imsg-gateway: the channel and the demo are not built yet; \
                 today the workspace provides the libraries (see README.md)");
            ExitCode::from(EX_UNAVAILABLE)
        }
        _ => {
            say("usage: imsg-gateway --version | demo | run  (only --version works today)");
            ExitCode::from(2)
        }
    }
}

fn say(msg: &str) {
    #[expect(
        clippy::print_stderr,
        reason = "diagnostics go to stderr; stdout is for data"
    )]
    {
        eprintln!("{msg}");
    }
}
