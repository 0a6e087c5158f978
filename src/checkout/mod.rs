//! Checkout: make a directory hold exactly a version's files.
//!
//! The directory's current content is hashed (stat cache first) and diffed against the version,
//! so only what differs is written or removed. Every file is streamed from the store into a
//! temporary file beside its destination, verified against its hash, then renamed into place:
//! a corrupt object never reaches the destination and an interrupted checkout leaves each file
//! either old or new. Tree names are validated when trees are decoded (no `..`, `/` or NUL),
//! and directories are created component by component without following symlinks, so a
//! version cannot make dv write outside the target.
//!
//! Here: choosing and checking the target (unsaved changes, room on its filesystem); `apply`:
//! writing and removing files in bounded chunks; `code`: the recorded code files.

mod apply;
mod code;

use std::fs;
use std::path::{Path, PathBuf};

use crate::confined::ConfinedDir;
use crate::diff::{Change, ChangeKind, diff_trees, diff_trees_each};
use crate::error::{Error, Result};
use crate::id::VersionId;
use crate::lock::WorkspaceLock;
use crate::object::TreeSource;
use crate::object::tree::Overlay;
use crate::progress::Progress;
use crate::snapshot::working_snapshot;
use crate::workspace::Workspace;
use crate::worktree::{self, Tracked};
use apply::Applier;
pub use code::{checkout_code, write_code_files};

/// What `dv checkout` is told.
#[derive(Clone, Debug)]
pub struct CheckoutRequest {
    pub id: VersionId,
    /// Where to write; by default the directory the dataset is tracked in.
    pub to: Option<PathBuf>,
    /// Overwrite uncommitted changes and untracked files.
    pub force: bool,
}

/// What a checkout did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckoutReport {
    pub id: VersionId,
    /// The directory written to.
    pub target: PathBuf,
    pub written: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub bytes_written: u64,
}

/// Writes a version's files into its target directory.
pub fn checkout(
    ws: &Workspace,
    request: &CheckoutRequest,
    progress: &dyn Progress,
) -> Result<CheckoutReport> {
    checkout_in(ws, request, false, progress)
}

/// Like [`checkout`], for a target named by something other than the user (a lock file): it
/// must lie inside the workspace and is reached from the workspace root without following any
/// symlink, so links that checked-out data made cannot redirect the writes.
pub fn checkout_confined(
    ws: &Workspace,
    request: &CheckoutRequest,
    progress: &dyn Progress,
) -> Result<CheckoutReport> {
    checkout_in(ws, request, true, progress)
}

