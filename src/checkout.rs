//! Checkout: make a directory hold exactly a version's files.
//!
//! The directory's current content is hashed (stat cache first) and diffed against the version,
//! so only what differs is written or removed. Every file is streamed from the store into a
//! temporary file beside its destination, verified against its hash, then renamed into place:
//! a corrupt object never reaches the destination and an interrupted checkout leaves each file
//! either old or new. Tree names are validated when trees are decoded (no `..`, `/` or NUL),
//! and directories are created component by component without following symlinks, so a
//! version cannot make dv write outside the target.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::diff::{Change, ChangeKind, diff_trees};
use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::os_str;
use crate::id::{Hash, VersionId};
use crate::index::stat_cache::now_ns;
use crate::index::{CacheEntry, FileStat};
use crate::lock::WorkspaceLock;
use crate::object::EntryKind;
use crate::object::tree::{FileEntry, Overlay};
use crate::progress::Progress;
use crate::status::working_snapshot;
use crate::workspace::Workspace;
use crate::worktree::{self, Tracked};

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
    let version = ws
        .index
        .version(&request.id)?
        .ok_or_else(|| Error::MissingObject {
            kind: "version",
            id: request.id.to_hex(),
        })?;
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
    // A target that is a symlink to a directory is written through (the data lives there).
    let dir = match fs::symlink_metadata(&dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            match crate::snapshot::resolve_root_link(&dir, meta)? {
                Some((resolved, meta)) if meta.is_dir() => resolved,
                _ => dir,
            }
        }
        _ => dir,
    };
    if let Ok(meta) = fs::symlink_metadata(&dir)
        && !meta.is_dir()
    {
        let found = if meta.file_type().is_symlink() {
            "symlink"
        } else {
            "file"
        };
        return Err(Error::NotADirectory { path: dir, found });
    }

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
    let changes = diff_trees(&overlay, &working.root, &version.tree)?;
    // Files go into `dir`: the target, the directory of a single-file version, or the real
    // directory behind a symlinked target.
    let root_dir = &dir;
    apply(ws, root_dir, &changes, request.force, progress)?;
    if base.is_some_and(|b| b.checking_out.is_some()) {
        remove_leftover_temp_files(root_dir)?;
    }
    let written: Vec<&FileEntry> = changes.iter().filter_map(|c| c.new.as_ref()).collect();
    let report = CheckoutReport {
        id: request.id,
        target: snapshot_path.clone(),
        written: written.len() as u64,
        removed: changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Removed)
            .count() as u64,
        unchanged: version.files.saturating_sub(written.len() as u64),
        bytes_written: written.iter().map(|f| f.size).sum(),
    };
    if let Some(rel) = rel {
        remember_written(ws, root_dir, &rel, version.single_file, &written)?;
        let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
        worktree::record(ws, &rel, Tracked::at(&version.dataset, request.id))?;
    }
    Ok(report)
}

/// Deletes the temporary files an interrupted checkout left below `dir`.
fn remove_leftover_temp_files(dir: &Path) -> Result<()> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.with_path(&dir)?;
            let file_type = entry.file_type().with_path(entry.path())?;
            if file_type.is_dir() {
                pending.push(entry.path());
            } else if entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(crate::fs_util::TEMP_PREFIX.as_bytes())
            {
                fs::remove_file(entry.path()).with_path(entry.path())?;
            }
        }
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

/// Removes what the version does not hold, then writes what differs, in parallel.
fn apply(
    ws: &Workspace,
    root: &Path,
    changes: &[Change],
    force: bool,
    progress: &dyn Progress,
) -> Result<()> {
    let mut emptied: BTreeSet<Vec<u8>> = BTreeSet::new();
    for change in changes.iter().filter(|c| c.kind == ChangeKind::Removed) {
        let path = root.join(os_str(&change.path));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&path, e)),
            _ => {}
        }
        let mut parent = change.path.as_slice();
        while let Some(i) = parent.iter().rposition(|&b| b == b'/') {
            parent = &parent[..i];
            emptied.insert(parent.to_vec());
        }
    }
    // Deepest first, so a directory is tried after everything below it; ones that still hold
    // ignored files stay.
    for dir in emptied.iter().rev() {
        let _ = fs::remove_dir(root.join(os_str(dir)));
    }
    let writes: Vec<&FileEntry> = changes.iter().filter_map(|c| c.new.as_ref()).collect();
    progress.begin(
        "Checking out",
        writes.iter().map(|f| f.size).sum(),
        crate::progress::Unit::Bytes,
    );
    fs::create_dir_all(root).with_path(root)?;
    let parents: BTreeSet<&[u8]> = writes
        .iter()
        .filter_map(|f| {
            f.path
                .iter()
                .rposition(|&b| b == b'/')
                .map(|i| &f.path[..i])
        })
        .collect();
    for parent in parents {
        ensure_real_dir(root, parent, force)?;
    }
    let store = &ws.store;
    let first_written = std::sync::atomic::AtomicBool::new(false);
    writes.par_iter().try_for_each(|file| {
        let dest = root.join(os_str(&file.path));
        if fs::symlink_metadata(&dest).is_ok_and(|meta| meta.is_dir()) {
            if !force {
                return Err(Error::TargetNotEmpty { path: dest });
            }
            fs::remove_dir_all(&dest).with_path(&dest)?;
        }
        write_entry(store, &dest, file.kind, &file.id)?;
        if !first_written.swap(true, Ordering::Relaxed) {
            crate::failpoint::hit("checkout", "first-file").with_path(&dest)?;
        }
        progress.advance(file.size);
        Ok(())
    })?;
    crate::failpoint::hit("checkout", "files-written").with_path(root)?;
    progress.finish();
    Ok(())
}

