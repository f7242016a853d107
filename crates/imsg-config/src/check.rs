//! Checks of the values as written, at the level where they were written (the section or one account), so an
//! error points at the key the user must edit; and the one check across resolved accounts (two accounts on
//! one imsg source).

use std::collections::HashMap;
use std::path::Path;

use imsg_target::{AllowEntry, Region, Target};

use crate::context::{Ctx, Scope};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::raw::{AllowFromValue, RawAccount};
use crate::resolved::{CatchupSettings, ConfigWarning, Executable, ResolvedAccount};
use crate::validate::{is_safe_executable, is_safe_remote_host, normalize_root};

/// Checks the values written at one level (the section or one account) where they were written, so an error
/// points at the key the user must edit.
///
/// Allow entries that load but most likely admit nobody (a phone number inside an opaque handle) are
/// pushed to `warnings`, once per place they are written.
pub(crate) fn validate_fields(
    ctx: &Ctx<'_>,
    scope: &Scope,
    raw: &RawAccount,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    if let Some(cli) = &raw.cli_path
        && !is_safe_executable(cli)
    {
        return Err(ctx.error(
            &scope.field("cliPath"),
            ConfigErrorKind::UnsafeCliPath(cli.clone()),
        ));
    }
    // imsg gets `--db <dbPath>`, and behind an `ssh host imsg "$@"` wrapper the remote shell reads it again.
    if let Some(db) = &raw.db_path
        && !db.trim().is_empty()
        && !is_safe_executable(db)
    {
        return Err(ctx.error(
            &scope.field("dbPath"),
            ConfigErrorKind::UnsafeDbPath(db.clone()),
        ));
    }
    if let Some(host) = &raw.remote_host {
        let host = host.trim();
        if !host.is_empty() && !is_safe_remote_host(host) {
            return Err(ctx.error(
                &scope.field("remoteHost"),
                ConfigErrorKind::UnsafeRemoteHost(host.to_owned()),
            ));
        }
    }
    for name in ["attachmentRoots", "remoteAttachmentRoots"] {
        let roots = if name == "attachmentRoots" {
            &raw.attachment_roots
        } else {
            &raw.remote_attachment_roots
        };
        for (i, root) in roots.iter().flatten().enumerate() {
            if normalize_root(root).is_none() {
                return Err(ctx.error(
                    &scope.item(name, i),
                    ConfigErrorKind::InvalidAttachmentRoot(root.clone()),
                ));
            }
        }
    }
    let region = region_of(ctx, scope, raw.region.as_deref())?;
    // Allowlists are parsed with this level's region here, and again with the account's effective region
    // when they are inherited.
    let mut lists: Vec<(Vec<String>, &[AllowFromValue])> = Vec::new();
    if let Some(list) = &raw.allow_from {
        lists.push((scope.field("allowFrom"), list));
    }
    if let Some(list) = &raw.group_allow_from {
        lists.push((scope.field("groupAllowFrom"), list));
    }
    for (group_key, group) in raw.groups.iter().flatten() {
        if let Some(list) = &group.allow_from {
            let mut path = scope.field("groups");
            path.extend([group_key.clone(), "allowFrom".to_owned()]);
            lists.push((path, list));
        }
    }
    for (path, list) in lists {
        let entries = parse_entries(ctx, &path, list, &region)?;
        warn_opaque_phones(ctx, &path, list, &entries, &region, warnings);
    }
    check_catchup(ctx, scope, raw)?;
    if let Some(to) = raw
        .default_to
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        to.parse::<Target>().map_err(|err| {
            ctx.error(
                &scope.field("defaultTo"),
                ConfigErrorKind::InvalidTarget(err),
            )
        })?;
    }
    Ok(())
}

