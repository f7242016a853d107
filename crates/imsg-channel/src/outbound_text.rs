//! The outbound text step: one account's limits applied to a reply through `imsg-text`.
//!
//! Every text a contact reads passes through [`prepare_reply`], whether the agent wrote it or the
//! owner sent it with `message send`, so a dry run shows exactly the bubbles the channel sends.

use imsg_config::{ChannelLimits, ChunkMode, TableMode};

/// The `imsg-text` options for one account's limits.
///
/// The config crate keeps its own `ChunkMode` and `TableMode` (they are part of the resolved
/// account), so they are mapped here, in the one place that joins the two crates.
pub fn text_options(limits: &ChannelLimits) -> imsg_text::TextOptions {
    imsg_text::TextOptions {
        // A limit past `usize` cannot be reached by any text; saturate rather than wrap.
        limit: usize::try_from(limits.text_chunk_limit).unwrap_or(usize::MAX),
        chunk_mode: match limits.chunk_mode {
            ChunkMode::Newline => imsg_text::ChunkMode::Newline,
            _ => imsg_text::ChunkMode::Length,
        },
        tables: match limits.markdown_tables {
            TableMode::Off => imsg_text::TableMode::Off,
            TableMode::Bullets => imsg_text::TableMode::Bullets,
            _ => imsg_text::TableMode::Code,
        },
    }
}

/// The messages to send for `text` under `limits`, in order: sanitized, rendered from markdown to
/// plain text, prefixed with `prefix` (already resolved), and chunked. Empty means send nothing
/// (a silent token, or nothing left after stripping what a contact must never see).
pub fn prepare_reply(text: &str, limits: &ChannelLimits, prefix: Option<&str>) -> Vec<String> {
    imsg_text::prepare_reply(text, &text_options(limits), prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(limit: u64, mode: ChunkMode) -> ChannelLimits {
        let mut limits = ChannelLimits::default();
        limits.text_chunk_limit = limit;
        limits.chunk_mode = mode;
        limits
    }

    #[test]
    fn markdown_is_rendered_before_it_is_sent() {
        let out = prepare_reply("**hi** there", &limits(4000, ChunkMode::Length), None);
        assert_eq!(out, vec!["hi there".to_owned()]);
    }

    #[test]
    fn the_account_limit_and_mode_apply() {
        // Length mode breaks at the last whitespace inside the window, as the anchor does.
        let out = prepare_reply("aaa bbb ccc", &limits(7, ChunkMode::Length), None);
        assert_eq!(out, vec!["aaa".to_owned(), "bbb ccc".to_owned()]);
        let out = prepare_reply("one\n\ntwo", &limits(100, ChunkMode::Newline), None);
        assert_eq!(out, vec!["one".to_owned(), "two".to_owned()]);
    }

    #[test]
    fn a_silent_token_sends_nothing_and_gets_no_prefix() {
        assert!(prepare_reply("NO_REPLY", &ChannelLimits::default(), Some("[bot]")).is_empty());
        assert_eq!(
            prepare_reply("hello", &ChannelLimits::default(), Some("[bot]")),
            vec!["[bot] hello".to_owned()]
        );
    }
}
