//! Per-group system prompts (`channels.imessage.groups.<key>.systemPrompt`), looked up per message.

use std::collections::BTreeMap;

use imsg_policy::AccessPolicy;

/// The key of the entry that applies to every group without its own.
const WILDCARD: &str = "*";

/// The `systemPrompt`s of one or more accounts' `groups` maps.
///
/// The lookup is the anchor's: the exact entry of the chat wins when it has a `systemPrompt`, even a blank
/// one (which then means "no group prompt"); otherwise the `*` entry's applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPrompts {
    /// account id -> groups key (a chat id, guid or identifier, or `*`) -> prompt.
    by_account: BTreeMap<String, BTreeMap<String, String>>,
}

impl GroupPrompts {
    /// No group prompts.
    pub fn new() -> GroupPrompts {
        GroupPrompts::default()
    }

    /// Adds `prompt` for the `groups` key `key` (a chat id, guid or identifier, or `*`) of `account_id`.
    #[must_use]
    pub fn with(
        mut self,
        account_id: impl Into<String>,
        key: impl Into<String>,
        prompt: impl Into<String>,
    ) -> GroupPrompts {
        self.by_account
            .entry(account_id.into())
            .or_default()
            .insert(key.into(), prompt.into());
        self
    }

    /// Adds every `systemPrompt` of an account's resolved `groups` map.
    #[must_use]
    pub fn with_policy(mut self, policy: &AccessPolicy) -> GroupPrompts {
        for (key, rule) in policy.groups() {
            if let Some(prompt) = &rule.system_prompt {
                self = self.with(policy.account_id(), key.clone(), prompt.clone());
            }
        }
        self
    }

    /// The prompt for a group of `account_id` known by `chat_id` and/or `chat_guid`; `None` when no entry
    /// applies or the applicable one is blank.
    pub fn lookup(
        &self,
        account_id: &str,
        chat_id: Option<i64>,
        chat_guid: Option<&str>,
    ) -> Option<&str> {
        let groups = self.by_account.get(account_id)?;
        let exact = chat_id
            .and_then(|id| groups.get(&id.to_string()))
            .or_else(|| chat_guid.and_then(|guid| groups.get(guid)));
        exact
            .or_else(|| groups.get(WILDCARD))
            .map(String::as_str)
            .filter(|p| !p.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_entry_wins_even_blank_else_wildcard() {
        let prompts = GroupPrompts::new()
            .with("default", "*", "be brief")
            .with("default", "42", "talk like a pirate")
            .with("default", "43", "   ")
            .with("default", "iMessage;+;chat7", "guid prompt");
        assert_eq!(
            prompts.lookup("default", Some(42), None),
            Some("talk like a pirate")
        );
        // A blank exact entry means "no group prompt", not "fall back to *".
        assert_eq!(prompts.lookup("default", Some(43), None), None);
        assert_eq!(prompts.lookup("default", Some(44), None), Some("be brief"));
        assert_eq!(
            prompts.lookup("default", Some(7), Some("iMessage;+;chat7")),
            Some("guid prompt")
        );
        assert_eq!(prompts.lookup("work", Some(42), None), None);
    }
}
