//! The context a version records about how it was made: who, where, when, and the state of the
//! git repository holding the transform code (read with gix, never by running git).
//!
//! `DV_TIMESTAMP`, `DV_AUTHOR` and `DV_HOST` override the clock and identity, which makes ids
//! reproducible in tests and lets importers keep original times.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::{Error, Result};
use crate::object::CodeRevision;

/// The creation time to record, as RFC 3339 UTC with microseconds.
pub fn timestamp() -> Result<String> {
    let time = match std::env::var("DV_TIMESTAMP") {
        Ok(text) => DateTime::parse_from_rfc3339(&text)
            .map_err(|e| Error::InvalidEnvironment {
                name: "DV_TIMESTAMP",
                value: text.clone(),
                expected: format!("an RFC 3339 time such as 2026-11-22T07:08:34Z ({e})"),
            })?
            .with_timezone(&Utc),
        Err(_) => Utc::now(),
    };
    Ok(time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// The author to record: `DV_AUTHOR`, else the login name.
pub fn author() -> String {
    ["DV_AUTHOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The host to record: `DV_HOST`, else the kernel's host name.
pub fn host() -> String {
    if let Some(host) = std::env::var("DV_HOST").ok().filter(|h| !h.is_empty()) {
        return host;
    }
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The root of the git repository (its working tree) containing `dir`.
pub fn repository_root(dir: &Path) -> Option<std::path::PathBuf> {
    let dir = dir.canonicalize().ok()?;
    let repo = gix::discover(&dir).ok()?;
    repo.workdir()?.canonicalize().ok()
}

/// The git state of the repository containing `dir`, or `None` outside a git repository.
///
/// Dirty means a tracked file differs from HEAD or the index, or an untracked (not ignored)
/// file exists: either way the code that ran may not be the commit's code.
pub fn code_revision(dir: &Path) -> Option<CodeRevision> {
    let dir = dir.canonicalize().ok()?;
    let repo = gix::discover(&dir).ok()?;
    let commit = repo.head().ok()?.id().map(|id| id.to_string());
    let branch = repo
        .head_name()
        .ok()?
        .map(|name| name.shorten().to_string());
    let dirty = is_dirty(&repo).unwrap_or(true);
    Some(CodeRevision {
        commit,
        branch,
        dirty,
    })
}

fn is_dirty(repo: &gix::Repository) -> Option<bool> {
    let status = repo
        .status(gix::progress::Discard)
        .ok()?
        .untracked_files(gix::status::UntrackedFiles::Files)
        .into_iter(Vec::new())
        .ok()?;
    for item in status {
        if item.is_ok() {
            return Some(true);
        }
    }
    Some(false)
}

/// The command line as one string a POSIX shell would split back into `argv`.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
