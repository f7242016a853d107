//! Merged raw values to resolved accounts: the section chosen (legacy keys moved in), the account list and
//! the default account, then for each account the merge, the defaults and the conversion into the types of
//! `imsg-target` and `imsg-policy`.

use std::collections::{BTreeMap, HashMap};

use imsg_policy::{AccessPolicy, DmPolicy, GroupPolicy, GroupRule, startup_warnings};
use imsg_target::{AllowEntry, Region, Target};

use crate::check::{check_duplicate_sources, parse_entries, region_of, validate_fields};
use crate::context::{Ctx, Scope, section_path};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::globals::{Globals, globals};
use crate::merge::{merge, migrate_legacy};
use crate::migrate::{migrate_require_mention, missing_section_warning};
use crate::raw::{AllowFromValue, RawAccount, RawFile, RawImessage};
use crate::resolved::{
    CatchupSettings, ChannelLimits, DEFAULT_ATTACHMENT_ROOT, Executable, ProcessSettings,
    ResolvedAccount, ResolvedConfig, minutes,
};
use crate::validate::{expand_tilde, normalize_account_id, normalize_root};

/// Resolves a parsed file: every account of the iMessage section, or none (with a warning) without one.
pub(crate) fn resolve(ctx: &Ctx<'_>, raw: RawFile) -> Result<ResolvedConfig, ConfigError> {
    let mut warnings = Vec::new();
    let channels = raw.channels.unwrap_or_default();
    let Some(section) = choose_section(ctx, channels.imessage, raw.imessage, &mut warnings) else {
        warnings.push(missing_section_warning(&ctx.index));
        return Ok(ResolvedConfig {
            accounts: Vec::new(),
            default_account: None,
            warnings,
        });
    };
    let section = migrate_require_mention(ctx, section, &raw.routing, &mut warnings);

    let globals = Globals {
        default_group_policy: channels.defaults.and_then(|d| d.group_policy).map(|p| p.0),
        ..globals(ctx, &raw.messages, &raw.agents, &raw.session, &raw.commands)?
    };

    let (base, accounts, default_key) = section.split();
    let top = Scope::top();
    validate_fields(ctx, &top, &base, &mut warnings)?;
    let listed = list_accounts(ctx, accounts.unwrap_or_default(), &mut warnings)?;
    let default_account = default_account(ctx, &listed, default_key)?;

    let mut resolved = Vec::with_capacity(listed.len());
    for listed in listed {
        let account = resolve_account(ctx, &globals, &base, listed)?;
        // A disabled account never runs, so its policy cannot surprise anyone.
        if account.enabled {
            let scope = account
                .key
                .as_deref()
                .map_or_else(Scope::top, Scope::account);
            warnings.extend(
                startup_warnings(&account.policy)
                    .into_iter()
                    .map(|w| ctx.warning(&scope.segments, w.to_string())),
            );
        }
        resolved.push(account);
    }
    check_duplicate_sources(ctx, &resolved)?;
    for w in &warnings {
        tracing::debug!(path = %w.path, "{}", w.message);
    }
    Ok(ResolvedConfig {
        accounts: resolved,
        default_account: Some(default_account),
        warnings,
    })
}

/// The section to resolve: `channels.imessage`, the legacy `imessage`, or both merged (current keys win).
fn choose_section(
    ctx: &Ctx<'_>,
    current: Option<RawImessage>,
    legacy: Option<RawImessage>,
    warnings: &mut Vec<crate::resolved::ConfigWarning>,
) -> Option<RawImessage> {
    let legacy_path = ["imessage".to_owned()];
    match (current, legacy) {
        (current, None) => current,
        (None, Some(legacy)) => {
            warnings.push(ctx.warning(
                &legacy_path,
                "imessage config moved to channels.imessage (auto-migrated on load)",
            ));
            Some(legacy)
        }
        (Some(current), Some(legacy)) => {
            warnings.push(ctx.warning(
                &legacy_path,
                "imessage config merged into channels.imessage (keys under channels.imessage win)",
            ));
            Some(migrate_legacy(current, legacy))
        }
    }
}

