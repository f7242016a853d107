//! The `imsg-sim` binary: a thin shell around [`imsg_sim::run`].

fn main() -> std::process::ExitCode {
    imsg_sim::run(std::env::args_os().skip(1).collect())
}
