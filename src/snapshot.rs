//! Turning a directory (or one file) into trees: walk, hash or store each file, build one tree
//! per directory bottom-up.
//!
//! Follows git's rules: regular files keep their executable bit, symlinks are stored as links
//! (their target is never followed), empty directories are not kept, and `.dv/` plus anything
//! matched by a `.dvignore` file (gitignore syntax) is skipped. Unchanged files are recognised
//! by the stat cache and not read again.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, IoResultExt, Result};
use crate::id::{Hash, TreeId};
use crate::index::CacheEntry;
use crate::index::stat_cache::now_ns;
use crate::object::{Entry, EntryKind, Tree};
use crate::progress::Progress;
use crate::store::{Batch, Kind};
use crate::workspace::{DV_DIR, Workspace};

/// Whether a snapshot writes objects (commit) or only computes ids (status, diff).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Store,
    HashOnly,
}

/// The result of snapshotting a path.
#[derive(Debug)]
pub struct Snapshot {
    pub root: TreeId,
    pub files: u64,
    pub bytes: u64,
    /// Every tree built, including those not written to the store (in `HashOnly` mode).
    pub trees: HashMap<TreeId, Tree>,
}

/// A new stat cache entry for a workspace-relative path.
type CacheUpdate = (Vec<u8>, CacheEntry);

/// A file found by the walk, before hashing.
struct Found {
    /// Path relative to the snapshot root, `/`-separated bytes.
    rel: Vec<u8>,
    abs: PathBuf,
    meta: Metadata,
}

/// Snapshots `abs`. When `ws_rel` (its workspace-relative path) is given, the stat cache is
/// consulted and updated; paths outside the workspace are always read in full.
pub fn snapshot(
    ws: &Workspace,
    abs: &Path,
    ws_rel: Option<&str>,
    mode: Mode,
    progress: &dyn Progress,
) -> Result<Snapshot> {
    let scan_started = now_ns();
    let meta = match fs::symlink_metadata(abs) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::PathNotFound {
                path: abs.to_path_buf(),
            });
        }
        Err(e) => return Err(Error::io(abs, e)),
    };
    // The path given is followed when it is a symlink (data directories often live on another
    // disk behind a link); symlinks inside it are stored as links.
    let (source, meta) = match resolve_root_link(abs, meta)? {
        Some((resolved, meta)) => (resolved, meta),
        None => {
            return Err(Error::PathNotFound {
                path: abs.to_path_buf(),
            });
        }
    };
    let is_dir = meta.is_dir();
    let found = if is_dir {
        walk(&source, &ws.dv_dir())?
    } else {
        check_supported(abs, &meta)?;
        let name = abs
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        vec![Found {
            rel: name,
            abs: source,
            meta,
        }]
    };
    let prefix: Vec<u8> = ws_rel.unwrap_or_default().as_bytes().to_vec();
    let cache_key = |rel: &[u8]| -> Vec<u8> {
        if !is_dir {
            return prefix.clone();
        }
        let mut key = prefix.clone();
        if !key.is_empty() {
            key.push(b'/');
        }
        key.extend_from_slice(rel);
        key
    };
    let cached = match ws_rel {
        Some(_) => ws.index.stat_cache().load(&prefix)?,
        None => HashMap::new(),
    };
    let keys: Vec<Vec<u8>> = found.iter().map(|f| cache_key(&f.rel)).collect();
    let to_hash: u64 = found
        .iter()
        .zip(&keys)
        .filter(|(f, key)| !cached.get(*key).is_some_and(|e| e.vouches_for(&f.meta)))
        .map(|(f, _)| f.meta.len())
        .sum();
    progress.begin(
        if mode == Mode::Store {
            "Storing"
        } else {
            "Hashing"
        },
        to_hash,
        crate::progress::Unit::Bytes,
    );
    // In Store mode, blobs and trees become durable together, before the stat cache may say so.
    let owned_batch = (mode == Mode::Store).then(|| ws.store.batch());
    let batch = owned_batch.as_ref();
    let hashed: Vec<(Entry, Option<CacheUpdate>)> = found
        .par_iter()
        .zip(&keys)
        .map(|(file, key)| {
            let result = hash_one(batch, file, cached.get(key), scan_started, progress)?;
            Ok((result.0, result.1.map(|entry| (key.clone(), entry))))
        })
        .collect::<Result<_>>()?;
    progress.finish();

    let mut updates = Vec::new();
    let mut root = Dir::default();
    for (file, (entry, update)) in found.iter().zip(hashed) {
        if let Some(update) = update {
            updates.push(update);
        }
        root.insert(&file.rel, entry);
    }
    let seen: std::collections::HashSet<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let removed: Vec<Vec<u8>> = cached
        .keys()
        .filter(|k| !seen.contains(k.as_slice()))
        .cloned()
        .collect();
    let mut trees = HashMap::new();
    let tree = root.build(batch, &mut trees)?;
    let id = tree.id();
    if let Some(batch) = batch {
        batch.put_bytes(Kind::Tree, &tree.encode())?;
    }
    if let Some(batch) = owned_batch {
        batch.finish()?;
    }
    if ws_rel.is_some() {
        ws.index.stat_cache().apply(&updates, &removed)?;
    }
    let snapshot = Snapshot {
        root: id,
        files: tree.files,
        bytes: tree.bytes,
        trees: HashMap::new(),
    };
    trees.insert(id, tree);
    Ok(Snapshot { trees, ..snapshot })
}