fn checkout_in(
    ws: &Workspace,
    request: &CheckoutRequest,
    confined: bool,
    progress: &dyn Progress,
) -> Result<CheckoutReport> {
    // A retired version's data may already be gone: refused with the reason, whatever is left.
    crate::lifecycle::ensure_usable(ws, &request.id)?;
    let version = ws.version(&request.id)?;
    let tracked = worktree::load(ws)?;
    let target = match &request.to {
        Some(dir) => crate::fs_util::absolute(dir)?,
        None => {
            let rel = tracked
                .iter()
                .filter(|(_, t)| t.dataset == version.dataset)
                .map(|(rel, _)| rel.clone())
                .max_by_key(|rel| *rel == version.path)
                .unwrap_or_else(|| version.path.clone());
            ws.absolute(&rel)
        }
    };
    let inside = target.starts_with(ws.root());
    let rel = if inside {
        Some(ws.relative(&target)?.1)
    } else if confined {
        return Err(Error::PathOutsideWorkspace {
            path: target,
            workspace: ws.root().to_path_buf(),
        });
    } else {
        None
    };
    // A single-file version is written next to its siblings, into the file's directory.
    let (dir, snapshot_path) = if version.single_file && !target.is_dir() && request.to.is_none() {
        (
            target.parent().map(Path::to_path_buf).unwrap_or_default(),
            target.clone(),
        )
    } else {
        (target.clone(), target.clone())
    };
    // Where the files go: a directory the user named is opened by its path (a symlink to
    // where the data lives included, when the user committed from it); any other target is
    // reached from the workspace root through handles that follow no symlink.
    let user_named = request.to.is_some() && !confined;
    let committed_from = rel.as_ref().is_some_and(|rel| tracked.contains_key(rel));
    let trusted = user_named || (committed_from && is_link_to_dir(&dir));
    let target_dir = match &rel {
        Some(_) if !trusted => TargetDir::Beneath(ws.relative(&dir)?.1),
        _ => {
            let real = match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    match crate::snapshot::resolve_root_link(&dir, meta)? {
                        Some((resolved, meta)) if meta.is_dir() => resolved,
                        _ => dir.clone(),
                    }
                }
                _ => dir.clone(),
            };
            if let Ok(meta) = fs::symlink_metadata(&real)
                && !meta.is_dir()
            {
                let found = if meta.file_type().is_symlink() {
                    "symlink"
                } else {
                    "file"
                };
                return Err(Error::NotADirectory { path: real, found });
            }
            TargetDir::Named(real)
        }
    };
    // Refuse a symlink or file on the way now, before anything is read or written.
    target_dir.open(ws, false)?;
    let dir = match &target_dir {
        TargetDir::Named(real) => real.clone(),
        TargetDir::Beneath(_) => dir,
    };

    // Held until the checkout ends: another checkout into this directory waits (or answers
    // busy) instead of interleaving its files with ours.
    let _directory_lock = WorkspaceLock::acquire_directory(&ws.dv_dir(), &dir)?;
    let working = working_snapshot(ws, &snapshot_path, rel.as_deref(), progress)?;
    let overlay = Overlay {
        store: &ws.store,
        trees: &working.trees,
    };
    let base = rel.as_ref().and_then(|rel| tracked.get(rel));
    if !request.force {
        match base {
            Some(base) => {
                let conflicts = unsaved_changes(ws, &overlay, base, &working.root)?;
                if !conflicts.is_empty() {
                    return Err(uncommitted(&snapshot_path, &conflicts));
                }
            }
            None if working.files > 0 && working.root != version.tree => {
                return Err(Error::TargetNotEmpty {
                    path: snapshot_path,
                });
            }
            None => {}
        }
    }
    // The version's trees declare what it holds (and every walk holds them to it): refuse now,
    // before a byte is written, when the target's filesystem cannot take it.
    let declared = overlay.tree(&version.tree)?;
    check_room(
        &request.id,
        &dir,
        declared.files.saturating_sub(working.files),
        declared.bytes.saturating_sub(working.bytes),
    )?;
    // Note the checkout in progress, so that if it is interrupted the next one can tell the
    // files it already wrote from changes a user made.
    if let Some(rel) = &rel {
        let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
        let in_progress = Tracked {
            dataset: base.map_or(version.dataset.clone(), |b| b.dataset.clone()),
            version: base.map_or(request.id, |b| b.version),
            checking_out: Some(request.id),
        };
        worktree::record(ws, rel, in_progress)?;
    }
    // The changes stream from the diff into bounded chunks, each applied on all cores, so a
    // checkout of millions of files never holds them all.
    let remember = rel.as_ref().map(|rel| (rel.as_str(), version.single_file));
    let expected_bytes = if working.files == 0 { version.bytes } else { 0 };
    let mut applier = Applier::new(
        ws,
        &target_dir,
        request.force,
        remember,
        progress,
        expected_bytes,
    );
    diff_trees_each(&overlay, &working.root, &version.tree, &mut |change| {
        applier.push(change)
    })?;
    let applied = applier.finish()?;
    // Temporary files in the target are a killed checkout's: this one holds the directory's
    // lock, so no live checkout is writing them.
    if working.leftovers
        && let Some(dir) = target_dir.open(ws, false)?
    {
        dir.remove_files_named(crate::fs_util::TEMP_PREFIX.as_bytes())?;
    }
    let report = CheckoutReport {
        id: request.id,
        target: snapshot_path.clone(),
        written: applied.written,
        removed: applied.removed,
        unchanged: version.files.saturating_sub(applied.written),
        bytes_written: applied.bytes_written,
    };
    if let Some(rel) = rel {
        ws.index.stat_cache().apply(&applied.cache_updates, &[])?;
        let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
        worktree::record(ws, &rel, Tracked::at(&version.dataset, request.id))?;
    }
    Ok(report)
}

