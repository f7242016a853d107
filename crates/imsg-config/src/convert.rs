//! Raw values to domain values: one `From` impl per setting whose spelling lives in this crate.
//!
//! The policy vocabulary (`dmPolicy`, `groupPolicy`) needs none: the raw layer reads it with the spellings of
//! `imsg-policy` directly (see `raw::Word`).

use imsg_policy::CommandSettings;
use imsg_target::Service;

use crate::raw::{
    RawChunkMode, RawCommands, RawDmScope, RawReactionNotifications, RawService, RawTableMode,
};
use crate::resolved::{ChunkMode, DmScope, ReactionNotifications, TableMode};

impl From<RawService> for Service {
    fn from(raw: RawService) -> Service {
        match raw {
            RawService::Imessage => Service::Imessage,
            RawService::Sms => Service::Sms,
            RawService::Auto => Service::Auto,
        }
    }
}

impl From<RawChunkMode> for ChunkMode {
    fn from(raw: RawChunkMode) -> ChunkMode {
        match raw {
            RawChunkMode::Length => ChunkMode::Length,
            RawChunkMode::Newline => ChunkMode::Newline,
        }
    }
}

impl From<RawTableMode> for TableMode {
    fn from(raw: RawTableMode) -> TableMode {
        match raw {
            RawTableMode::Off => TableMode::Off,
            RawTableMode::Bullets => TableMode::Bullets,
            RawTableMode::Code => TableMode::Code,
        }
    }
}

impl From<RawReactionNotifications> for ReactionNotifications {
    fn from(raw: RawReactionNotifications) -> ReactionNotifications {
        match raw {
            RawReactionNotifications::Off => ReactionNotifications::Off,
            RawReactionNotifications::Own => ReactionNotifications::Own,
            RawReactionNotifications::All => ReactionNotifications::All,
        }
    }
}

impl From<RawDmScope> for DmScope {
    fn from(raw: RawDmScope) -> DmScope {
        match raw {
            RawDmScope::Main => DmScope::Main,
            RawDmScope::PerPeer => DmScope::PerPeer,
            RawDmScope::PerChannelPeer => DmScope::PerChannelPeer,
            RawDmScope::PerAccountChannelPeer => DmScope::PerAccountChannelPeer,
        }
    }
}

/// `commands.*`, each switch defaulting to [`CommandSettings::default`].
impl From<&RawCommands> for CommandSettings {
    fn from(raw: &RawCommands) -> CommandSettings {
        let defaults = CommandSettings::default();
        CommandSettings {
            use_access_groups: raw.use_access_groups.unwrap_or(defaults.use_access_groups),
            config: raw.config.unwrap_or(defaults.config),
            debug: raw.debug.unwrap_or(defaults.debug),
            bash: raw.bash.unwrap_or(defaults.bash),
        }
    }
}
