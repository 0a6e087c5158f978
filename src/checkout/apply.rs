//! Applying a checkout's changes: in chunks of bounded size, removals first, then writes grouped
//! by directory on all cores, each file streamed from the store into a temporary file beside
//! its destination, verified, then renamed into place.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::{TargetDir, split_parent};
use crate::confined::{ConfinedDir, Found};
use crate::diff::{Change, ChangeKind};
use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::os_str;
use crate::id::Hash;
use crate::index::stat_cache::now_ns;
use crate::index::{CacheEntry, FileStat};
use crate::object::EntryKind;
use crate::object::tree::FileEntry;
use crate::progress::Progress;
use crate::workspace::Workspace;

/// How many changes are applied together: enough to keep every core busy, few enough that a
/// checkout's memory does not grow with the version.
const CHUNK_CHANGES: usize = 8192;

/// What applying a checkout's changes did.
#[derive(Default)]
pub(super) struct Applied {
    pub(super) written: u64,
    pub(super) removed: u64,
    pub(super) bytes_written: u64,
    /// Stat-cache entries for the files written, so the next status does not re-read them.
    pub(super) cache_updates: Vec<(Vec<u8>, CacheEntry)>,
}

/// Applies a stream of changes in chunks: in each, removals first, then writes, grouped by
/// directory and run in parallel, one directory handle per directory. Directories emptied by
/// removals are removed at the end, deepest first.
pub(super) struct Applier<'a> {
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
    pub(super) fn new(
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

    pub(super) fn push(&mut self, change: Change) -> Result<()> {
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

    pub(super) fn finish(mut self) -> Result<Applied> {
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
pub(super) fn write_entry(
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