/// Fails unless the filesystem holding `dir` (or its nearest existing parent) has room for
/// `files` more files and `bytes` more bytes. A filesystem that reports no inode count (btrfs,
/// some network filesystems) is checked for bytes only.
fn check_room(id: &VersionId, dir: &Path, files: u64, bytes: u64) -> Result<()> {
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
    let stats = rustix::fs::statvfs(existing).map_err(|e| Error::io(existing, e.into()))?;
    let bytes_free = stats.f_bavail.saturating_mul(stats.f_frsize);
    let counts_inodes = stats.f_files > 0;
    if (counts_inodes && files > stats.f_favail) || bytes > bytes_free {
        return Err(Error::NoRoom {
            id: *id,
            path: dir.to_path_buf(),
            files_needed: files,
            bytes_needed: bytes,
            files_free: stats.f_favail,
            bytes_free,
        });
    }
    Ok(())
}

/// Changes in the directory that neither the version it holds nor an interrupted checkout put
/// there: a file that differs from the base version and, when a checkout of another version
/// was interrupted, also from that version. Files missing from the directory lose no data and
/// do not count.
fn unsaved_changes(
    ws: &Workspace,
    source: &dyn crate::object::TreeSource,
    base: &Tracked,
    working: &crate::id::TreeId,
) -> Result<Vec<Change>> {
    let Some(base_version) = ws.index.version(&base.version)? else {
        return Ok(Vec::new());
    };
    let changed = diff_trees(source, &base_version.tree, working)?;
    let changed: Vec<Change> = changed
        .into_iter()
        .filter(|c| c.kind != ChangeKind::Removed)
        .collect();
    let Some(target) = base
        .checking_out
        .and_then(|id| ws.index.version(&id).ok().flatten())
    else {
        return Ok(changed);
    };
    let differs_from_target: std::collections::HashSet<Vec<u8>> =
        diff_trees(source, working, &target.tree)?
            .into_iter()
            .map(|c| c.path)
            .collect();
    Ok(changed
        .into_iter()
        .filter(|c| differs_from_target.contains(&c.path))
        .collect())
}

fn uncommitted(path: &Path, changes: &[Change]) -> Error {
    Error::UncommittedChanges {
        path: path.to_path_buf(),
        changes: changes
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c.kind.letter(),
                    crate::fs_util::display_path(&c.path)
                )
            })
            .collect(),
    }
}

/// The directory a checkout writes into.
enum TargetDir {
    /// A directory the user named, opened by its (resolved) path.
    Named(PathBuf),
    /// A workspace-relative directory, reached from the root without following symlinks.
    Beneath(String),
}

impl TargetDir {
    /// Opens it (with `create`, making what is missing); `None` when it does not exist yet.
    fn open(&self, ws: &Workspace, create: bool) -> Result<Option<ConfinedDir>> {
        let opened = match (self, create) {
            (TargetDir::Named(path), true) => ConfinedDir::open_or_create(path),
            (TargetDir::Named(path), false) => ConfinedDir::open(path),
            (TargetDir::Beneath(rel), create) => ConfinedDir::open(ws.root())
                .and_then(|root| root.dir(rel.as_bytes(), create, false)),
        };
        match opened {
            Ok(dir) => Ok(Some(dir)),
            Err(Error::Io { source, .. })
                if !create && source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }
}

/// Whether `path` is a symlink to a directory.
fn is_link_to_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// Splits a `/`-separated path into its directory (empty at the top) and its name.
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}
