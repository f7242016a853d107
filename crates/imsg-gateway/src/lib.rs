//! The `imsg-gateway` binary as a library: the commands, config and state-dir discovery, logging
//! with masked handles, the live status files, and the few wiring points to the channel and the
//! agent. `main.rs` only parses the command line and calls [`run_cli`].

pub mod agent;
pub mod cli;
pub mod commands;
pub mod exit;
pub mod logging;
pub mod mask;
pub mod output;
pub mod paths;
pub mod status;
pub mod wiring;

use cli::{
    ChannelsCommand, Cli, Command, ConfigCommand, MessageCommand, PairingCommand, PolicyCommand,
    ServiceCommand,
};
use commands::Globals;
use exit::Failure;

/// Runs one parsed command line and returns the exit code. Errors are printed as one `error:`
/// line and one `hint:` line on stderr.
pub fn run_cli(cli: Cli) -> u8 {
    logging::init(cli.log_format, cli.verbose, cli.quiet);
    let globals = Globals {
        config: cli.config.clone(),
        state_dir: cli.state_dir.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::note(
                &Failure::other(format!("cannot start the async runtime: {e}")).to_string(),
            );
            return exit::OTHER;
        }
    };
    let result = runtime.block_on(dispatch(&globals, cli.command));
    // Children and tasks still running get a bounded moment, then the process ends.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(failure) => {
            output::note(&failure.to_string());
            failure.code
        }
    }
}

/// Calls the command.
async fn dispatch(globals: &Globals, command: Command) -> Result<u8, Failure> {
    match command {
        Command::Run(args) => commands::run::run(globals, &args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => commands::demo::run(&args).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo(_) => Err(Failure::new(
            exit::UNAVAILABLE,
            "this build has no demo (built without the `demo` feature)",
        )
        .hint("cargo run -p imsg-gateway -- demo builds it with the default features")),
        Command::Pairing(PairingCommand::List { account, json, .. }) => {
            commands::pairing::list(globals, account.as_deref(), json).await
        }
        Command::Pairing(PairingCommand::Approve {
            code,
            account,
            notify,
            json,
            ..
        }) => commands::pairing::approve(globals, &code, account.as_deref(), notify, json).await,
        Command::Channels(ChannelsCommand::Status { probe, json, .. }) => {
            commands::channels::status(globals, probe, json).await
        }
        Command::Message(MessageCommand::Send {
            to,
            account,
            file,
            service,
            dry_run,
            json,
            text,
        }) => {
            let args = commands::message::SendArgs {
                to,
                account,
                file,
                service,
                dry_run,
                json,
                text,
            };
            commands::message::send(globals, &args).await
        }
        Command::Config(ConfigCommand::Check { json }) => commands::config::check(globals, json),
        Command::Config(ConfigCommand::Show { account, .. }) => {
            commands::config::show(globals, account.as_deref())
        }
        Command::Config(ConfigCommand::Schema) => commands::config::schema(),
        Command::Policy(PolicyCommand::Explain(args)) => {
            commands::policy::explain(globals, &args).await
        }
        Command::Doctor(args) => commands::doctor::run(globals, &args).await,
        Command::Service(ServiceCommand::Print { kind }) => commands::service::print(globals, kind),
        Command::Completions(args) => commands::completions::print(args.shell),
    }
}