/// Creates `rel` below `root` one component at a time, refusing to pass through a symlink or
/// a file (with `force`, such an obstacle is removed instead).
fn ensure_real_dir(root: &Path, rel: &[u8], force: bool) -> Result<()> {
    let mut path = root.to_path_buf();
    for component in rel.split(|&b| b == b'/') {
        path.push(os_str(component));
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(meta) => {
                if !force {
                    let found = if meta.file_type().is_symlink() {
                        "symlink"
                    } else {
                        "file"
                    };
                    return Err(Error::NotADirectory { path, found });
                }
                fs::remove_file(&path).with_path(&path)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        match fs::create_dir(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(Error::io(&path, e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes one file or symlink through a verified temporary file and renames it into place.
fn write_entry(store: &crate::store::Store, dest: &Path, kind: EntryKind, id: &Hash) -> Result<()> {
    let dir = dest.parent().expect("destinations are below the target");
    if kind == EntryKind::Symlink {
        let target = store.get_bytes(crate::store::Kind::Blob, id)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(
            "{}link-{}-{unique}",
            crate::fs_util::TEMP_PREFIX,
            std::process::id()
        ));
        let _ = fs::remove_file(&temp);
        std::os::unix::fs::symlink(os_str(&target), &temp).with_path(&temp)?;
        return fs::rename(&temp, dest).with_path(dest);
    }
    let mut temp = tempfile::Builder::new()
        .prefix(crate::fs_util::TEMP_PREFIX)
        .tempfile_in(dir)
        .with_path(dir)?;
    let temp_path = temp.path().to_path_buf();
    store.copy_blob(id, temp.as_file_mut(), &temp_path)?;
    let mode = if kind == EntryKind::Executable {
        0o755
    } else {
        0o644
    };
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .with_path(temp.path())?;
    temp.persist(dest).map_err(|e| Error::io(dest, e.error))?;
    Ok(())
}

/// Records the files just written in the stat cache, so the next status does not re-read them.
fn remember_written(
    ws: &Workspace,
    root: &Path,
    rel: &str,
    single_file: bool,
    written: &[&FileEntry],
) -> Result<()> {
    let now = now_ns();
    let mut updates = Vec::new();
    for file in written.iter().filter(|f| f.kind != EntryKind::Symlink) {
        let path = root.join(os_str(&file.path));
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let mut key = rel.as_bytes().to_vec();
        if !single_file {
            if !key.is_empty() {
                key.push(b'/');
            }
            key.extend_from_slice(&file.path);
        }
        updates.push((
            key,
            CacheEntry::new(&FileStat::of(&meta), file.id, now, true),
        ));
    }
    ws.index.stat_cache().apply(&updates, &[])
}

/// Writes the transform code files recorded with a version into `dir`, each verified against
/// its hash, under its recorded workspace-relative path (or its file name, for code that lived
/// outside the workspace). Existing files are only replaced with `force`.
pub fn checkout_code(
    ws: &Workspace,
    id: &VersionId,
    dir: &Path,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let version = ws.index.version(id)?.ok_or_else(|| Error::MissingObject {
        kind: "version",
        id: id.to_hex(),
    })?;
    let dir = crate::fs_util::absolute(dir)?;
    let mut planned = Vec::new();
    for code in &version.code {
        let recorded = Path::new(&code.path);
        let safe = recorded.is_relative()
            && recorded
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        let rel = if safe {
            recorded.to_path_buf()
        } else {
            PathBuf::from(recorded.file_name().unwrap_or_default())
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let dest = dir.join(&rel);
        if !force && fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::FileExists { path: dest });
        }
        planned.push((rel, dest, code.blob));
    }
    fs::create_dir_all(&dir).with_path(&dir)?;
    let mut written = Vec::new();
    for (rel, dest, blob) in planned {
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            ensure_real_dir(&dir, parent.as_os_str().as_encoded_bytes(), force)?;
        }
        write_entry(&ws.store, &dest, EntryKind::File, &blob.0)?;
        written.push(dest);
    }
    Ok(written)
}
