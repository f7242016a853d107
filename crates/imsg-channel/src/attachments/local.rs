//! File-system work on this machine: resolving a candidate against the roots, the capped copy into the
//! staging area, private directories and the sweep of stale staged files.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::RefusalReason;
use super::roots::{RootPattern, inside_any};

/// The prefix of every file this module stages, so the sweep never removes anything else.
pub(crate) const STAGED_PREFIX: &str = "att-";

/// Creates `dir` (and parents) and makes it 0700.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// A candidate that passed the root and size checks: its canonical path, and the identity of the file
/// that was checked, so the copy can tell if the path was swapped in between.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) canonical: PathBuf,
    pub(crate) size: u64,
    dev: u64,
    ino: u64,
}

/// Resolves `lexical` (already absolute and free of `..`) and checks it against `roots`: the lexical path
/// must be inside a root, and so must the canonical one (a symlink out of the roots is refused). `extra`
/// is one more allowed directory, already canonical (the staging area, for outbound files).
pub(crate) fn check(
    lexical: &Path,
    roots: &[RootPattern],
    extra: Option<&Path>,
    max_bytes: u64,
) -> Result<Checked, RefusalReason> {
    let allowed = |p: &Path| inside_any(roots, p) || extra.is_some_and(|e| p.starts_with(e));
    if !allowed(lexical) {
        return Err(RefusalReason::OutsideRoots);
    }
    let canonical = match fs::canonicalize(lexical) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(RefusalReason::Missing),
        Err(e) => return Err(RefusalReason::Io(e.kind().to_string())),
    };
    if !allowed(&canonical) {
        return Err(RefusalReason::SymlinkEscape);
    }
    let meta = fs::metadata(&canonical).map_err(|e| RefusalReason::Io(e.kind().to_string()))?;
    if !meta.is_file() {
        return Err(RefusalReason::NotAFile);
    }
    if meta.len() > max_bytes {
        return Err(RefusalReason::TooLarge {
            size: meta.len(),
            max: max_bytes,
        });
    }
    Ok(Checked {
        canonical,
        size: meta.len(),
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Copies at most `max_bytes` of `source` into a new file with a random name in `dir` (mode 0600), and
/// returns its guard. When `checked` is given, the opened file must be the one that was checked.
pub(crate) fn capped_copy(
    source: &Path,
    checked: Option<&Checked>,
    dir: &Path,
    extension: &str,
    max_bytes: u64,
) -> Result<(tempfile::TempPath, u64), RefusalReason> {
    let io_err = |e: io::Error| RefusalReason::Io(e.kind().to_string());
    let mut input = File::open(source).map_err(io_err)?;
    let meta = input.metadata().map_err(io_err)?;
    if let Some(c) = checked
        && (meta.dev() != c.dev || meta.ino() != c.ino)
    {
        return Err(RefusalReason::SymlinkEscape);
    }
    if !meta.is_file() {
        return Err(RefusalReason::NotAFile);
    }
    let suffix = if extension.is_empty() {
        String::new()
    } else {
        format!(".{extension}")
    };
    // tempfile creates the file with O_EXCL and mode 0600, under 16 random characters.
    let mut staged = tempfile::Builder::new()
        .prefix(STAGED_PREFIX)
        .suffix(&suffix)
        .rand_bytes(16)
        .tempfile_in(dir)
        .map_err(io_err)?;
    let mut limited = (&mut input).take(max_bytes.saturating_add(1));
    let copied = io::copy(&mut limited, staged.as_file_mut()).map_err(io_err)?;
    if copied > max_bytes {
        return Err(RefusalReason::TooLarge {
            size: meta.len().max(copied),
            max: max_bytes,
        });
    }
    staged.as_file_mut().flush().map_err(io_err)?;
    Ok((staged.into_temp_path(), copied))
}

/// Removes staged files in `dir` older than `max_age`; returns how many were removed.
pub(crate) fn sweep(dir: &Path, max_age: Duration) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(STAGED_PREFIX) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > max_age);
        if !old {
            continue;
        }
        let path = entry.path();
        let result = if meta.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        if result.is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The extension to keep on a staged copy: ASCII letters and digits only, at most 10, lowercased, so the
/// staged name never carries anything from the sender but a harmless hint of the type.
pub(crate) fn safe_extension(name: &str) -> String {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return String::new();
    };
    if ext.is_empty() || ext.len() > 10 || !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
        return String::new();
    }
    ext.to_ascii_lowercase()
}
