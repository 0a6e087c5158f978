//! Checkout: make a directory hold exactly a version's files.
//!
//! The directory's current content is hashed (stat cache first) and diffed against the version,
//! so only what differs is written or removed. Every file is streamed from the store into a
//! temporary file beside its destination, verified against its hash, then renamed into place:
//! a corrupt object never reaches the destination and an interrupted checkout leaves each file
//! either old or new. Tree names are validated when trees are decoded (no `..`, `/` or NUL),
//! and directories are created component by component without following symlinks, so a
//! version cannot make dv write outside the target.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use crate::confined::{ConfinedDir, Found};
use crate::diff::{Change, ChangeKind, diff_trees, diff_trees_each};
use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::os_str;
use crate::id::{Hash, VersionId};
use crate::index::stat_cache::now_ns;
use crate::index::{CacheEntry, FileStat};
use crate::lock::WorkspaceLock;
use crate::object::tree::{FileEntry, Overlay};
use crate::object::{EntryKind, TreeSource};
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
            id: id.to_hex(),
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

/// How many changes are applied together: enough to keep every core busy, few enough that a
/// checkout's memory does not grow with the version.
const CHUNK_CHANGES: usize = 8192;

/// What applying a checkout's changes did.
#[derive(Default)]
struct Applied {
    written: u64,
    removed: u64,
    bytes_written: u64,
    /// Stat-cache entries for the files written, so the next status does not re-read them.
    cache_updates: Vec<(Vec<u8>, CacheEntry)>,
}

/// Applies a stream of changes in chunks: in each, removals first, then writes, grouped by
/// directory and run in parallel, one directory handle per directory. Directories emptied by
/// removals are removed at the end, deepest first.
struct Applier<'a> {
    ws: &'a Workspace,
    target: &'a TargetDir,
    /// The target, opened (and made) when the first change is applied: a checkout that fails
    /// before writing anything (a damaged tree, say) leaves no directory behind.
    root: Option<ConfinedDir>,
    force: bool,
    /// The workspace-relative path of the target and whether the version is a single file,
    /// when written files are remembered in the stat cache.
    remember: Option<(&'a str, bool)>,
    progress: &'a dyn Progress,
    pending: Vec<Change>,
    emptied: BTreeSet<Vec<u8>>,
    first_written: std::sync::atomic::AtomicBool,
    applied: Applied,
}

impl<'a> Applier<'a> {
    fn new(
        ws: &'a Workspace,
        target: &'a TargetDir,
        force: bool,
        remember: Option<(&'a str, bool)>,
        progress: &'a dyn Progress,
        expected_bytes: u64,
    ) -> Self {
        progress.begin("Checking out", expected_bytes, crate::progress::Unit::Bytes);
        Applier {
            ws,
            target,
            root: None,
            force,
            remember,
            progress,
            pending: Vec::with_capacity(CHUNK_CHANGES),
            emptied: BTreeSet::new(),
            first_written: std::sync::atomic::AtomicBool::new(false),
            applied: Applied::default(),
        }
    }

    fn push(&mut self, change: Change) -> Result<()> {
        self.pending.push(change);
        if self.pending.len() >= CHUNK_CHANGES {
            self.flush()?;
        }
        Ok(())
    }

    /// The target directory, opened (and made) on first use.
    fn root(&mut self) -> Result<&ConfinedDir> {
        if self.root.is_none() {
            let opened = self.target.open(self.ws, true)?;
            self.root = Some(opened.expect("a directory just made exists"));
        }
        Ok(self.root.as_ref().expect("opened above"))
    }

    fn finish(mut self) -> Result<Applied> {
        self.flush()?;
        self.root()?;
        let root = self.root.as_ref().expect("opened above");
        // Deepest first, so a directory is tried after everything below it; ones that still
        // hold ignored files stay.
        for path in self.emptied.iter().rev() {
            let (parent, name) = split_parent(path);
            if let Ok(dir) = root.dir(parent, false, false) {
                dir.remove_empty_dir(os_str(name));
            }
        }
        crate::failpoint::hit("checkout", "files-written").with_path(root.path())?;
        self.progress.finish();
        Ok(self.applied)
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending);
        self.root()?;
        let root = self.root.as_ref().expect("opened above");
        let mut removals: BTreeMap<&[u8], Vec<&[u8]>> = BTreeMap::new();
        for change in chunk.iter().filter(|c| c.kind == ChangeKind::Removed) {
            let (parent, name) = split_parent(&change.path);
            removals.entry(parent).or_default().push(name);
            let mut above = parent;
            while !above.is_empty() && self.emptied.insert(above.to_vec()) {
                above = split_parent(above).0;
            }
            self.applied.removed += 1;
        }
        for (parent, names) in &removals {
            // A directory that is gone or not a directory holds nothing to remove.
            let Ok(dir) = root.dir(parent, false, false) else {
                continue;
            };
            for name in names {
                dir.remove_file(os_str(name))?;
            }
        }
        let mut writes: BTreeMap<&[u8], Vec<&FileEntry>> = BTreeMap::new();
        for file in chunk.iter().filter_map(|c| c.new.as_ref()) {
            writes
                .entry(split_parent(&file.path).0)
                .or_default()
                .push(file);
        }
        let groups: Vec<(&[u8], Vec<&FileEntry>)> = writes.into_iter().collect();
        let (store, force, progress) = (&self.ws.store, self.force, self.progress);
        let first_written = &self.first_written;
        let remember = self.remember;
        let written: Vec<Vec<(Vec<u8>, CacheEntry)>> = groups
            .par_iter()
            .map(|(parent, files)| {
                let dir = root.dir(parent, true, force)?;
                let mut remembered = Vec::new();
                for file in files {
                    let name = os_str(split_parent(&file.path).1);
                    if dir.find(name)? == Found::Directory {
                        if !force {
                            return Err(Error::TargetNotEmpty {
                                path: dir.path().join(name),
                            });
                        }
                        dir.remove_dir_all(name)?;
                    }
                    write_entry(store, &dir, name, file.kind, &file.id)?;
                    if !first_written.swap(true, Ordering::Relaxed) {
                        crate::failpoint::hit("checkout", "first-file").with_path(dir.path())?;
                    }
                    progress.advance(file.size);
                    if let Some(update) = cache_entry(remember, &dir, name, file) {
                        remembered.push(update);
                    }
                }
                Ok(remembered)
            })
            .collect::<Result<_>>()?;
        for file in chunk.iter().filter_map(|c| c.new.as_ref()) {
            self.applied.written += 1;
            self.applied.bytes_written = self.applied.bytes_written.saturating_add(file.size);
        }
        self.applied
            .cache_updates
            .extend(written.into_iter().flatten());
        Ok(())
    }
}

