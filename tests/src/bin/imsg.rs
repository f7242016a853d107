//! The simulator under the binary name `imsg`: end-to-end tests spawn it as a gateway spawns imsg.

fn main() -> std::process::ExitCode {
    imsg_sim::run(std::env::args_os().skip(1).collect())
}
