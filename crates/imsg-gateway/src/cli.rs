//! The command line, as clap derive types. `docs/cli.md` documents every command with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::LogFormat;
use crate::paths::{CONFIG_ENV, STATE_DIR_ENV};

/// Runs iMessage channels for an agent: pairing, allowlists, groups, replies to the right chat.
#[derive(Debug, Parser)]
#[command(
    name = "imsg-gateway",
    version,
    propagate_version = true,
    after_help = "Examples:\n  imsg-gateway demo\n  imsg-gateway --config ~/.openclaw/openclaw.json run\n  imsg-gateway policy explain --from +15555550123\n  imsg-gateway pairing approve imessage ABCD2345"
)]
pub struct Cli {
    /// The config file (JSON5; an OpenClaw file works as it is) [default: ~/.imsg-gateway/config.json5].
    #[arg(long, global = true, env = CONFIG_ENV, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The state directory (pairing, cursors, status) [default: ~/.imsg-gateway].
    #[arg(long, global = true, env = STATE_DIR_ENV, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// More log output (-v debug, shows handles and bodies; -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output (-q warnings, -qq errors).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every enabled account until SIGINT or SIGTERM (SIGHUP reloads the config).
    Run(RunArgs),
    /// Play a scripted conversation through the gateway and an embedded imsg simulator.
    Demo(DemoArgs),
    /// Pending pairing requests and their approval.
    #[command(subcommand)]
    Pairing(PairingCommand),
    /// The state of each account.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Send a message.
    #[command(subcommand)]
    Message(MessageCommand),
    /// Check, show and describe the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Explain the access policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Check the installation step by step and say how to fix what fails.
    Doctor(DoctorArgs),
    /// Service files for launchd and systemd.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Shell completions.
    Completions(CompletionsArgs),
}

/// The only channel this gateway serves, named as OpenClaw's CLI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelName {
    /// iMessage (and SMS through it).
    Imessage,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How long to let in-flight replies finish on shutdown, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub drain_timeout: u64,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the transcript as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Keep the demo's temporary directory (chat.db, config, state) and print where it is.
    #[arg(long)]
    pub keep: bool,
}

/// `pairing ...`.
#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// Pending pairing requests.
    #[command(after_help = "Example:\n  imsg-gateway pairing list imessage --json")]
    List {
        /// The channel.
        channel: ChannelName,
        /// The account [default: the default account].
        #[arg(long)]
        account: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending request by its code.
    #[command(after_help = "Example:\n  imsg-gateway pairing approve imessage ABCD2345 --notify")]
    Approve {
        /// The channel.
        channel: ChannelName,
        /// The code the sender received.
        code: String,
        /// The account [default: the default account].
        #[arg(long)]
        account: Option<String>,
        /// Tell the approved sender (needs imsg).
        #[arg(long)]
        notify: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `channels ...`.
#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Per account: enabled, configured, live state as the running gateway sees it.
    #[command(after_help = "Example:\n  imsg-gateway channels status --probe --json")]
    Status {
        /// Also probe each enabled account (rpc support, a round trip, Full Disk Access).
        #[arg(long)]
        probe: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// The channel (only imessage).
        #[arg(long, value_enum)]
        channel: Option<ChannelName>,
    },
}

/// The `--service` of `message send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceArg {
    /// As the target says (a bare handle lets imsg choose).
    Auto,
    /// iMessage.
    Imessage,
    /// SMS.
    Sms,
}

/// `message ...`.
#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Send a message through the outbound check, rendering and chunking.
    #[command(
        after_help = "Examples:\n  imsg-gateway message send --to +15555550123 'hello'\n  imsg-gateway message send --to chat_id:42 --dry-run --json 'hello'"
    )]
    Send {
        /// The target: a handle (`+1555…`, `sms:+1555…`, an email) or `chat_id:N`, `chat_guid:G`, `chat_identifier:I`.
        #[arg(long)]
        to: String,
        /// The account [default: the default account].
        #[arg(long)]
        account: Option<String>,
        /// A local file to attach.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// The service for a handle target.
        #[arg(long, value_enum, default_value_t = ServiceArg::Auto)]
        service: ServiceArg,
        /// Check and chunk, print what would be sent, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// The text.
        text: String,
    },
}

/// `config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the file and list its startup warnings with path and line.
    Check {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The resolved account after merging, secrets masked.
    Show {
        /// The account [default: every account].
        #[arg(long)]
        account: Option<String>,
        /// JSON output (the only format).
        #[arg(long)]
        json: bool,
    },
    /// The JSON Schema of the iMessage section.
    Schema,
}

/// The service of `policy explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InboundService {
    /// iMessage.
    Imessage,
    /// SMS.
    Sms,
}

/// `policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Why a message would be dispatched, answered with a pairing code, or dropped.
    Explain(ExplainArgs),
}

/// `policy explain`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  imsg-gateway policy explain --from +15555550123\n  imsg-gateway policy explain --from +15555550123 --chat-id 42 --group --text '@bot hi' --json"
)]
pub struct ExplainArgs {
    /// The account [default: the default account].
    #[arg(long)]
    pub account: Option<String>,
    /// The sender handle as imsg reports it.
    #[arg(long)]
    pub from: String,
    /// The chat row id.
    #[arg(long, group = "chat")]
    pub chat_id: Option<i64>,
    /// The chat guid (`iMessage;-;+1555…`, `SMS;-;…`, `iMessage;+;chat…`).
    #[arg(long, group = "chat")]
    pub chat_guid: Option<String>,
    /// The chat identifier.
    #[arg(long, group = "chat")]
    pub chat_identifier: Option<String>,
    /// The chat is a group.
    #[arg(long)]
    pub group: bool,
    /// The service the message came over.
    #[arg(long, value_enum)]
    pub service: Option<InboundService>,
    /// The text [default: `hello`].
    #[arg(long, default_value = "hello")]
    pub text: String,
    /// The agent the message is routed to (for per-agent mention patterns).
    #[arg(long)]
    pub agent: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The account [default: every enabled account].
    #[arg(long)]
    pub account: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// The kind of service file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
    /// A LaunchAgent plist (macOS, GUI session).
    Launchd,
    /// A systemd user unit.
    Systemd,
}

/// `service ...`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Print the service file for this binary and config.
    #[command(
        after_help = "Examples:\n  imsg-gateway service print launchd > ~/Library/LaunchAgents/dev.imsg-gateway.plist\n  imsg-gateway service print systemd > ~/.config/systemd/user/imsg-gateway.service"
    )]
    Print {
        /// launchd or systemd.
        kind: ServiceKind,
    },
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: Shell,
}

/// The shells completions are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}
