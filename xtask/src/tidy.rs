//! `cargo xtask tidy`: repository rules checked by machine, also run as tests so nextest enforces them.
//!
//! The rules: every Rust file opens with a `//!` line; the crate layering of docs/ARCHITECTURE.md holds for
//! normal, build and dev-dependencies (checked on cargo's own dependency graph); the pure crates never reach
//! the crates that would make them impure; only a short list of places starts processes; no tracked file
//! names an absolute path of somebody's machine; `rust-version` is the toolchain CI tests; no stubs or skipped
//! tests; every crate has a README. Each rule is a pure function over text, so its tests feed it bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::{capture, cargo, say, workspace_root};

/// How one workspace-internal edge may appear in a package's manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allow {
    /// As a normal, build or dev-dependency.
    Any,
    /// Only as an optional dependency that this feature of the depending package turns on (dev use is fine).
    Feature(&'static str),
}

/// The workspace-internal edges each package may have, among normal, build and dev-dependencies alike.
/// Anything not listed here is a change of the architecture and must be made here, on purpose, together with
/// docs/ARCHITECTURE.md.
const ALLOWED_EDGES: &[(&str, &[(&str, Allow)])] = &[
    ("imsg-target", &[]),
    ("imsg-text", &[]),
    ("imsg-policy", &[("imsg-target", Allow::Any)]),
    (
        "imsg-config",
        &[
            ("imsg-policy", Allow::Any),
            ("imsg-target", Allow::Any),
            ("imsg-text", Allow::Any),
        ],
    ),
    ("imsg-rpc", &[]),
    ("imsg-sim", &[]),
    (
        "imsg-channel",
        &[
            ("imsg-target", Allow::Any),
            ("imsg-policy", Allow::Any),
            ("imsg-config", Allow::Any),
            ("imsg-rpc", Allow::Any),
            ("imsg-text", Allow::Any),
        ],
    ),
    // The binary wires the channel to a loaded configuration. Its command-line tools (pairing approval,
    // `config check`) name accounts and handles, hence policy and target. `doctor`, `channels status
    // --probe` and the start-up check of `run` probe imsg step by step, hence imsg-rpc (its probe
    // functions only). The text rules stay behind the channel. The demo embeds the simulator, only
    // behind the `demo` feature.
    (
        "imsg-gateway",
        &[
            ("imsg-channel", Allow::Any),
            ("imsg-config", Allow::Any),
            ("imsg-policy", Allow::Any),
            ("imsg-target", Allow::Any),
            ("imsg-rpc", Allow::Any),
            ("imsg-sim", Allow::Feature("demo")),
        ],
    ),
    // The end-to-end package wraps the simulator as a binary and drives every layer.
    (
        "imsg-tests",
        &[
            ("imsg-sim", Allow::Any),
            ("imsg-rpc", Allow::Any),
            ("imsg-target", Allow::Any),
            ("imsg-policy", Allow::Any),
            ("imsg-config", Allow::Any),
            ("imsg-channel", Allow::Any),
        ],
    ),
    ("xtask", &[]),
];

/// Packages of the table above that another branch is adding; until it lands they may be absent.
const PLANNED_PACKAGES: &[&str] = &[];

/// External crates that must never reach a package through its normal dependencies, even transitively,
/// with the invariant they protect. Dev-dependencies may use them: tests are not the library.
const FORBIDDEN_EXTERNAL: &[(&str, &str, &str)] = &[
    (
        "imsg-target",
        "tokio",
        "the pure cores never depend on tokio",
    ),
    (
        "imsg-policy",
        "tokio",
        "the pure cores never depend on tokio",
    ),
    (
        "imsg-config",
        "tokio",
        "the pure cores never depend on tokio",
    ),
    ("imsg-text", "tokio", "the pure cores never depend on tokio"),
    (
        "imsg-target",
        "serde_json",
        "target and policy know nothing of JSON",
    ),
    (
        "imsg-policy",
        "serde_json",
        "target and policy know nothing of JSON",
    ),
    (
        "imsg-target",
        "json5",
        "target and policy know nothing of JSON",
    ),
    (
        "imsg-policy",
        "json5",
        "target and policy know nothing of JSON",
    ),
    (
        "imsg-target",
        "async-trait",
        "only imsg-channel uses async-trait",
    ),
    (
        "imsg-policy",
        "async-trait",
        "only imsg-channel uses async-trait",
    ),
    (
        "imsg-config",
        "async-trait",
        "only imsg-channel uses async-trait",
    ),
    (
        "imsg-text",
        "async-trait",
        "only imsg-channel uses async-trait",
    ),
    (
        "imsg-rpc",
        "async-trait",
        "only imsg-channel uses async-trait",
    ),
    (
        "imsg-sim",
        "async-trait",
        "only imsg-channel uses async-trait",
    ),
];

