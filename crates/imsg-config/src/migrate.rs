//! Moving what older files wrote elsewhere into `channels.imessage`: the legacy top-level `imessage` section
//! and `routing.groupChat.requireMention`, and the warning for a file without the section.

use std::collections::BTreeMap;

use crate::context::{Ctx, warning};
use crate::locate::KeyIndex;
use crate::raw::{RawGroup, RawImessage};
use crate::resolved::ConfigWarning;
use crate::validate::suggest;

/// The warning for a file without an iMessage section, naming a near-miss key when one was written.
///
/// A section under `channels.imesage` or `channels.iMessage` is ignored like any other channel's, so the
/// gateway would start with no accounts and the owner would not know why.
pub(crate) fn missing_section_warning(index: &KeyIndex) -> ConfigWarning {
    const MISSING: &str = "channels.imessage is missing, so the iMessage channel has no accounts";
    let near_miss = |key: &str| {
        key != "imessage"
            && (key.eq_ignore_ascii_case("imsg") || suggest(key, &["imessage"]).is_some())
    };
    let channels = index
        .children(&["channels".to_owned()])
        .into_iter()
        .find(|k| near_miss(k))
        .map(|k| vec!["channels".to_owned(), k.to_owned()]);
    let top = || {
        index
            .children(&[])
            .into_iter()
            .find(|k| near_miss(k))
            .map(|k| vec![k.to_owned()])
    };
    match channels.or_else(top) {
        Some(written) => {
            let shown = written.join(".");
            warning(
                index,
                &written,
                format!("{MISSING}; did you mean `channels.imessage` instead of `{shown}`?"),
            )
        }
        None => warning(
            index,
            &["channels".to_owned(), "imessage".to_owned()],
            MISSING,
        ),
    }
}

/// Legacy `routing.groupChat.requireMention` becomes `groups."*".requireMention` unless that is already set.
pub(crate) fn migrate_require_mention(
    ctx: &Ctx<'_>,
    section: RawImessage,
    routing: &Option<crate::raw::RawRouting>,
    warnings: &mut Vec<ConfigWarning>,
) -> RawImessage {
    let Some(require) = routing
        .as_ref()
        .and_then(|r| r.group_chat.as_ref())
        .and_then(|g| g.require_mention)
    else {
        return section;
    };
    let (mut base, accounts, default_account) = section.split();
    let groups = base.groups.get_or_insert_with(BTreeMap::new);
    let wildcard = groups
        .entry("*".to_owned())
        .or_insert_with(RawGroup::default);
    if wildcard.require_mention.is_none() {
        wildcard.require_mention = Some(require);
        warnings.push(ctx.warning(
            &["routing", "groupChat", "requireMention"].map(str::to_owned),
            "routing.groupChat.requireMention moved to channels.imessage.groups.\"*\".requireMention",
        ));
    }
    RawImessage::from_parts(base, accounts, default_account)
}