/// One account before resolution: its id, its key as written (`None` for the implicit `default`), and what
/// it sets.
struct Listed {
    id: String,
    key: Option<String>,
    raw: RawAccount,
}

/// The accounts sorted by id, each checked where written; the implicit `default` when none is configured.
fn list_accounts(
    ctx: &Ctx<'_>,
    accounts: BTreeMap<String, RawAccount>,
    warnings: &mut Vec<crate::resolved::ConfigWarning>,
) -> Result<Vec<Listed>, ConfigError> {
    let mut listed: Vec<Listed> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, account) in accounts {
        let scope = Scope::account(&key);
        if key.trim().is_empty() {
            return Err(ctx.error(&scope.segments, ConfigErrorKind::BlankAccountId));
        }
        let id = normalize_account_id(&key);
        if let Some(other) = seen.get(&id) {
            return Err(ctx.error(
                &scope.segments,
                ConfigErrorKind::DuplicateAccountId {
                    key: key.clone(),
                    other: other.clone(),
                    id,
                },
            ));
        }
        seen.insert(id.clone(), key.clone());
        validate_fields(ctx, &scope, &account, warnings)?;
        listed.push(Listed {
            id,
            key: Some(key),
            raw: account,
        });
    }
    if listed.is_empty() {
        listed.push(Listed {
            id: imsg_policy::DEFAULT_ACCOUNT_ID.to_owned(),
            key: None,
            raw: RawAccount::default(),
        });
    }
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(listed)
}

/// `defaultAccount` (which must name a listed account), else `default` if listed, else the first id.
fn default_account(
    ctx: &Ctx<'_>,
    listed: &[Listed],
    default_key: Option<String>,
) -> Result<String, ConfigError> {
    match default_key {
        Some(key) => {
            let id = normalize_account_id(&key);
            if !listed.iter().any(|l| l.id == id) {
                return Err(ctx.error(
                    &section_path(&["defaultAccount"]),
                    ConfigErrorKind::UnknownDefaultAccount(key),
                ));
            }
            Ok(id)
        }
        None => Ok(listed
            .iter()
            .find(|l| l.id == imsg_policy::DEFAULT_ACCOUNT_ID)
            .or_else(|| listed.first())
            .map(|l| l.id.clone())
            .unwrap_or_else(|| imsg_policy::DEFAULT_ACCOUNT_ID.to_owned())),
    }
}

/// The scope that supplied a merged field: the account when it set the field, else the section.
fn origin<'s, T>(account_value: &Option<T>, account: &'s Scope, top: &'s Scope) -> &'s Scope {
    if account_value.is_some() {
        account
    } else {
        top
    }
}

/// Where each merged field came from, for error paths.
struct Origins<'a> {
    /// What the account itself wrote.
    account: &'a RawAccount,
    /// The account's scope (the section for the implicit `default`).
    own: Scope,
    /// The section.
    top: Scope,
}

impl Origins<'_> {
    fn of<T>(&self, account_value: &Option<T>) -> &Scope {
        origin(account_value, &self.own, &self.top)
    }
}

fn resolve_account(
    ctx: &Ctx<'_>,
    globals: &Globals,
    base: &RawAccount,
    listed: Listed,
) -> Result<ResolvedAccount, ConfigError> {
    let Listed { id, key, raw } = listed;
    let origins = Origins {
        account: &raw,
        own: key.as_deref().map_or_else(Scope::top, Scope::account),
        top: Scope::top(),
    };
    let merged = merge(base, &raw);
    let region = region_of(ctx, origins.of(&raw.region), merged.region.as_deref())?;
    let policy = access_policy(ctx, globals, &origins, &merged, id.clone(), region)?;
    let configured = is_configured(&merged);
    Ok(ResolvedAccount {
        id,
        key,
        name: non_blank(merged.name.as_deref()),
        // The section's `enabled: false` switches every account off, whatever the account says.
        enabled: base.enabled != Some(false) && merged.enabled != Some(false),
        configured,
        policy,
        process: process_settings(ctx, &merged),
        limits: limits(globals, &merged),
        service: merged.service.map(Into::into).unwrap_or_default(),
        region,
        config_writes: merged.config_writes.unwrap_or(true),
        response_prefix: globals.response_prefix.clone(),
        dm_scope: globals.dm_scope,
        send_read_receipts: merged.send_read_receipts.unwrap_or(true),
        reaction_notifications: merged
            .reaction_notifications
            .map(Into::into)
            .unwrap_or_default(),
        catchup: catchup(&merged),
    })
}