/// The places that may start processes (`std::process::Command`, `tokio::process::Command`), by path prefix
/// from the workspace root, with the reason. Test code may too, anywhere: files under a `tests/` folder,
/// files named `tests.rs`, and `#[cfg(test)]` modules.
const COMMAND_ALLOWED: &[(&str, &str)] = &[
    ("crates/imsg-rpc/", "the transport spawns `imsg rpc`"),
    (
        "crates/imsg-channel/src/attachments/scp.rs",
        "copies attachments from a remote Mac with scp",
    ),
    (
        "crates/imsg-gateway/src/agent/exec.rs",
        "runs the configured agent command",
    ),
    (
        "crates/imsg-gateway/src/commands/doctor.rs",
        "asks `ssh-keygen -F` whether the remote Mac's host key is known",
    ),
    ("crates/imsg-sim/", "the simulator and its process tests"),
    ("xtask/", "runs cargo, git and the checks"),
    ("tests/", "end-to-end tests run real processes"),
];

/// First folders of an absolute path that only ever hold one machine's files: the root user's home, and the
/// folder where this project's build machines keep their checkouts and target dirs.
const MACHINE_DIRS: &[&str] = &["root", "work"];

/// User names under `/home/` and `/Users/` that are plainly examples, besides one-letter names. Any other
/// name is somebody's account. `*` is the documented Messages default `/Users/*/Library/Messages/Attachments`.
const EXAMPLE_USERS: &[&str] = &[
    "*", "alice", "bench", "bob", "bot", "example", "me", "name", "user", "work", "x", "you",
];

/// Runs every rule and reports all problems at once, so one run shows the whole list.
pub(crate) fn run() -> Result<(), String> {
    let mut problems = Vec::new();
    problems.extend(check_file_headers());
    problems.extend(check_no_stubs());
    problems.extend(check_readmes());
    problems.extend(check_commands());
    problems.extend(check_machine_paths()?);
    problems.extend(check_rust_version());
    let meta = Metadata::load()?;
    problems.extend(layering_problems(&meta, ALLOWED_EDGES));
    problems.extend(check_forbidden_external(&meta)?);
    if problems.is_empty() {
        say("tidy: ok");
        Ok(())
    } else {
        for p in &problems {
            say(&format!("tidy: {p}"));
        }
        Err(format!("tidy found {} problem(s)", problems.len()))
    }
}

/// Every `.rs` file of ours, skipping build output.
fn rust_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut out = Vec::new();
    for top in ["crates", "xtask", "tests"] {
        walk(&root.join(top), &mut out, &|p| {
            p.extension().is_some_and(|ext| ext == "rs")
        });
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out, keep);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn rel(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn check_file_headers() -> Vec<String> {
    let mut problems = Vec::new();
    for path in rust_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            problems.push(format!("{}: cannot be read as UTF-8", rel(&path)));
            continue;
        };
        problems.extend(header_problem(&rel(&path), &text));
    }
    problems
}

fn header_problem(path: &str, text: &str) -> Option<String> {
    (!text.starts_with("//!"))
        .then(|| format!("{path}: must open with a `//!` line saying what the file is for"))
}

fn check_no_stubs() -> Vec<String> {
    let mut problems = Vec::new();
    for path in rust_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        problems.extend(stub_problems(&rel(&path), &text));
    }
    problems
}

fn stub_problems(path: &str, text: &str) -> Vec<String> {
    // Built with concat! so this file does not trip its own rule.
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
    ];
    let mut problems = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        for pat in banned {
            if line.contains(pat) {
                problems.push(format!(
                    "{path}:{}: `{pat}` is not allowed (stubs and skipped tests hide missing work)",
                    idx + 1
                ));
            }
        }
    }
    problems
}

