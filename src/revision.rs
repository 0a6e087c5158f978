//! Revisions: the ways a user can name a version.
//!
//! ```text
//! REV := BASE ("~" N?)*
//! BASE := full id (64 hex) | id prefix (>= 4 hex) | tag | dataset | dataset "@" stage
//! ```
//!
//! A dataset names its newest version, `dataset@stage` its newest version at that stage, and
//! `~N` goes N steps back along the first input. A name that could mean several versions is an
//! error listing them; nothing is guessed.

use crate::error::{Error, Result};
use crate::id::{Hash, VersionId};
use crate::workspace::Workspace;

/// Shortest id prefix accepted, so short words are not mistaken for ids.
pub const MIN_PREFIX: usize = 4;

/// Resolves a revision to a version id.
pub fn resolve(ws: &Workspace, rev: &str) -> Result<VersionId> {
    let (base, steps) = split_ancestry(rev)?;
    let mut id = resolve_base(ws, rev, base)?;
    for step in 0..steps {
        let version = ws.index.version(&id)?.ok_or_else(|| unknown(ws, rev))?;
        id = *version
            .inputs
            .first()
            .ok_or_else(|| Error::NoSuchAncestor {
                rev: rev.to_string(),
                base: base.to_string(),
                steps: step + 1,
            })?;
    }
    Ok(id)
}

/// Splits `base~2~1` into `base` and 3 steps; a bare `~` means one step.
fn split_ancestry(rev: &str) -> Result<(&str, usize)> {
    let mut parts = rev.split('~');
    let base = parts.next().unwrap_or_default();
    if base.is_empty() {
        return Err(Error::InvalidRevision {
            rev: rev.to_string(),
            reason: "it is empty before \"~\"".into(),
        });
    }
    let mut steps = 0usize;
    for part in parts {
        let n = if part.is_empty() {
            1
        } else {
            part.parse::<usize>().map_err(|_| Error::InvalidRevision {
                rev: rev.to_string(),
                reason: format!("\"~{part}\" must be ~ followed by a number of steps"),
            })?
        };
        steps = steps.saturating_add(n);
    }
    Ok((base, steps))
}

fn resolve_base(ws: &Workspace, rev: &str, base: &str) -> Result<VersionId> {
    if let Some((dataset, stage)) = base.split_once('@') {
        ws.check_stage(stage)?;
        if !ws.index.has_dataset(dataset)? {
            return Err(unknown(ws, rev));
        }
        return ws
            .index
            .latest(dataset, Some(stage))?
            .ok_or_else(|| Error::EmptyStage {
                dataset: dataset.to_string(),
                stage: stage.to_string(),
            });
    }
    if let Some(hash) = Hash::from_hex(base) {
        let id = VersionId(hash);
        return match ws.index.version(&id)? {
            Some(_) => Ok(id),
            None => Err(unknown(ws, rev)),
        };
    }
    let mut candidates: Vec<(String, VersionId)> = Vec::new();
    if let Some(id) = ws.index.tag(base)? {
        candidates.push((format!("tag {base} ({})", id.short(12)), id));
    }
    if let Some(id) = ws.index.latest(base, None)? {
        candidates.push((format!("dataset {base} (newest: {})", id.short(12)), id));
    }
    if base.len() >= MIN_PREFIX && base.bytes().all(|b| b.is_ascii_hexdigit()) {
        for id in ws.index.ids_with_prefix(&base.to_ascii_lowercase())? {
            candidates.push((format!("version {}", id.short(12)), id));
        }
    }
    match candidates.as_slice() {
        [] => Err(unknown(ws, rev)),
        [(_, id), rest @ ..] if rest.iter().all(|(_, other)| other == id) => Ok(*id),
        _ => Err(Error::AmbiguousRevision {
            rev: rev.to_string(),
            candidates: candidates.into_iter().map(|(what, _)| what).collect(),
        }),
    }
}

fn unknown(ws: &Workspace, rev: &str) -> Error {
    Error::UnknownRevision {
        rev: rev.to_string(),
        datasets: ws.index.datasets().unwrap_or_default(),
        tags: ws
            .index
            .tags()
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect(),
    }
}

/// The prefix of dv URIs.
pub const URI_SCHEME: &str = "dv://";

/// Resolves a `dv://` URI (`dv://DATASET@ID`, `dv://TAG`, or `dv://` followed by any
/// revision); a string without the scheme is resolved as a revision.
pub fn resolve_uri(ws: &Workspace, uri: &str) -> Result<VersionId> {
    let Some(rest) = uri.strip_prefix(URI_SCHEME) else {
        return resolve(ws, uri);
    };
    let invalid = |reason: String| Error::InvalidUri {
        uri: uri.to_string(),
        reason,
    };
    if rest.is_empty() {
        return Err(invalid("nothing follows dv://".into()));
    }
    if let Some((dataset, id)) = rest.split_once('@')
        && !ws.stages().iter().any(|s| s == id)
        && id.len() >= MIN_PREFIX
        && id.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let found = resolve(ws, id)?;
        let version = ws.index.version(&found)?.ok_or_else(|| unknown(ws, id))?;
        if version.dataset != dataset {
            return Err(invalid(format!(
                "version {} belongs to dataset \"{}\", not \"{dataset}\"",
                found.short(12),
                version.dataset
            )));
        }
        return Ok(found);
    }
    resolve(ws, rest)
}