/// The access policy: allowlists parsed with the account's region, defaults applied after the merge (so a
/// section-level policy reaches every account), and the `open`-needs-`*` rule on the effective `allowFrom`.
fn access_policy(
    ctx: &Ctx<'_>,
    globals: &Globals,
    origins: &Origins<'_>,
    merged: &RawAccount,
    id: String,
    region: Region,
) -> Result<AccessPolicy, ConfigError> {
    let account = origins.account;
    let allow_scope = origins.of(&account.allow_from);
    let allow_from = match &merged.allow_from {
        Some(list) => parse_entries(ctx, &allow_scope.field("allowFrom"), list, &region)?,
        None => Vec::new(),
    };
    let group_allow_from = match &merged.group_allow_from {
        Some(list) => Some(parse_entries(
            ctx,
            &origins
                .of(&account.group_allow_from)
                .field("groupAllowFrom"),
            list,
            &region,
        )?),
        None => None,
    };

    let dm_policy = merged.dm_policy.map(|p| p.0).unwrap_or_default();
    if dm_policy == DmPolicy::Open && !allow_from.contains(&AllowEntry::Wildcard) {
        let policy_scope = origins.of(&account.dm_policy);
        // The path of the missing `*`: where allowFrom was written, else where it should go.
        let (allow_path, err_path) = if merged.allow_from.is_some() {
            (allow_scope, allow_scope.field("allowFrom"))
        } else {
            (policy_scope, policy_scope.field(DmPolicy::KEY))
        };
        return Err(ctx.error(
            &err_path,
            ConfigErrorKind::OpenWithoutWildcard {
                policy_path: policy_scope.dotted(DmPolicy::KEY),
                allow_from_path: allow_path.dotted("allowFrom"),
            },
        ));
    }
    let group_policy: GroupPolicy = merged
        .group_policy
        .map(|p| p.0)
        .or(globals.default_group_policy)
        .unwrap_or_default();

    let groups_scope = origins.of(&account.groups);
    let mut groups = BTreeMap::new();
    for (group_key, group) in merged.groups.iter().flatten() {
        let allow = match &group.allow_from {
            Some(list) => {
                let mut path = groups_scope.field("groups");
                path.extend([group_key.clone(), "allowFrom".to_owned()]);
                Some(parse_entries(ctx, &path, list, &region)?)
            }
            None => None,
        };
        let rule = GroupRule {
            require_mention: group.require_mention,
            allow_from: allow,
            system_prompt: group.system_prompt.clone(),
        };
        groups.insert(group_key.clone(), rule);
    }

    // Checked where written, so an unparseable value never reaches this point.
    let default_to = merged
        .default_to
        .as_deref()
        .and_then(|t| non_blank(Some(t)))
        .and_then(|to| to.parse::<Target>().ok());

    let mut builder = AccessPolicy::builder(id)
        .dm_policy(dm_policy)
        .group_policy(group_policy)
        .allow_from(allow_from)
        .group_allow_from(group_allow_from)
        .groups(groups)
        .mention_patterns(globals.mention_patterns.clone())
        .commands(globals.commands)
        .region(region)
        .default_to(default_to);
    for (agent, patterns) in &globals.agent_patterns {
        builder = builder.agent_mention_patterns(agent.clone(), patterns.clone());
    }
    Ok(builder.build())
}

