//! Which directories of the workspace hold which version: the base that `status` compares
//! against and that checkout refuses to overwrite when it has uncommitted changes.
//!
//! Stored in `.dv/worktrees.json` (workspace state like git's HEAD, not derived from objects),
//! keyed by the directory's path relative to the workspace root.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fs_util::write_atomic;
use crate::id::VersionId;
use crate::workspace::Workspace;

/// The version a directory was last committed from or checked out to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub dataset: String,
    pub version: VersionId,
    /// Set while a checkout of this version into the directory runs; still set afterwards
    /// means it was interrupted, and the directory may mix `version`'s files and these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checking_out: Option<VersionId>,
}

impl Tracked {
    /// The directory holds `version`.
    pub fn at(dataset: &str, version: VersionId) -> Self {
        Tracked {
            dataset: dataset.to_string(),
            version,
            checking_out: None,
        }
    }
}

/// Every tracked directory, keyed by workspace-relative path.
pub type Worktrees = BTreeMap<String, Tracked>;

fn state_path(ws: &Workspace) -> std::path::PathBuf {
    ws.dv_dir().join("worktrees.json")
}

/// Reads the tracked directories.
pub fn load(ws: &Workspace) -> Result<Worktrees> {
    let path = state_path(ws);
    let Some(bytes) = crate::fs_util::read_bounded(&path, crate::fs_util::MAX_STATE_BYTES)? else {
        return Ok(Worktrees::new());
    };
    let worktrees: Worktrees = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    // The file may come from a copied workspace: every directory must be a safe relative path.
    for (rel, tracked) in &worktrees {
        if !rel.is_empty() {
            crate::names::check_relative_path("tracked directory", rel).map_err(|reason| {
                Error::Config {
                    path: path.clone(),
                    message: reason,
                }
            })?;
        }
        crate::names::check("dataset", &tracked.dataset)?;
    }
    Ok(worktrees)
}

/// Records that `rel` now holds `tracked`. Call with the workspace lock held.
pub fn record(ws: &Workspace, rel: &str, tracked: Tracked) -> Result<()> {
    let mut all = load(ws)?;
    if all.get(rel) == Some(&tracked) {
        return Ok(());
    }
    all.insert(rel.to_string(), tracked);
    let text = serde_json::to_string_pretty(&all).expect("worktrees serialize") + "\n";
    write_atomic(&state_path(ws), text.as_bytes(), "worktree")
}