/// The stat-cache entry for a file just written, keyed by its workspace path (`remember`: the
/// target's workspace-relative path and whether the version is a single file). Symlinks are
/// not cached.
fn cache_entry(
    remember: Option<(&str, bool)>,
    dir: &ConfinedDir,
    name: &std::ffi::OsStr,
    file: &FileEntry,
) -> Option<(Vec<u8>, CacheEntry)> {
    let (rel, single_file) = remember?;
    if file.kind == EntryKind::Symlink {
        return None;
    }
    let meta = fs::symlink_metadata(dir.path().join(name)).ok()?;
    let mut key = rel.as_bytes().to_vec();
    if !single_file {
        if !key.is_empty() {
            key.push(b'/');
        }
        key.extend_from_slice(&file.path);
    }
    Some((
        key,
        CacheEntry::new(&FileStat::of(&meta), file.id, now_ns(), true),
    ))
}

/// Writes one file or symlink into `dir` through a verified temporary file, then renames it
/// over `name` (replacing whatever is there, a symlink included, without following it).
fn write_entry(
    store: &crate::store::Store,
    dir: &ConfinedDir,
    name: &std::ffi::OsStr,
    kind: EntryKind,
    id: &Hash,
) -> Result<()> {
    let temp = if kind == EntryKind::Symlink {
        let target = store.get_bytes(crate::store::Kind::Blob, id)?;
        dir.temp_symlink(os_str(&target))?
    } else {
        let mode = if kind == EntryKind::Executable {
            0o755
        } else {
            0o644
        };
        let (mut file, temp) = dir.temp_file(0o600)?;
        let temp_path = dir.path().join(&temp);
        let written = store.copy_blob(id, &mut file, &temp_path).and_then(|_| {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .with_path(&temp_path)
        });
        if let Err(err) = written {
            let _ = dir.remove_file(&temp);
            return Err(err);
        }
        temp
    };
    dir.rename(&temp, name).inspect_err(|_| {
        let _ = dir.remove_file(&temp);
    })
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
    let version = ws.version(id)?;
    write_code_files(ws, &version.code, dir, force)
}

/// Writes code files into `dir` as [`checkout_code`] does.
pub fn write_code_files(
    ws: &Workspace,
    files: &[crate::object::CodeFile],
    dir: &Path,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let dir = ConfinedDir::open_or_create(&crate::fs_util::absolute(dir)?)?;
    let mut planned = Vec::new();
    for code in files {
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
        let dest = dir.path().join(&rel);
        if !force && fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::FileExists { path: dest });
        }
        planned.push((rel, dest, code.blob));
    }
    let mut written = Vec::new();
    for (rel, dest, blob) in planned {
        let (parent, name) = split_parent(rel.as_os_str().as_encoded_bytes());
        let parent_dir = dir.dir(parent, true, force)?;
        write_entry(
            &ws.store,
            &parent_dir,
            os_str(name),
            EntryKind::File,
            &blob.0,
        )?;
        written.push(dest);
    }
    Ok(written)
}
