//! `messages.responsePrefix`: a fixed or templated text put in front of every reply, once.

use crate::fence::find_fences;
use crate::sanitize::is_silent_text;

/// The values a prefix template may name, for one reply. Absent values leave the placeholder as
/// written, as the anchor does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixContext<'a> {
    /// The short model name (`claude-opus-4`); derived from `model_full` when absent.
    pub model: Option<&'a str>,
    /// The full model reference (`anthropic/claude-opus-4`).
    pub model_full: Option<&'a str>,
    /// The provider (`anthropic`); derived from `model_full` when absent.
    pub provider: Option<&'a str>,
    /// The thinking level of the run (`low`, `high`, ...).
    pub thinking_level: Option<&'a str>,
    /// The agent's identity name (`agents.list[].identity.name`).
    pub identity_name: Option<&'a str>,
}

/// A configured `messages.responsePrefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePrefix {
    template: String,
}

impl ResponsePrefix {
    /// The prefix configured as `value`; `None` when it is blank (no prefix).
    #[must_use]
    pub fn new(value: &str) -> Option<Self> {
        let template = value.trim();
        (!template.is_empty()).then(|| Self {
            template: template.to_owned(),
        })
    }

    /// The configured text, as given (trimmed).
    #[must_use]
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The prefix for one reply, or `None` when there is none (`auto` without an identity name,
    /// or a template that resolves to blank).
    ///
    /// `auto` (any case) is `[<identity name>]`. Any other value is a template: `{model}`,
    /// `{modelFull}`, `{provider}`, `{thinkingLevel}` or `{think}`, `{identity.name}` or
    /// `{identityName}` (names compared case-insensitively) are replaced when the context has a
    /// value; every other brace text stays as written.
    #[must_use]
    pub fn resolve(&self, cx: &PrefixContext<'_>) -> Option<String> {
        if self.template.eq_ignore_ascii_case("auto") {
            let name = cx.identity_name.map(str::trim).filter(|n| !n.is_empty())?;
            return Some(format!("[{name}]"));
        }
        let out = fill(&self.template, cx);
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_owned())
    }
}

fn non_blank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn value<'a>(name: &str, cx: &PrefixContext<'a>) -> Option<&'a str> {
    let full = non_blank(cx.model_full);
    match name.to_ascii_lowercase().as_str() {
        "model" => non_blank(cx.model).or_else(|| full.map(|f| f.rsplit('/').next().unwrap_or(f))),
        "modelfull" => full.or_else(|| non_blank(cx.model)),
        "provider" => {
            non_blank(cx.provider).or_else(|| full.and_then(|f| f.split_once('/').map(|(p, _)| p)))
        }
        "thinkinglevel" | "think" => non_blank(cx.thinking_level),
        "identity.name" | "identityname" => non_blank(cx.identity_name),
        _ => None,
    }
}

/// Replaces each `{name}` the context knows; leaves the rest literally.
fn fill(template: &str, cx: &PrefixContext<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let name = close.map(|c| &after[..c]);
        match name.and_then(|n| {
            let ok = !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if ok { value(n, cx) } else { None }
        }) {
            Some(v) => {
                out.push_str(v);
                rest = &after[close.unwrap_or(0) + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Puts a resolved prefix in front of `text`: `<prefix> <text>`, or `<prefix>` on its own line
/// when the text opens with a code fence (so the fence still opens a line).
///
/// Not applied when the prefix is blank, when the text already starts with it (a reply that
/// already carries it is never prefixed twice) or when the text is a silent token.
#[must_use]
pub fn apply_prefix(prefix: &str, text: &str) -> String {
    let prefix = prefix.trim();
    let body = text.trim_start();
    if prefix.is_empty() || body.starts_with(prefix) || is_silent_text(body) {
        return text.to_owned();
    }
    let opens_with_fence = find_fences(body).first().is_some_and(|f| f.open_start == 0);
    let sep = if opens_with_fence || body.is_empty() {
        "\n"
    } else {
        " "
    };
    format!("{prefix}{sep}{body}")
}

#[cfg(test)]
mod tests {
    //! The template rules of spec 5.3 and the cases where the prefix must not be applied.

    use super::*;

    fn cx() -> PrefixContext<'static> {
        PrefixContext {
            model: None,
            model_full: Some("anthropic/claude-opus-4"),
            provider: None,
            thinking_level: Some("high"),
            identity_name: Some("Clawd"),
        }
    }

    fn resolve(t: &str, cx: &PrefixContext<'_>) -> Option<String> {
        ResponsePrefix::new(t).and_then(|p| p.resolve(cx))
    }

    #[test]
    fn templates() {
        let c = cx();
        assert_eq!(resolve("PFX", &c).as_deref(), Some("PFX"));
        assert_eq!(
            resolve("[{model}|{provider}|{modelFull}]", &c).as_deref(),
            Some("[claude-opus-4|anthropic|anthropic/claude-opus-4]")
        );
        assert_eq!(
            resolve("{THINK}/{thinkingLevel} {Identity.Name} {identityname}", &c).as_deref(),
            Some("high/high Clawd Clawd")
        );
        assert_eq!(
            resolve("{unknown} {model", &c).as_deref(),
            Some("{unknown} {model")
        );
        let empty = PrefixContext::default();
        assert_eq!(resolve("[{model}]", &empty).as_deref(), Some("[{model}]"));
        assert_eq!(resolve("   ", &c), None);
    }

    #[test]
    fn auto_uses_the_identity_name() {
        assert_eq!(resolve("auto", &cx()).as_deref(), Some("[Clawd]"));
        assert_eq!(resolve("AUTO", &cx()).as_deref(), Some("[Clawd]"));
        assert_eq!(resolve("auto", &PrefixContext::default()), None);
    }

    #[test]
    fn applied_once_and_never_to_silence() {
        assert_eq!(apply_prefix("PFX", "final reply"), "PFX final reply");
        assert_eq!(apply_prefix("PFX", "PFX final reply"), "PFX final reply");
        assert_eq!(apply_prefix("PFX", "HEARTBEAT_OK"), "HEARTBEAT_OK");
        assert_eq!(apply_prefix("PFX", "NO_REPLY"), "NO_REPLY");
        assert_eq!(
            apply_prefix("[Clawd]", "```\ncode\n```"),
            "[Clawd]\n```\ncode\n```"
        );
        assert_eq!(apply_prefix("", "text"), "text");
    }
}