/// Warns about every handle entry of kind "other" with a full phone number inside (`whatsapp:+1555…`,
/// `Mom (415) 555-2671`): it loads, but admits only a sender whose handle is exactly that text.
fn warn_opaque_phones(
    ctx: &Ctx<'_>,
    path: &[String],
    list: &[AllowFromValue],
    entries: &[AllowEntry],
    region: &Region,
    warnings: &mut Vec<ConfigWarning>,
) {
    for (i, (written, entry)) in list.iter().zip(entries).enumerate() {
        let AllowEntry::Handle { handle, .. } = entry else {
            continue;
        };
        let Some(phone) = handle.embedded_phone(region) else {
            continue;
        };
        let mut segments = path.to_vec();
        segments.push(i.to_string());
        warnings.push(ctx.warning(
            &segments,
            format!(
                "allow entry `{}` is not a phone number, email or chat target, so it admits only a \
                 sender with exactly that handle; write `{phone}` to admit that phone number",
                written.0.trim()
            ),
        ));
    }
}

/// The `catchup` limits: each number in its range, reported at the key that was written.
fn check_catchup(ctx: &Ctx<'_>, scope: &Scope, raw: &RawAccount) -> Result<(), ConfigError> {
    let Some(catchup) = &raw.catchup else {
        return Ok(());
    };
    let limits = [
        (
            "maxAgeMinutes",
            catchup.max_age_minutes,
            CatchupSettings::MAX_AGE_MINUTES.1,
        ),
        (
            "perRunLimit",
            catchup.per_run_limit,
            CatchupSettings::PER_RUN_LIMIT.1,
        ),
        (
            "firstRunLookbackMinutes",
            catchup.first_run_lookback_minutes,
            CatchupSettings::FIRST_RUN_LOOKBACK_MINUTES.1,
        ),
        (
            "maxFailureRetries",
            catchup.max_failure_retries,
            CatchupSettings::MAX_FAILURE_RETRIES.1,
        ),
    ];
    for (key, value, range) in limits {
        if let Some(value) = value
            && !range.contains(&value)
        {
            let mut path = scope.field("catchup");
            path.push(key.to_owned());
            return Err(ctx.error(
                &path,
                ConfigErrorKind::OutOfRange {
                    value,
                    min: *range.start(),
                    max: *range.end(),
                },
            ));
        }
    }
    Ok(())
}

pub(crate) fn region_of(
    ctx: &Ctx<'_>,
    scope: &Scope,
    raw: Option<&str>,
) -> Result<Region, ConfigError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(Region::default()),
        Some(code) => Region::new(code)
            .map_err(|err| ctx.error(&scope.field("region"), ConfigErrorKind::InvalidRegion(err))),
    }
}

pub(crate) fn parse_entries(
    ctx: &Ctx<'_>,
    path: &[String],
    list: &[AllowFromValue],
    region: &Region,
) -> Result<Vec<AllowEntry>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, value)| {
            let mut segments = path.to_vec();
            segments.push(i.to_string());
            // A number written `+4930123456` reaches us as its digits; put the `+` back, or the digits
            // would be read as a national number of the region (another person).
            let plus;
            let text = if ctx.index.is_plus_number(&ctx.written(&segments), &value.0) {
                plus = format!("+{}", value.0);
                plus.as_str()
            } else {
                value.0.as_str()
            };
            AllowEntry::parse(text, region)
                .map_err(|err| ctx.error(&segments, ConfigErrorKind::InvalidAllowEntry(err)))
        })
        .collect()
}

/// Two enabled accounts reading the same `(cliPath, dbPath)` would each receive every message; refuse that.
pub(crate) fn check_duplicate_sources(
    ctx: &Ctx<'_>,
    accounts: &[ResolvedAccount],
) -> Result<(), ConfigError> {
    let mut seen: HashMap<(&Executable, Option<&Path>), &ResolvedAccount> = HashMap::new();
    for account in accounts.iter().filter(|a| a.enabled) {
        let source = (
            &account.process.cli_path,
            account.process.db_path.as_deref(),
        );
        if let Some(other) = seen.get(&source) {
            let scope = account
                .key
                .as_deref()
                .map_or_else(Scope::top, Scope::account);
            return Err(ctx.error(
                &scope.segments,
                ConfigErrorKind::DuplicateAccountSource {
                    account: account.id.clone(),
                    other: other.id.clone(),
                    cli_path: account.process.cli_path.to_string(),
                    db_path: account
                        .process
                        .db_path
                        .as_ref()
                        .map(|p| p.display().to_string()),
                },
            ));
        }
        seen.insert(source, account);
    }
    Ok(())
}
