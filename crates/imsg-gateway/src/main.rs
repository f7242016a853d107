//! The `imsg-gateway` binary. Its commands arrive with the gateway issue; today it only reports its version.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version" | "-V") => {
            #[expect(clippy::print_stdout, reason = "the version goes to stdout, as every CLI does")]
            {
                println!("imsg-gateway {}", env!("CARGO_PKG_VERSION"));
            }
            ExitCode::SUCCESS
        }
        _ => {
            #[expect(clippy::print_stderr, reason = "a usage error is reported on stderr")]
            {
                eprintln!("imsg-gateway: no commands yet; only --version is implemented");
            }
            ExitCode::from(2)
        }
    }
}
