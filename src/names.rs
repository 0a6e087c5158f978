//! Rules for the names users give datasets, stages and tags.
//!
//! Names appear in revisions (`DATASET@STAGE`, `REV~N`) and as file names under `.dv/refs`, so
//! they are limited to characters that cannot be confused with that syntax or escape a folder.

use crate::error::{Error, Result};

/// The name of the workspace's metadata directory.
pub const DV_DIR: &str = ".dv";

/// Fails unless `name` is 1–100 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 100 {
        Some("it is longer than 100 characters")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it must start with a letter or digit")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("only letters, digits, '.', '_' and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            what,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks a stored workspace-relative path (a version's `path`, a tracked directory): it must
/// stay inside the workspace whatever machine wrote it, so it is `/`-separated components that
/// are never empty, `.` or `..`, holds no NUL or backslash, and does not start with `.dv`.
/// Returns why not, for the caller's error.
pub fn check_relative_path(what: &str, path: &str) -> std::result::Result<(), String> {
    let reason = if path.starts_with('/') {
        Some("it is absolute")
    } else if path.contains('\0') || path.contains('\\') {
        Some("it holds a NUL or a backslash")
    } else if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("it has an empty, \".\" or \"..\" component")
    } else if path.split('/').next() == Some(DV_DIR) {
        Some("it is inside .dv")
    } else if path.len() > crate::object::tree::MAX_PATH_BYTES {
        Some("it is longer than any real path")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(format!("{what} {path:?} is not allowed: {reason}")),
        None => Ok(()),
    }
}