/// Follows `path` when it is a symlink: returns the real path and its metadata, `None` for a
/// dangling link, or the path itself when it is not a link.
pub fn resolve_root_link(path: &Path, meta: Metadata) -> Result<Option<(PathBuf, Metadata)>> {
    if !meta.file_type().is_symlink() {
        return Ok(Some((path.to_path_buf(), meta)));
    }
    match fs::canonicalize(path) {
        Ok(resolved) => {
            let meta = fs::symlink_metadata(&resolved).with_path(&resolved)?;
            Ok(Some((resolved, meta)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Hashes (and in `Store` mode stores) one file or symlink, consulting the stat cache.
fn hash_one(
    batch: Option<&Batch>,
    file: &Found,
    cached: Option<&CacheEntry>,
    scan_started: i64,
    progress: &dyn Progress,
) -> Result<(Entry, Option<CacheEntry>)> {
    let name = file
        .rel
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or(&file.rel)
        .to_vec();
    if file.meta.file_type().is_symlink() {
        let target = fs::read_link(&file.abs).with_path(&file.abs)?;
        let bytes = target.as_os_str().as_bytes();
        let id = match batch {
            Some(batch) => batch.put_bytes(Kind::Blob, bytes)?,
            None => Hash::of(bytes),
        };
        return Ok((
            Entry {
                name,
                kind: EntryKind::Symlink,
                id,
                size: bytes.len() as u64,
            },
            None,
        ));
    }
    let kind = if file.meta.mode() & 0o100 != 0 {
        EntryKind::Executable
    } else {
        EntryKind::File
    };
    if let Some(entry) = cached.filter(|e| e.vouches_for(&file.meta)) {
        let known_stored = entry.stored || batch.is_none_or(|b| b.has(Kind::Blob, &entry.hash));
        if known_stored {
            let update = (batch.is_some() && !entry.stored).then_some(CacheEntry {
                stored: true,
                ..*entry
            });
            return Ok((
                Entry {
                    name,
                    kind,
                    id: entry.hash,
                    size: entry.size,
                },
                update,
            ));
        }
    }
    let (id, size) = match batch {
        Some(batch) => {
            let stored = batch.put_file(&file.abs)?;
            (stored.id, stored.size)
        }
        None => hash_file(&file.abs)?,
    };
    progress.advance(size);
    // Cache only if the file did not change while it was read.
    let after = fs::symlink_metadata(&file.abs).with_path(&file.abs)?;
    let unchanged =
        CacheEntry::new(&after, id, 0, false) == CacheEntry::new(&file.meta, id, 0, false);
    let update = unchanged.then(|| {
        let stored = batch.is_some() || cached.is_some_and(|c| c.stored && c.hash == id);
        CacheEntry::new(&file.meta, id, scan_started, stored)
    });
    Ok((
        Entry {
            name,
            kind,
            id,
            size,
        },
        update,
    ))
}

/// Streams a file through blake3 without storing it.
pub fn hash_file(path: &Path) -> Result<(Hash, u64)> {
    let file = fs::File::open(path).with_path(path)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).with_path(path)?;
    Ok((hasher.finalize().into(), hasher.count()))
}

fn check_supported(path: &Path, meta: &Metadata) -> Result<()> {
    let ft = meta.file_type();
    let kind = if ft.is_fifo() {
        "named pipe"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        return Ok(());
    };
    Err(Error::UnsupportedFileType {
        path: path.to_path_buf(),
        kind,
    })
}

/// Lists every file and symlink under `root`, honouring `.dvignore` and skipping `dv_dir`.
/// Directories are read, and files stat'ed, on all cores; the order of the result is not
/// defined (trees sort their entries).
fn walk(root: &Path, dv_dir: &Path) -> Result<Vec<Found>> {
    let dv_dir = dv_dir.to_path_buf();
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        // .dvignore files in parent directories (the workspace root's, say) apply too.
        .parents(true)
        .add_custom_ignore_filename(".dvignore")
        .follow_links(false)
        // No `.dv` directory is data: not this workspace's, nor a nested workspace's.
        .filter_entry(move |entry| {
            let name = entry.file_name().as_bytes();
            entry.path() != dv_dir
                && !(name == DV_DIR.as_bytes() && entry.file_type().is_some_and(|t| t.is_dir()))
                && !name.starts_with(crate::fs_util::TEMP_PREFIX.as_bytes())
        })
        .build_parallel();
    let found = std::sync::Mutex::new(Vec::new());
    let failure = std::sync::Mutex::new(None);
    walker.run(|| {
        let failure = &failure;
        let mut local = Collector {
            files: Vec::new(),
            shared: &found,
        };
        Box::new(move |entry| {
            let visited = entry
                .map_err(|e| walk_error(root, e))
                .and_then(|entry| visit(root, &entry));
            match visited {
                Ok(Some(file)) => local.files.push(file),
                Ok(None) => {}
                Err(err) => {
                    failure
                        .lock()
                        .expect("no panics while holding the lock")
                        .get_or_insert(err);
                    return ignore::WalkState::Quit;
                }
            }
            ignore::WalkState::Continue
        })
    });
    if let Some(err) = failure
        .into_inner()
        .expect("no panics while holding the lock")
    {
        return Err(err);
    }
    Ok(found
        .into_inner()
        .expect("no panics while holding the lock"))
}

/// One walker thread's files, handed over when the thread's visitor is dropped.
struct Collector<'a> {
    files: Vec<Found>,
    shared: &'a std::sync::Mutex<Vec<Found>>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.append(&mut self.files);
        }
    }
}

/// One walked entry: a file or symlink to snapshot, or nothing (the root, a directory).
fn visit(root: &Path, entry: &ignore::DirEntry) -> Result<Option<Found>> {
    if entry.depth() == 0 || entry.file_type().is_some_and(|t| t.is_dir()) {
        return Ok(None);
    }
    let meta = fs::symlink_metadata(entry.path()).with_path(entry.path())?;
    if meta.is_dir() {
        return Ok(None);
    }
    check_supported(entry.path(), &meta)?;
    let rel = entry
        .path()
        .strip_prefix(root)
        .expect("walk stays below its root");
    let rel = rel.as_os_str().as_bytes().to_vec();
    if rel.iter().filter(|&&b| b == b'/').count() >= crate::object::tree::MAX_DEPTH {
        let max = crate::object::tree::MAX_DEPTH;
        return Err(Error::TooDeep {
            path: entry.path().to_path_buf(),
            max,
        });
    }
    Ok(Some(Found {
        rel,
        abs: entry.path().to_path_buf(),
        meta,
    }))
}

fn walk_error(root: &Path, err: ignore::Error) -> Error {
    let mut path = root.to_path_buf();
    let mut current = &err;
    loop {
        match current {
            ignore::Error::WithPath { path: p, err } => {
                path = p.clone();
                current = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                current = err
            }
            ignore::Error::Io(io) => {
                return Error::io(path, std::io::Error::new(io.kind(), io.to_string()));
            }
            other => {
                return Error::io(path, std::io::Error::other(other.to_string()));
            }
        }
    }
}

/// A directory being assembled from file paths.
#[derive(Default)]
struct Dir {
    files: Vec<Entry>,
    dirs: BTreeMap<Vec<u8>, Dir>,
}

impl Dir {
    fn insert(&mut self, rel: &[u8], entry: Entry) {
        let Some(i) = rel.iter().position(|&b| b == b'/') else {
            self.files.push(entry);
            return;
        };
        let (name, rest) = (&rel[..i], &rel[i + 1..]);
        // Look up before inserting, so only a new directory allocates its name.
        match self.dirs.get_mut(name) {
            Some(dir) => dir.insert(rest, entry),
            None => self
                .dirs
                .entry(name.to_vec())
                .or_default()
                .insert(rest, entry),
        }
    }

    fn build(self, batch: Option<&Batch>, trees: &mut HashMap<TreeId, Tree>) -> Result<Tree> {
        let mut entries = self.files;
        let mut subtree_files = 0;
        for (name, dir) in self.dirs {
            let tree = dir.build(batch, trees)?;
            let encoded = tree.encode();
            let id = TreeId(Hash::of(&encoded));
            subtree_files += tree.files;
            entries.push(Entry {
                name,
                kind: EntryKind::Tree,
                id: id.0,
                size: tree.bytes,
            });
            if let Some(batch) = batch {
                batch.put_bytes(Kind::Tree, &encoded)?;
            }
            trees.insert(id, tree);
        }
        Ok(Tree::new(entries, subtree_files))
    }
}
