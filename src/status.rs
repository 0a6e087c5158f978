//! Status: what changed in a tracked directory since the version it was last committed from or
//! checked out to.

use std::path::Path;

use crate::diff::{Change, diff_trees};
use crate::error::{Error, Result};
use crate::id::VersionId;
use crate::object::tree::Overlay;
use crate::progress::Progress;
use crate::snapshot::working_snapshot;
use crate::workspace::Workspace;
use crate::worktree;

/// The status of one tracked directory.
#[derive(Clone, Debug)]
pub struct Status {
    /// Workspace-relative path of the tracked directory (or file).
    pub path: String,
    pub dataset: String,
    pub base: VersionId,
    /// Changes from the base version to what is on disk, paths relative to `path`.
    pub changes: Vec<Change>,
    /// A checkout of this version into the directory was interrupted.
    pub interrupted_checkout: Option<VersionId>,
}

/// Status of the tracked directory holding `path`, or of every tracked directory.
pub fn status(ws: &Workspace, path: Option<&Path>, progress: &dyn Progress) -> Result<Vec<Status>> {
    let tracked = worktree::load(ws)?;
    let selected: Vec<(String, Option<Vec<u8>>)> = match path {
        None => tracked.keys().map(|k| (k.clone(), None)).collect(),
        Some(path) => {
            let (_, rel) = ws.relative(path)?;
            let owner = tracked
                .keys()
                .filter(|key| key.is_empty() || rel == **key || rel.starts_with(&format!("{key}/")))
                .max_by_key(|key| key.len())
                .ok_or_else(|| Error::NotTracked {
                    path: path.to_path_buf(),
                })?;
            let below = rel
                .strip_prefix(owner.as_str())
                .unwrap_or_default()
                .trim_start_matches('/');
            let filter = (!below.is_empty()).then(|| below.as_bytes().to_vec());
            vec![(owner.clone(), filter)]
        }
    };
    let mut out = Vec::new();
    for (rel, filter) in selected {
        let entry = &tracked[&rel];
        let base = ws.version(&entry.version)?;
        let snap = working_snapshot(ws, &ws.absolute(&rel), Some(&rel), progress)?;
        let overlay = Overlay {
            store: &ws.store,
            trees: &snap.trees,
        };
        let mut changes = diff_trees(&overlay, &base.tree, &snap.root)?;
        if let Some(filter) = filter {
            changes.retain(|c| {
                c.path == filter
                    || (c.path.starts_with(&filter) && c.path.get(filter.len()) == Some(&b'/'))
            });
        }
        out.push(Status {
            path: rel,
            dataset: entry.dataset.clone(),
            base: entry.version,
            changes,
            interrupted_checkout: entry.checking_out,
        });
    }
    Ok(out)
}
