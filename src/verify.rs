//! Verification: proving that a directory holds exactly one version — no missing, extra or
//! changed file, executable bits and symlinks included. This is what a training job runs
//! before it starts.

use std::path::{Path, PathBuf};

use crate::diff::{Change, PathFilter, diff_filtered};
use crate::error::Result;
use crate::id::VersionId;
use crate::object::tree::Overlay;
use crate::progress::Progress;
use crate::snapshot::working_snapshot;
use crate::workspace::Workspace;

/// The outcome of verifying one directory.
#[derive(Clone, Debug)]
pub struct Verification {
    pub id: VersionId,
    pub dir: PathBuf,
    /// Files in the version.
    pub files: u64,
    /// Differences from the version to the directory: `Added` is an extra file, `Removed` a
    /// missing one; the first [`MAX_LISTED_DIFFERENCES`] in path order. Empty when the
    /// directory matches.
    pub changes: Vec<Change>,
    /// Differences past those listed, counted (a missing or extra directory by the files its
    /// tree declares, without walking it).
    pub unlisted: u64,
}

/// Most differences a verification lists: enough to see what went wrong, and bounded however
/// far the directory is from the version.
pub const MAX_LISTED_DIFFERENCES: usize = 10_000;

impl Verification {
    pub fn ok(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Compares `dir` with version `id`. By default every file is re-hashed (in parallel); with
/// `fast`, files whose stat-cache entry vouches for them are trusted.
pub fn verify(
    ws: &Workspace,
    id: &VersionId,
    dir: &Path,
    fast: bool,
    progress: &dyn Progress,
) -> Result<Verification> {
    let version = ws.version(id)?;
    let dir = crate::fs_util::absolute(dir)?;
    // A single-file version is the one file of that name inside the directory.
    let checked = match (&version.single_file, version.path.rsplit('/').next()) {
        (true, Some(name)) if !name.is_empty() => dir.join(name),
        _ => dir.clone(),
    };
    let cache_key = if fast && checked.starts_with(ws.root()) {
        ws.relative(&checked).ok().map(|(_, rel)| rel)
    } else {
        None
    };
    let working = working_snapshot(ws, &checked, cache_key.as_deref(), progress)?;
    let overlay = Overlay {
        store: &ws.store,
        trees: &working.trees,
    };
    let changes = std::cell::RefCell::new(Vec::new());
    let unlisted = std::cell::Cell::new(0u64);
    let full = || changes.borrow().len() >= MAX_LISTED_DIFFERENCES;
    diff_filtered(
        &overlay,
        &version.tree,
        &working.root,
        &PathFilter::default(),
        &mut |dir| {
            if full() {
                unlisted.set(unlisted.get().saturating_add(dir.tree.files));
            }
            Ok(full())
        },
        &mut |change| {
            if full() {
                unlisted.set(unlisted.get() + 1);
            } else {
                changes.borrow_mut().push(change);
            }
            Ok(())
        },
    )?;
    Ok(Verification {
        id: *id,
        dir,
        files: version.files,
        changes: changes.into_inner(),
        unlisted: unlisted.get(),
    })
}