/// `cliPath` and `dbPath` resolved into what to start (`~` expanded once, here), plus the remote host and
/// the probe timeout.
fn process_settings(ctx: &Ctx<'_>, merged: &RawAccount) -> ProcessSettings {
    let home = ctx.options.home.as_deref();
    let defaults = ProcessSettings::default();
    ProcessSettings {
        cli_path: merged.cli_path.as_deref().map_or(defaults.cli_path, |cli| {
            Executable::resolve(cli.trim(), home)
        }),
        db_path: non_blank(merged.db_path.as_deref())
            .map(|db| std::path::PathBuf::from(expand_tilde(&db, home))),
        remote_host: non_blank(merged.remote_host.as_deref()),
        probe_timeout: merged
            .probe_timeout_ms
            .map_or(defaults.probe_timeout, |ms| {
                std::time::Duration::from_millis(ms.get())
            }),
    }
}

/// Chunking, media, history and attachment limits, with the defaults of [`ChannelLimits::default`].
fn limits(globals: &Globals, merged: &RawAccount) -> ChannelLimits {
    let defaults = ChannelLimits::default();
    let local_roots = dedup(
        merged
            .attachment_roots
            .iter()
            .flatten()
            .filter_map(|r| normalize_root(r))
            .chain([DEFAULT_ATTACHMENT_ROOT.to_owned()]),
    );
    let remote_roots = dedup(
        merged
            .remote_attachment_roots
            .iter()
            .flatten()
            .filter_map(|r| normalize_root(r))
            .chain(local_roots.iter().cloned()),
    );
    ChannelLimits {
        text_chunk_limit: merged
            .text_chunk_limit
            .map_or(defaults.text_chunk_limit, |n| n.get()),
        chunk_mode: merged.chunk_mode.map(Into::into).unwrap_or_default(),
        media_max_mb: merged
            .media_max_mb
            .map_or(defaults.media_max_mb, |n| n.get()),
        history_limit: merged
            .history_limit
            .or(globals.history_limit)
            .unwrap_or(defaults.history_limit),
        dm_history_limit: merged.dm_history_limit,
        dms: merged
            .dms
            .iter()
            .flatten()
            .map(|(peer, dm)| (peer.clone(), dm.history_limit))
            .collect(),
        include_attachments: merged.include_attachments.unwrap_or(false),
        attachment_roots: local_roots,
        remote_attachment_roots: remote_roots,
        markdown_tables: merged
            .markdown
            .as_ref()
            .and_then(|m| m.tables)
            .map(Into::into)
            .unwrap_or_default(),
        block_streaming: merged.block_streaming,
    }
}

/// `catchup`, per key; the ranges were checked where each key was written.
fn catchup(merged: &RawAccount) -> CatchupSettings {
    let defaults = CatchupSettings::default();
    let Some(raw) = &merged.catchup else {
        return defaults;
    };
    CatchupSettings {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        max_age: raw.max_age_minutes.map_or(defaults.max_age, minutes),
        per_run_limit: raw.per_run_limit.unwrap_or(defaults.per_run_limit),
        first_run_lookback: raw
            .first_run_lookback_minutes
            .map_or(defaults.first_run_lookback, minutes),
        max_failure_retries: raw
            .max_failure_retries
            .unwrap_or(defaults.max_failure_retries),
    }
}

/// The trimmed text, or `None` when absent or blank.
fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The "configured" rule of section 1.3 (anchor keys plus the newest `attachmentRoots`,
/// `remoteAttachmentRoots` and `sendTransport`), evaluated on the merged account before any default.
fn is_configured(merged: &RawAccount) -> bool {
    let non_blank = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let non_empty = |v: &Option<Vec<AllowFromValue>>| v.as_ref().is_some_and(|l| !l.is_empty());
    let roots = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|l| !l.is_empty());
    non_blank(&merged.cli_path)
        || non_blank(&merged.db_path)
        || non_blank(&merged.region)
        || merged.service.is_some()
        || non_empty(&merged.allow_from)
        || non_empty(&merged.group_allow_from)
        || merged.dm_policy.is_some()
        || merged.group_policy.is_some()
        || merged.include_attachments.is_some()
        || merged.media_max_mb.is_some()
        || merged.text_chunk_limit.is_some()
        || merged.groups.as_ref().is_some_and(|g| !g.is_empty())
        || roots(&merged.attachment_roots)
        || roots(&merged.remote_attachment_roots)
        || merged.send_transport.is_some()
}

/// Keeps the first occurrence of each value, in order.
fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}
