//! The `imsg-gateway` binary. It is multi-call: started under the name `imsg` (the demo points
//! `cliPath` at a symlink of that name to this binary) it is the embedded imsg simulator.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    #[cfg(feature = "demo")]
    {
        let argv0 = std::env::args_os().next().unwrap_or_default();
        if std::path::Path::new(&argv0).file_name() == Some(std::ffi::OsStr::new("imsg")) {
            return imsg_sim::run(std::env::args_os().skip(1).collect());
        }
    }
    let cli = imsg_gateway::cli::Cli::parse();
    ExitCode::from(imsg_gateway::run_cli(cli))
}
