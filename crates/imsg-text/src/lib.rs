//! Outbound text for the iMessage channel: what a contact reads, made from what the agent wrote.
//!
//! The crate is pure (no I/O, no async runtime) and total (no input makes it panic or fail). Its
//! steps, each usable alone:
//!
//! - [`sanitize`] strips what a contact must never see (reply directives, media placeholders,
//!   leaked reasoning and tool-call markup outside code) and recognizes the silent tokens
//!   `NO_REPLY` and `HEARTBEAT_OK`.
//! - [`render`] turns the agent's markdown into readable plain text, tables per [`TableMode`].
//! - [`ResponsePrefix`] resolves `messages.responsePrefix` and applies it once.
//! - [`chunk`] cuts text into messages of at most [`TextOptions::limit`] characters per
//!   [`ChunkMode`], never inside a grapheme cluster, keeping code fences whole or closing and
//!   reopening them.
//!
//! [`prepare_reply`] runs them in the one order the channel uses. The rules are in `docs/text.md`.

mod chunk;
mod fence;
mod options;
mod prefix;
mod render;
mod sanitize;

pub use chunk::{ChunkSpan, chunk, chunk_spans};
pub use options::{ChunkMode, DEFAULT_TEXT_CHUNK_LIMIT, ParseModeError, TableMode, TextOptions};
pub use prefix::{PrefixContext, ResponsePrefix, apply_prefix};
pub use render::render;
pub use sanitize::{HEARTBEAT_TOKEN, SILENT_REPLY_TOKEN, Sanitized, Stripped, sanitize};

/// Turns one agent reply into the messages to send, in order; an empty `Vec` means send nothing.
///
/// The steps run in this order, each for a reason:
///
/// 1. [`sanitize`] the raw markdown, because the markup it removes (`<think>`, `[[reply_to:…]]`,
///    `<media:image>`) must be found before the markdown parser reads it as HTML or link syntax,
///    and because code spans and fences, which it leaves alone, are only visible in the markdown.
/// 2. A reply that was only a silent token (or nothing but stripped markup) sends nothing; the
///    prefix is never applied to it.
/// 3. [`render`] the markdown to plain text with `options.tables`.
/// 4. Apply `prefix` (already resolved with [`ResponsePrefix::resolve`]) to the rendered text,
///    so markdown rendering can never eat or reinterpret the prefix (`[bot]` would be link
///    syntax, `*bot*` emphasis), and so the "already starts with the prefix" check sees what the
///    contact sees. The prefix counts toward the first message's limit.
/// 5. [`chunk`] at `options.limit` in `options.chunk_mode`.
#[must_use]
pub fn prepare_reply(text: &str, options: &TextOptions, prefix: Option<&str>) -> Vec<String> {
    let clean = sanitize(text);
    if clean.silent || clean.text.trim().is_empty() {
        return Vec::new();
    }
    let rendered = render(&clean.text, options.tables);
    if rendered.trim().is_empty() {
        return Vec::new();
    }
    let prefixed = match prefix {
        Some(p) => apply_prefix(p, &rendered),
        None => rendered,
    };
    chunk(&prefixed, options)
}
