//! `cargo xtask bench`: runs every criterion bench with short settings, then prints one table of
//! figures where each row sits next to the baseline measured in the same run.
//!
//! Targets are ratios against a same-run baseline (a bench id containing `baseline` or `bare` in
//! the same group), never absolute timings asserted in tests.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::{cargo, run_step, say, workspace_root};

/// Runs the benches (all, or those whose `<package>/<bench>` name contains one of `filters`).
pub(crate) fn run(filters: &[String]) -> Result<(), String> {
    let benches = discover();
    if benches.is_empty() {
        return Err("no benches found under crates/*/benches or tests/benches".to_owned());
    }
    let chosen: Vec<&(String, String)> = benches
        .iter()
        .filter(|(pkg, bench)| {
            let label = format!("{pkg}/{bench}");
            filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()))
        })
        .collect();
    if chosen.is_empty() {
        let all: Vec<String> = benches.iter().map(|(p, b)| format!("{p}/{b}")).collect();
        return Err(format!(
            "no bench matches {filters:?}; the benches are: {}",
            all.join(", ")
        ));
    }
    for (pkg, bench) in chosen {
        let label = format!("{pkg}/{bench}");
        run_step(
            &format!("cargo bench {label}"),
            cargo().args([
                "bench",
                "--locked",
                "-p",
                pkg,
                "--bench",
                bench,
                "--",
                "--warm-up-time",
                "1",
                "--measurement-time",
                "3",
            ]),
        )?;
    }
    report(&target_dir().join("criterion"));
    Ok(())
}

/// Every `benches/*.rs` of every package, as `(package, bench name)`.
fn discover() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs::read_dir(root.join("crates")) {
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    dirs.push(root.join("tests"));
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let pkg = if dir.ends_with("tests") {
            "imsg-tests".to_owned()
        } else {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let Ok(entries) = fs::read_dir(dir.join("benches")) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                if path.extension()? != "rs" {
                    return None;
                }
                Some(path.file_stem()?.to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| (pkg.clone(), n)));
    }
    out
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// One measured benchmark as criterion left it on disk.
struct Row {
    group: String,
    /// `function/value` as criterion names it, or just the one that exists.
    id: String,
    /// The input measured, used to pair a row with the baseline of the same input.
    value: Option<String>,
    median_ns: f64,
    elements: Option<f64>,
}

impl Row {
    fn is_baseline(&self) -> bool {
        self.id.contains("baseline") || self.id.contains("bare")
    }
}

fn report(dir: &Path) {
    let mut rows = Vec::new();
    collect(dir, &mut rows);
    if rows.is_empty() {
        say("bench: criterion wrote no results");
        return;
    }
    rows.sort_by(|a, b| (&a.group, &a.id).cmp(&(&b.group, &b.id)));
    say("\nbench summary (median per iteration; ratio = baseline time / this time, same run):");
    for row in &rows {
        // A baseline measured on the same input wins over any other baseline of the group.
        let baselines = || {
            rows.iter()
                .filter(|r| r.group == row.group && r.is_baseline() && !std::ptr::eq(*r, row))
        };
        let base = baselines()
            .find(|r| r.value.is_some() && r.value == row.value)
            .or_else(|| baselines().next());
        let rate = row
            .elements
            .map(|n| format!("{:>14.0} elem/s", n * 1e9 / row.median_ns))
            .unwrap_or_default();
        let ratio = match base {
            Some(b) if !row.is_baseline() => {
                format!("  {:.2}x vs {}", b.median_ns / row.median_ns, b.id)
            }
            _ => String::new(),
        };
        let name = if row.id.is_empty() {
            row.group.clone()
        } else {
            format!("{}/{}", row.group, row.id)
        };
        say(&format!(
            "  {name:<60} {:>14} {rate}{ratio}",
            human(row.median_ns)
        ));
    }
}

fn human(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn collect(dir: &Path, rows: &mut Vec<Row>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(row) = read_row(&path) {
                rows.push(row);
            }
        } else if path
            .file_name()
            .is_some_and(|n| n != "report" && n != "base")
        {
            collect(&path, rows);
        }
    }
}

fn read_row(dir: &Path) -> Option<Row> {
    let bench: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("benchmark.json")).ok()?).ok()?;
    let est: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("estimates.json")).ok()?).ok()?;
    let group = bench["group_id"].as_str()?.to_owned();
    let non_empty = |key: &str| bench[key].as_str().filter(|s| !s.is_empty());
    let id = [non_empty("function_id"), non_empty("value_str")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    // The input a row measured: criterion's parameter, or what follows the first `/` of an id
    // written as `variant/input`.
    let value = id.split_once('/').map(|(_, input)| input.to_owned());
    Some(Row {
        group,
        id,
        value,
        median_ns: est["median"]["point_estimate"].as_f64()?,
        elements: bench["throughput"]["Elements"].as_f64(),
    })
}