fn check_readmes() -> Vec<String> {
    let root = workspace_root();
    let mut problems = Vec::new();
    let Ok(entries) = fs::read_dir(root.join("crates")) else {
        return vec!["crates/ cannot be read".to_owned()];
    };
    for entry in entries.flatten() {
        let readme = entry.path().join("README.md");
        let ok = fs::read_to_string(&readme).is_ok_and(|t| t.trim().len() > 40);
        if !ok {
            problems.push(format!(
                "{}: every crate needs a README.md with at least a paragraph",
                rel(&readme)
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------------
// Processes

fn check_commands() -> Vec<String> {
    let mut problems = Vec::new();
    for path in rust_files() {
        let rel_path = rel(&path).replace('\\', "/");
        if command_allowed_file(&rel_path) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        problems.extend(command_problems(&rel_path, &text));
    }
    problems
}

/// Whether a whole file may start processes: listed in [`COMMAND_ALLOWED`], or test code by its place.
fn command_allowed_file(path: &str) -> bool {
    COMMAND_ALLOWED
        .iter()
        .any(|(prefix, _)| path.starts_with(prefix))
        || path.split('/').any(|part| part == "tests")
        || path.ends_with("/tests.rs")
}

/// The lines of a file outside the allowlist that name a process `Command`, skipping comments and
/// `#[cfg(test)]` items.
///
/// A textual rule, so it works without building and its table sits in one place. It catches the full
/// paths (`std::process::Command`, `tokio::process::Command`, `process::Command` after importing the
/// module), `use` statements that import `Command` from a `process` module (braced groups included, over
/// several lines), glob imports of such a module, and renames of the module (`use std::process as p`) that
/// would hide a later `p::Command`.
fn command_problems(path: &str, text: &str) -> Vec<String> {
    let code = strip_test_items(text);
    let mut problems = Vec::new();
    let why = "starts a process; only the places in COMMAND_ALLOWED of xtask/src/tidy.rs may";
    let lines: Vec<&str> = code.lines().collect();
    let mut idx = 0;
    while idx < lines.len() {
        let line = lines[idx].trim_start();
        if line.starts_with("//") {
            idx += 1;
            continue;
        }
        let mut statement = lines[idx].to_owned();
        let first = idx;
        // A `use` statement can span lines; read it up to its `;`.
        if is_use_line(line) {
            while !statement.contains(';') && idx + 1 < lines.len() {
                idx += 1;
                statement.push_str(lines[idx]);
            }
        }
        let compact: String = statement.split_whitespace().collect();
        if mentions_process_command(&compact)
            || (is_use_line(line) && use_imports_command(&compact))
        {
            problems.push(format!("{path}:{}: {why}", first + 1));
        }
        idx += 1;
    }
    problems
}

fn is_use_line(line: &str) -> bool {
    let line = line.strip_prefix("pub ").unwrap_or(line);
    let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
    line.starts_with("use ")
}

/// `process::Command` as a path, not as the start of another name such as `CommandExt`.
fn mentions_process_command(compact: &str) -> bool {
    let needle = "process::Command";
    compact.match_indices(needle).any(|(at, _)| {
        !compact[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// A whitespace-free `use` statement that brings `Command` of a `process` module into scope, or the module
/// under another name, or all of it.
fn use_imports_command(compact: &str) -> bool {
    let Some(at) = compact.find("process") else {
        return false;
    };
    let rest = &compact[at + "process".len()..];
    if rest.starts_with("as") || rest.starts_with("::*") {
        return true;
    }
    let Some(group) = rest.strip_prefix("::{") else {
        return false;
    };
    group
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| word == "Command")
}

/// The text with every `#[cfg(test)]` item blanked out (lines kept, so line numbers stay right).
///
/// The item runs from the attribute to the brace that closes the first `{` after it, or to the first `;`
/// for `mod tests;`. Braces are counted outside string and char literals and comments.
fn strip_test_items(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = item_end(item);
        out.extend(
            item[..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The byte length of the item that starts at `item` (which starts with its attribute).
fn item_end(item: &str) -> usize {
    let bytes = item.as_bytes();
    let mut depth = 0usize;
    let mut opened = false;
    let mut i = "#[cfg(test)]".len();
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            // A char literal such as '{' or '\''; a lifetime ('a) has no closing quote two or three on.
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') => {
                i += 3;
            }
            b';' if !opened => return i + 1,
            b'{' => {
                depth += 1;
                opened = true;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if opened && depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    item.len()
}

// ---------------------------------------------------------------------------------------------------
// Machine paths

/// Every tracked file (or, outside a git checkout, every file but build output), as (path, text) for the
/// ones that are UTF-8 text.
fn tracked_text_files() -> Result<Vec<(String, String)>, String> {
    let root = workspace_root();
    let listed = capture(
        std::process::Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(&root),
    );
    let paths: Vec<PathBuf> = match listed {
        Ok(list) => list
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(|p| root.join(p))
            .collect(),
        Err(_) => {
            let mut out = Vec::new();
            walk(&root, &mut out, &|_| true);
            out
        }
    };
    let mut files = Vec::new();
    for path in paths {
        // A tracked file deleted in the work tree has nothing to check.
        if let Ok(text) = fs::read_to_string(&path)
            && !text.contains('\0')
        {
            files.push((rel(&path).replace('\\', "/"), text));
        }
    }
    files.sort();
    Ok(files)
}

fn check_machine_paths() -> Result<Vec<String>, String> {
    Ok(tracked_text_files()?
        .iter()
        .flat_map(|(path, text)| machine_path_problems(path, text))
        .collect())
}

/// Absolute paths that belong to one machine: anything under a folder of [`MACHINE_DIRS`], and anything under
/// `/home/<user>/` or `/Users/<user>/` for a user not in [`EXAMPLE_USERS`]. Placeholders such as
/// `/nonexistent/imsg` or `/x/chat.db`, and system folders such as `/usr/bin/scp`, name no machine.
///
/// A path counts only where one can start: at the start of a line or after a space, quote, bracket or
/// similar, never inside a URL, a relative path or a word (`and/or`, `p:0/GUID`). It needs a folder and a
/// slash after it, so prose like `/help` or `/config set` is left alone.
fn machine_path_problems(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if let Some(found) = machine_path_in(line) {
            problems.push(format!(
                "{path}:{}: `{found}` is a path of one machine; say it in words, or use an example \
                 location (xtask/src/tidy.rs lists the accepted ones)",
                idx + 1
            ));
        }
    }
    problems
}

/// The first machine path of a line, if any.
fn machine_path_in(line: &str) -> Option<String> {
    // What may stand right before a path: not a word, a URL (`https://`), `~`, `$HOME` or a relative path.
    let starts_path = |c: char| !(c.is_alphanumeric() || "._-~/\\$}:)@%+".contains(c));
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    for (pos, &(at, c)) in chars.iter().enumerate() {
        if c != '/' || (pos > 0 && !starts_path(chars[pos - 1].1)) {
            continue;
        }
        let rest = &line[at + 1..];
        let mut parts = rest.splitn(3, '/');
        let (Some(first), Some(second)) = (parts.next(), parts.next()) else {
            continue;
        };
        // The first folder needs its closing slash: the second segment exists (it may be empty).
        if first.is_empty()
            || !first
                .chars()
                .all(|c| c.is_alphanumeric() || "._-".contains(c))
        {
            continue;
        }
        let user: String = second
            .chars()
            .take_while(|c| !(c.is_whitespace() || "\"'`)],;".contains(*c)))
            .collect();
        let shown: String = line[at..]
            .chars()
            .take_while(|c| !(c.is_whitespace() || "\"'`)],;".contains(*c)))
            .collect();
        let is_machine = match first {
            "home" | "Users" => {
                // The user's folder must be followed by a slash: `/home/bot` alone is a home, not a path in it.
                parts.next().is_some()
                    && user == second
                    && user.chars().count() > 1
                    && !EXAMPLE_USERS.contains(&user.as_str())
                    && !user.contains(['*', '\\', '<', '$', '{'])
            }
            other => MACHINE_DIRS.contains(&other),
        };
        if is_machine {
            return Some(shown);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------------
// rust-version

fn check_rust_version() -> Vec<String> {
    let root = workspace_root();
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let toolchain = fs::read_to_string(root.join("rust-toolchain.toml")).unwrap_or_default();
    rust_version_problems(&manifest, &toolchain)
}

/// The value of `key = "..."` in a TOML text, read line by line (enough for these two files).
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// `rust-version` promises the oldest toolchain that builds the workspace. CI installs only the toolchain of
/// rust-toolchain.toml, so that is the only version the promise can honestly name.
fn rust_version_problems(manifest: &str, toolchain: &str) -> Vec<String> {
    let (Some(declared), Some(tested)) = (
        toml_string(manifest, "rust-version"),
        toml_string(toolchain, "channel"),
    ) else {
        return vec![
            "Cargo.toml must set `rust-version` and rust-toolchain.toml must pin `channel`"
                .to_owned(),
        ];
    };
    let tested_minor = tested.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    if declared == tested || declared == tested_minor {
        Vec::new()
    } else {
        vec![format!(
            "Cargo.toml says rust-version {declared}, but CI tests only {tested} (rust-toolchain.toml); \
             set rust-version to {tested_minor} or add a check on {declared} to CI"
        )]
    }
}

// ---------------------------------------------------------------------------------------------------
// Crate layering

/// One dependency of one workspace package on another.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dep {
    from: String,
    to: String,
    /// `None` for a normal dependency, else `"dev"` or `"build"`.
    kind: Option<String>,
    optional: bool,
}

/// What tidy needs from `cargo metadata`: the packages, their internal dependencies and their features.
#[derive(Debug, Default)]
struct Metadata {
    packages: BTreeSet<String>,
    deps: Vec<Dep>,
    /// package -> feature -> what the feature turns on
    features: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Metadata {
    fn load() -> Result<Self, String> {
        let text =
            capture(cargo().args(["metadata", "--format-version", "1", "--no-deps", "--locked"]))?;
        let meta: serde_json::Value =
            serde_json::from_str(&text).map_err(|err| format!("cargo metadata: {err}"))?;
        Self::parse(&meta)
    }

    fn parse(meta: &serde_json::Value) -> Result<Self, String> {
        let packages = meta["packages"]
            .as_array()
            .ok_or("cargo metadata: no packages")?;
        let mut out = Self {
            packages: packages
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect(),
            ..Self::default()
        };
        for pkg in packages {
            let Some(name) = pkg["name"].as_str() else {
                continue;
            };
            for d in pkg["dependencies"].as_array().into_iter().flatten() {
                let Some(to) = d["name"].as_str() else {
                    continue;
                };
                if out.packages.contains(to) {
                    out.deps.push(Dep {
                        from: name.to_owned(),
                        to: to.to_owned(),
                        kind: d["kind"].as_str().map(str::to_owned),
                        optional: d["optional"].as_bool().unwrap_or(false),
                    });
                }
            }
            let features = pkg["features"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(feature, on)| {
                    let on = on
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                    (feature.clone(), on)
                })
                .collect();
            out.features.insert(name.to_owned(), features);
        }
        Ok(out)
    }
}

/// Every package must be in the table, and every internal dependency of any kind must be allowed by it.
fn layering_problems(meta: &Metadata, table: &[(&str, &[(&str, Allow)])]) -> Vec<String> {
    let allowed: BTreeMap<&str, &[(&str, Allow)]> = table.iter().copied().collect();
    let mut problems = Vec::new();
    for pkg in &meta.packages {
        if !allowed.contains_key(pkg.as_str()) {
            problems.push(format!(
                "package `{pkg}` is not in the layering table of xtask/src/tidy.rs and docs/ARCHITECTURE.md"
            ));
        }
    }
    for dep in &meta.deps {
        let Some(row) = allowed.get(dep.from.as_str()) else {
            continue;
        };
        let kind = dep.kind.as_deref().unwrap_or("normal");
        let what = format!("`{}` {kind}-depends on `{}`", dep.from, dep.to);
        match row.iter().find(|(to, _)| *to == dep.to).map(|(_, a)| *a) {
            None => problems.push(format!("{what}, which the crate layering does not allow")),
            Some(Allow::Any) => {}
            Some(Allow::Feature(feature)) => {
                if dep.kind.as_deref() == Some("dev") {
                    continue;
                }
                let turned_on = meta
                    .features
                    .get(&dep.from)
                    .and_then(|f| f.get(feature))
                    .is_some_and(|on| {
                        on.iter()
                            .any(|x| *x == dep.to || *x == format!("dep:{}", dep.to))
                    });
                if !dep.optional || !turned_on {
                    problems.push(format!(
                        "{what}; the layering allows that only as an optional dependency of the `{feature}` feature"
                    ));
                }
            }
        }
    }
    problems
}

fn check_forbidden_external(meta: &Metadata) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let mut by_pkg: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (pkg, dep, why) in FORBIDDEN_EXTERNAL {
        by_pkg.entry(pkg).or_default().push((dep, why));
    }
    for (pkg, rules) in by_pkg {
        if !meta.packages.contains(pkg) {
            if !PLANNED_PACKAGES.contains(&pkg) {
                problems.push(format!(
                    "FORBIDDEN_EXTERNAL names `{pkg}`, which is not a package of the workspace"
                ));
            }
            // A planned package has no tree yet.
            continue;
        }
        let tree = capture(cargo().args([
            "tree",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--all-features",
            "-p",
            pkg,
        ]))?;
        problems.extend(forbidden_in_tree(pkg, &tree, &rules));
    }
    Ok(problems)
}

/// The forbidden crates that appear in a package's `cargo tree --prefix none` output.
fn forbidden_in_tree(pkg: &str, tree: &str, rules: &[(&str, &str)]) -> Vec<String> {
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    rules
        .iter()
        .filter(|(dep, _)| crates.contains(dep))
        .map(|(dep, why)| format!("`{pkg}` reaches `{dep}`: {why}"))
        .collect()
}

#[cfg(test)]
mod tests {
    //! The tidy rules as tests, so `cargo nextest run` fails when the repository breaks one, and each rule
    //! fed a bad input, so a rule that cannot fail would show.

    use super::*;

    #[test]
    fn every_rust_file_opens_with_a_doc_line() {
        assert_eq!(check_file_headers(), Vec::<String>::new());
        assert_eq!(header_problem("a.rs", "//! What a is for.\n"), None);
        assert!(header_problem("a.rs", "// just a comment\nfn f() {}\n").is_some());
        assert!(header_problem("a.rs", "").is_some());
    }

    #[test]
    fn no_stubs_or_skipped_tests() {
        assert_eq!(check_no_stubs(), Vec::<String>::new());
        let bad = concat!("fn f() {\n    todo", "!()\n}\n#[", "ignore]\n");
        assert_eq!(stub_problems("a.rs", bad).len(), 2, "{bad}");
        assert!(stub_problems("a.rs", "fn f() { g() }\n").is_empty());
    }

    #[test]
    fn every_crate_has_a_readme() {
        assert_eq!(check_readmes(), Vec::<String>::new());
    }

    #[test]
    fn only_listed_places_start_processes() {
        assert_eq!(check_commands(), Vec::<String>::new());
    }

    #[test]
    fn process_rule_finds_every_spelling() {
        let bad = [
            "use std::process::Command;\n",
            "use tokio::process::Command;\n",
            "pub use std::process::{Command, Stdio};\n",
            "use std::{\n    io,\n    process::{Child, Command},\n};\n",
            "fn f() { let _ = std::process::Command::new(\"ls\"); }\n",
            "fn f() { let _ = tokio::process::Command::new(\"ls\"); }\n",
            "use std::process;\nfn f() { process::Command::new(\"ls\"); }\n",
            "use std::process as p;\n",
            "use tokio::process::*;\n",
            // Test code ends at its closing brace; code after it is checked again.
            "#[cfg(test)]\nmod tests {\n    fn g() { let c = '{'; }\n}\nuse std::process::Command;\n",
        ];
        for text in bad {
            assert_eq!(
                command_problems("crates/imsg-policy/src/lib.rs", text).len(),
                1,
                "{text}"
            );
        }
        let fine = [
            "use std::process::ExitCode;\n",
            "use std::process::{ExitCode, exit};\n",
            "use std::os::unix::process::CommandExt;\n",
            "// std::process::Command is not used here.\n",
            "/// Unlike `std::process::Command`, this is pure.\nfn f() {}\n",
            "#[cfg(test)]\nmod tests {\n    use std::process::Command;\n    fn f() { \"}\"; }\n}\n",
            "#[cfg(test)]\nmod tests;\n",
            "struct Command;\nfn f() -> Command { Command }\n",
        ];
        for text in fine {
            assert_eq!(
                command_problems("crates/imsg-policy/src/lib.rs", text),
                Vec::<String>::new(),
                "{text}"
            );
        }
    }

    #[test]
    fn process_rule_allows_the_table_and_tests() {
        for path in [
            "crates/imsg-rpc/src/child.rs",
            "crates/imsg-channel/src/attachments/scp.rs",
            "crates/imsg-gateway/src/agent/exec.rs",
            "crates/imsg-sim/src/cli.rs",
            "xtask/src/cmd.rs",
            "tests/tests/it/survival.rs",
            "crates/imsg-channel/tests/it/main.rs",
            "crates/imsg-config/src/load/tests.rs",
        ] {
            assert!(command_allowed_file(path), "{path}");
        }
        for path in [
            "crates/imsg-channel/src/lib.rs",
            "crates/imsg-channel/src/attachments/local.rs",
            "crates/imsg-gateway/src/main.rs",
            "crates/imsg-policy/src/testing.rs",
        ] {
            assert!(!command_allowed_file(path), "{path}");
        }
    }

    #[test]
    fn no_machine_paths_in_tracked_files() {
        assert_eq!(check_machine_paths().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn machine_path_rule_tells_machines_from_examples() {
        // Built with concat! so this file does not trip its own rule.
        let bad = [
            concat!("export CARGO_TARGET_DIR=/wo", "rk/target-sim"),
            concat!("see `/wo", "rk/shared/spec/imsg-protocol.md`"),
            concat!("cd /ro", "ot/src"),
            concat!("\"/ho", "me/jdoe/.config/x\""),
            concat!("(/Use", "rs/jane/Library/Messages/chat.db)"),
            concat!("HOME=/ho", "me/runner/x"),
        ];
        for line in bad {
            assert!(machine_path_in(line).is_some(), "{line}");
            assert_eq!(machine_path_problems("f.md", line).len(), 1, "{line}");
        }
        let fine = [
            "`/Users/*/Library/Messages/Attachments`, the Messages default",
            "dbPath: \"/Users/me/Library/Messages/chat.db\"",
            "with_home(\"/home/bot\")",
            "with_home(\"/home/jdoe\") and later /x/y",
            "scp runs as /usr/bin/scp -- host:/Users/me/x",
            "$SIM init --db /tmp/chat.db",
            "remoteAttachmentRoots: [\"/Volumes/relay/attachments\"]",
            "cliPath: \"/opt/imsg/imsg-remote\", \"/srv/work/attachments\"",
            "https://github.com/openclaw/openclaw/pull/1",
            "`~/Library/Messages/chat.db` and ../docs/policy.md",
            "send/receive, p:0/GUID and `\\/` escaped slashes",
            "the /config set and /help commands",
            "/Users/<name>/Library and /home/$USER/.config",
            "a path like /usr/local/bin/imsg",
            "placeholders: /nonexistent/imsg, /x/chat.db, /old/imsg, /home/u/Library",
            "the account folder /Users/work/Library/Messages/Attachments",
        ];
        for line in fine {
            assert_eq!(machine_path_in(line), None, "{line}");
        }
    }

    #[test]
    fn rust_version_names_the_tested_toolchain() {
        assert_eq!(check_rust_version(), Vec::<String>::new());
        let manifest =
            |v: &str| format!("[workspace.package]\nedition = \"2024\"\nrust-version = \"{v}\"\n");
        let toolchain = "[toolchain]\nchannel = \"1.95.0\"\n";
        assert!(rust_version_problems(&manifest("1.95"), toolchain).is_empty());
        assert!(rust_version_problems(&manifest("1.95.0"), toolchain).is_empty());
        assert_eq!(rust_version_problems(&manifest("1.89"), toolchain).len(), 1);
        assert_eq!(rust_version_problems("[package]\n", toolchain).len(), 1);
    }

    fn meta(
        deps: &[(&str, &str, Option<&str>, bool)],
        features: &[(&str, &str, &[&str])],
    ) -> Metadata {
        let mut m = Metadata::default();
        for (from, to, kind, optional) in deps {
            m.packages.insert((*from).to_owned());
            m.packages.insert((*to).to_owned());
            m.deps.push(Dep {
                from: (*from).to_owned(),
                to: (*to).to_owned(),
                kind: kind.map(str::to_owned),
                optional: *optional,
            });
        }
        for (pkg, feature, on) in features {
            m.features.entry((*pkg).to_owned()).or_default().insert(
                (*feature).to_owned(),
                on.iter().map(|s| (*s).to_owned()).collect(),
            );
        }
        m
    }

    #[test]
    fn crate_layering_holds() {
        let meta = Metadata::load().unwrap();
        assert_eq!(
            layering_problems(&meta, ALLOWED_EDGES),
            Vec::<String>::new()
        );
    }

    #[test]
    fn layering_checks_every_kind_of_dependency() {
        let fine = meta(
            &[
                ("imsg-policy", "imsg-target", None, false),
                ("imsg-tests", "imsg-sim", Some("dev"), false),
                ("imsg-gateway", "imsg-sim", None, true),
                ("imsg-gateway", "imsg-sim", Some("dev"), false),
            ],
            &[("imsg-gateway", "demo", &["dep:imsg-sim"])],
        );
        assert_eq!(
            layering_problems(&fine, ALLOWED_EDGES),
            Vec::<String>::new()
        );
        let cases = [
            // A test-only shortcut through the layers is still an edge.
            meta(&[("imsg-policy", "imsg-config", Some("dev"), false)], &[]),
            meta(&[("imsg-target", "imsg-rpc", Some("build"), false)], &[]),
            meta(&[("imsg-rpc", "imsg-sim", None, false)], &[]),
            // The demo's simulator only behind the `demo` feature.
            meta(&[("imsg-gateway", "imsg-sim", None, false)], &[]),
            meta(
                &[("imsg-gateway", "imsg-sim", None, true)],
                &[("imsg-gateway", "other", &["dep:imsg-sim"])],
            ),
            // The binary reaches the text rules only through the channel.
            meta(&[("imsg-gateway", "imsg-text", None, false)], &[]),
            meta(&[("imsg-text", "imsg-target", None, false)], &[]),
            // A package the table does not know.
            meta(&[("imsg-new", "imsg-target", None, false)], &[]),
        ];
        for case in &cases {
            assert_eq!(layering_problems(case, ALLOWED_EDGES).len(), 1, "{case:?}");
        }
    }

    #[test]
    fn pure_crates_stay_pure() {
        let meta = Metadata::load().unwrap();
        assert_eq!(
            check_forbidden_external(&meta).unwrap(),
            Vec::<String>::new()
        );
        let tree = "imsg-policy v0.0.0 (/x)\nimsg-target v0.0.0 (/x)\ntokio v1.54.0\n";
        let rules = [("tokio", "pure"), ("json5", "no JSON")];
        assert_eq!(
            forbidden_in_tree("imsg-policy", tree, &rules),
            ["`imsg-policy` reaches `tokio`: pure"]
        );
    }

    #[test]
    fn tidy_sees_the_workspace() {
        // Guards against the checks above passing because they looked at nothing.
        let files = rust_files();
        assert!(files.iter().any(|p| p.ends_with("xtask/src/tidy.rs")));
        let tracked = tracked_text_files().unwrap();
        assert!(tracked.iter().any(|(p, _)| p == "docs/ARCHITECTURE.md"));
        let meta = Metadata::load().unwrap();
        assert!(meta.deps.iter().any(|d| d.kind.as_deref() == Some("dev")));
        for (pkg, _) in ALLOWED_EDGES {
            assert!(
                meta.packages.contains(*pkg) || PLANNED_PACKAGES.contains(pkg),
                "`{pkg}` is in the table but not in the workspace"
            );
        }
    }
}
