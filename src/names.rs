//! Rules for the names users give datasets, stages and tags.
//!
//! Names appear in revisions (`DATASET@STAGE`, `REV~N`) and as file names under `.dv/refs`, so
//! they are limited to characters that cannot be confused with that syntax or escape a folder.

use crate::error::{Error, Result};

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
