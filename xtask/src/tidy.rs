//! `cargo xtask tidy`: repository rules checked by machine, also run as tests so nextest enforces them.
//!
//! The rules: every Rust file opens with a `//!` line; the crate layering of docs/ARCHITECTURE.md holds
//! (checked on cargo's own dependency graph); no stubs or skipped tests; every crate has a README.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::{capture, cargo, say, workspace_root};

/// The workspace-internal edges each package may have among its normal dependencies. Anything not
/// listed here is a change of the architecture and must be made here, on purpose, with the docs.
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("imsg-target", &[]),
    ("imsg-policy", &["imsg-target"]),
    ("imsg-config", &["imsg-policy", "imsg-target"]),
    ("imsg-rpc", &[]),
    ("imsg-sim", &[]),
    (
        "imsg-channel",
        &["imsg-target", "imsg-policy", "imsg-config", "imsg-rpc"],
    ),
    (
        "imsg-gateway",
        // imsg-rpc for the probe and doctor; imsg-sim (feature `demo`) embeds the simulator for the demo.
        &[
            "imsg-channel",
            "imsg-config",
            "imsg-policy",
            "imsg-target",
            "imsg-rpc",
            "imsg-sim",
        ],
    ),
    // The end-to-end package wraps the simulator as a binary and drives every layer.
    (
        "imsg-tests",
        &[
            "imsg-sim",
            "imsg-rpc",
            "imsg-target",
            "imsg-policy",
            "imsg-config",
            "imsg-channel",
        ],
    ),
    ("xtask", &[]),
];

/// External crates that must never reach a package, even transitively, with the invariant they protect.
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

/// Runs every rule and reports all problems at once, so one run shows the whole list.
pub(crate) fn run() -> Result<(), String> {
    let mut problems = Vec::new();
    problems.extend(check_file_headers());
    problems.extend(check_no_stubs());
    problems.extend(check_readmes());
    problems.extend(check_layering()?);
    problems.extend(check_forbidden_external()?);
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
        walk(&root.join(top), &mut out);
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
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
            walk(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
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
        if !text.starts_with("//!") {
            problems.push(format!(
                "{}: must open with a `//!` line saying what the file is for",
                rel(&path)
            ));
        }
    }
    problems
}

fn check_no_stubs() -> Vec<String> {
    // Built with concat! so this file does not trip its own rule.
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
    ];
    let mut problems = Vec::new();
    for path in rust_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for (idx, line) in text.lines().enumerate() {
            for pat in banned {
                if line.contains(pat) {
                    problems.push(format!(
                        "{}:{}: `{pat}` is not allowed (stubs and skipped tests hide missing work)",
                        rel(&path),
                        idx + 1
                    ));
                }
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

/// The workspace's packages and their normal (non-dev, non-build) dependencies on each other.
fn workspace_edges() -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let text =
        capture(cargo().args(["metadata", "--format-version", "1", "--no-deps", "--locked"]))?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| format!("cargo metadata: {err}"))?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut edges = BTreeMap::new();
    for pkg in packages {
        let Some(name) = pkg["name"].as_str() else {
            continue;
        };
        let deps: BTreeSet<String> = pkg["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| names.contains(*d))
            .map(str::to_owned)
            .collect();
        edges.insert(name.to_owned(), deps);
    }
    Ok(edges)
}

fn check_layering() -> Result<Vec<String>, String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED_EDGES.iter().copied().collect();
    let mut problems = Vec::new();
    for (pkg, deps) in workspace_edges()? {
        let Some(ok) = allowed.get(pkg.as_str()) else {
            problems.push(format!(
                "package `{pkg}` is not in the layering table of xtask/src/tidy.rs and docs/ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in deps {
            if !ok.contains(&dep.as_str()) {
                problems.push(format!(
                    "`{pkg}` depends on `{dep}`, which the crate layering does not allow"
                ));
            }
        }
    }
    Ok(problems)
}

fn check_forbidden_external() -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let mut by_pkg: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (pkg, dep, why) in FORBIDDEN_EXTERNAL {
        by_pkg.entry(pkg).or_default().push((dep, why));
    }
    for (pkg, rules) in by_pkg {
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
        let crates: BTreeSet<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        for (dep, why) in rules {
            if crates.contains(dep) {
                problems.push(format!("`{pkg}` reaches `{dep}`: {why}"));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    //! The tidy rules as tests, so `cargo nextest run` fails when the repository breaks one.

    use super::*;

    #[test]
    fn every_rust_file_opens_with_a_doc_line() {
        assert_eq!(check_file_headers(), Vec::<String>::new());
    }

    #[test]
    fn no_stubs_or_skipped_tests() {
        assert_eq!(check_no_stubs(), Vec::<String>::new());
    }

    #[test]
    fn every_crate_has_a_readme() {
        assert_eq!(check_readmes(), Vec::<String>::new());
    }

    #[test]
    fn crate_layering_holds() {
        assert_eq!(check_layering().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn pure_crates_stay_pure() {
        assert_eq!(check_forbidden_external().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn tidy_sees_the_workspace() {
        // Guards against the checks above passing because they looked at nothing.
        let files = rust_files();
        assert!(files.iter().any(|p| p.ends_with("xtask/src/tidy.rs")));
        let edges = workspace_edges().unwrap();
        for (pkg, _) in ALLOWED_EDGES {
            assert!(
                edges.contains_key(*pkg),
                "`{pkg}` is in the table but not in the workspace"
            );
        }
    }
}
