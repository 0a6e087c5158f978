//! Turning a directory (or one file) into trees: walk, hash or store each file, build one tree
//! per directory bottom-up.
//!
//! Follows git's rules: regular files keep their executable bit, symlinks are stored as links
//! (their target is never followed), empty directories are not kept, and `.dv/` plus anything
//! matched by a `.dvignore` file (gitignore syntax) is skipped. Unchanged files are recognised
//! by the stat cache and not read again.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::error::{Error, IoResultExt, Result};
use crate::id::{Hash, TreeId};
use crate::index::stat_cache::now_ns;
use crate::index::{CacheEntry, FileStat};
use crate::object::{Entry, EntryKind, Tree};
use crate::progress::Progress;
use crate::store::{Batch, Kind};
use crate::walk::Found;
use crate::workspace::Workspace;

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
    /// Whether dv temporary files were seen (and skipped): what a killed checkout left.
    pub leftovers: bool,
}

/// A new stat cache entry for a workspace-relative path.
type CacheUpdate = (Vec<u8>, CacheEntry);

/// Snapshots `abs`. When `ws_rel` (its workspace-relative path) is given, the stat cache is
/// consulted and updated; paths outside the workspace are always read in full. `previous`
/// names the trees of versions this one follows (the stage's previous version, the version
/// it was made from): a changed file or directory is stored as a delta against the same
/// path there when that is smaller.
pub fn snapshot(
    ws: &Workspace,
    abs: &Path,
    ws_rel: Option<&str>,
    mode: Mode,
    previous: &[TreeId],
    progress: &dyn Progress,
) -> Result<Snapshot> {
    snapshot_listing(ws, abs, ws_rel, mode, previous, progress, None)
}

/// A wanted file the snapshot has just hashed, told to [`snapshot_listing`]'s listener.
#[derive(Clone, Debug)]
pub struct Listed<'a> {
    /// The path in the snapshot's tree.
    pub rel: &'a [u8],
    /// Where it is on disk.
    pub path: &'a Path,
    /// Its metadata when the snapshot listed it.
    pub stat: FileStat,
    /// Its content's hash (its blob id).
    pub blob: crate::id::Hash,
}

/// Who hears from [`snapshot_listing`] about the files it hashes, and which of them.
pub struct Listener<'a> {
    /// Whether a file (by its path in the tree) is of interest.
    pub wants: &'a (dyn Fn(&[u8]) -> bool + Sync),
    /// Told of each wanted file (not symlinks) once its hash is known, on the thread that read
    /// it, before that thread goes on: a commit profiles a table there, only when no earlier
    /// profile describes that content, while its bytes are still in the page cache.
    pub hashed: &'a (dyn Fn(Listed<'_>) + Sync),
}

/// [`snapshot`], telling `listener` of each wanted file as it is hashed, so a caller can work
/// on them alongside (a commit profiles tables meanwhile).
pub fn snapshot_listing(
    ws: &Workspace,
    abs: &Path,
    ws_rel: Option<&str>,
    mode: Mode,
    previous: &[TreeId],
    progress: &dyn Progress,
    listener: Option<Listener>,
) -> Result<Snapshot> {
    let previous = Previous::new(&ws.store, previous);
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
    let mut leftovers = false;
    let mut found = if is_dir {
        let mut ignore_from: Vec<&Path> = match ws_rel {
            Some(_) => abs
                .ancestors()
                .skip(1)
                .take_while(|dir| dir.starts_with(ws.root()))
                .collect(),
            None => Vec::new(),
        };
        ignore_from.reverse();
        let walked = crate::walk::walk(&source, &ignore_from, &ws.dv_dir())?;
        leftovers = walked.leftovers;
        walked.found
    } else {
        crate::walk::check_supported(&meta, || abs.to_path_buf())?;
        let name = abs
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        vec![Found {
            rel: name,
            stat: FileStat::of(&meta),
        }]
    };
    let prefix: &[u8] = ws_rel.unwrap_or_default().as_bytes();
    let full_key = |rel: &[u8]| -> Vec<u8> {
        let mut key = prefix.to_vec();
        if !key.is_empty() && !rel.is_empty() {
            key.push(b'/');
        }
        key.extend_from_slice(rel);
        key
    };
    // Cache entries are keyed relative to the snapshot root ("" for a single file) and sorted;
    // so are the files found, so one pass pairs them and finds entries whose file is gone.
    let cached = match ws_rel {
        Some(_) => ws.index.stat_cache().load(prefix)?,
        None => crate::index::stat_cache::CacheView::empty(),
    };
    if !found.is_sorted_by(|a, b| a.rel <= b.rel) {
        found.par_sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    }
    fn key_of(file: &Found, is_dir: bool) -> &[u8] {
        if is_dir { &file.rel } else { b"" }
    }
    let mut entries: Vec<Option<CacheEntry>> = Vec::with_capacity(found.len());
    let mut removed: Vec<Vec<u8>> = Vec::new();
    let mut cache = cached.iter().peekable();
    for file in &found {
        let key = key_of(file, is_dir);
        while let Some((gone, _)) = cache.next_if(|(k, _)| *k < key) {
            removed.push(full_key(gone));
        }
        entries.push(cache.next_if(|(k, _)| *k == key).map(|(_, e)| e));
    }
    removed.extend(cache.map(|(gone, _)| full_key(gone)));
    let to_hash: u64 = found
        .iter()
        .zip(&entries)
        .filter(|(f, entry)| !entry.is_some_and(|e| e.vouches_for(&f.stat)))
        .map(|(f, _)| f.stat.size)
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
    // Collected in place (a fallible parallel collect would gather pieces and copy them).
    let mut hashed: Vec<Result<(Entry, Option<CacheUpdate>)>> = Vec::new();
    found
        .par_iter()
        .zip(&entries)
        .map(|(file, cached)| {
            let place = Place {
                source: &source,
                is_dir,
            };
            let stored = batch.map(|batch| Storing {
                batch,
                previous: &previous,
            });
            let (entry, update) =
                hash_one(stored, file, place, cached.as_ref(), scan_started, progress)?;
            if let Some(listener) = &listener
                && !file.stat.is_symlink()
                && (listener.wants)(&file.rel)
            {
                (listener.hashed)(Listed {
                    rel: &file.rel,
                    path: &place.of(file),
                    stat: file.stat,
                    blob: entry.id,
                });
            }
            Ok((entry, update.map(|u| (full_key(key_of(file, is_dir)), u))))
        })
        .collect_into_vec(&mut hashed);
    progress.finish();
    drop(entries);
    drop(cached);

    let mut updates = Vec::new();
    let mut items: Vec<(&[u8], Option<Entry>)> = Vec::with_capacity(found.len());
    for (file, hashed) in found.iter().zip(hashed) {
        let (entry, update) = hashed?;
        if let Some(update) = update {
            updates.push(update);
        }
        items.push((&file.rel, Some(entry)));
    }
    let storing = batch.map(|batch| Storing {
        batch,
        previous: &previous,
    });
    let (tree, subtrees) = build_tree(&mut items, 0, storing)?;
    let mut trees: HashMap<TreeId, Tree> = subtrees.into_iter().collect();
    let id = tree_id(&tree, storing, b"")?;
    if let Some(batch) = owned_batch {
        batch.finish()?;
    }
    // A reader leaves the cache as it is: the next writing command updates it.
    if ws_rel.is_some() && ws.writable() {
        ws.index.stat_cache().apply(&updates, &removed)?;
    }
    let snapshot = Snapshot {
        root: id,
        files: tree.files,
        bytes: tree.bytes,
        trees: HashMap::new(),
        leftovers,
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

/// Where the walked files are: below `source`, or `source` itself for a single file.
#[derive(Clone, Copy)]
struct Place<'a> {
    source: &'a Path,
    is_dir: bool,
}

impl Place<'_> {
    /// The path of a found file, built only for files that are read.
    fn of(&self, file: &Found) -> Cow<'_, Path> {
        if self.is_dir {
            Cow::Owned(self.source.join(crate::fs_util::os_str(&file.rel)))
        } else {
            Cow::Borrowed(self.source)
        }
    }
}

/// Where a commit stores objects, and what it stores them against.
#[derive(Clone, Copy)]
struct Storing<'a> {
    batch: &'a Batch<'a>,
    previous: &'a Previous<'a>,
}

/// A directory in one of the previous versions: the root's position and the path.
type DirKey = (usize, Vec<u8>);

/// The trees of the versions a snapshot follows, loaded directory by directory as changed
/// paths ask for them.
struct Previous<'a> {
    store: &'a crate::store::Store,
    roots: Vec<TreeId>,
    /// Directory path (per root) to its tree, `None` when the path is no directory there.
    loaded: Mutex<HashMap<DirKey, Option<Arc<Tree>>>>,
}

impl<'a> Previous<'a> {
    fn new(store: &'a crate::store::Store, roots: &[TreeId]) -> Self {
        let mut unique = Vec::new();
        for root in roots {
            if !unique.contains(root) {
                unique.push(*root);
            }
        }
        Previous {
            store,
            roots: unique,
            loaded: Mutex::default(),
        }
    }

    /// The entry at a `/`-separated path in the first previous version that has one.
    fn entry(&self, path: &[u8], kind: impl Fn(EntryKind) -> bool) -> Option<Entry> {
        (0..self.roots.len()).find_map(|root| self.entry_in(root, path, &kind))
    }

    fn entry_in(
        &self,
        root: usize,
        path: &[u8],
        kind: &dyn Fn(EntryKind) -> bool,
    ) -> Option<Entry> {
        let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(slash) => (&path[..slash], &path[slash + 1..]),
            None => (&b""[..], path),
        };
        self.tree(root, dir)?
            .get(name)
            .filter(|e| kind(e.kind))
            .cloned()
    }

    /// The id of the directory at `path` (`""` for the root) in the first version having it.
    fn tree_id(&self, path: &[u8]) -> Option<TreeId> {
        if path.is_empty() {
            return self.roots.first().copied();
        }
        self.entry(path, |k| k == EntryKind::Tree)
            .map(|e| TreeId(e.id))
    }

    fn tree(&self, root: usize, dir: &[u8]) -> Option<Arc<Tree>> {
        let key = (root, dir.to_vec());
        if let Some(known) = self
            .loaded
            .lock()
            .expect("no panics under the lock")
            .get(&key)
        {
            return known.clone();
        }
        let id = if dir.is_empty() {
            Some(self.roots[root])
        } else {
            self.entry_in(root, dir, &|k| k == EntryKind::Tree)
                .map(|e| TreeId(e.id))
        };
        // A previous tree that cannot be read only means no delta base.
        let tree = id.and_then(|id| {
            crate::object::tree::TreeSource::tree(self.store, &id)
                .ok()
                .map(Arc::new)
        });
        self.loaded
            .lock()
            .expect("no panics under the lock")
            .insert(key, tree.clone());
        tree
    }
}

/// Hashes (and in `Store` mode stores) one file or symlink, consulting the stat cache.
fn hash_one(
    storing: Option<Storing>,
    file: &Found,
    place: Place,
    cached: Option<&CacheEntry>,
    scan_started: i64,
    progress: &dyn Progress,
) -> Result<(Entry, Option<CacheEntry>)> {
    // The tree builder names the entry.
    let name = Vec::new();
    if file.stat.is_symlink() {
        let abs = place.of(file);
        let target = fs::read_link(&abs).with_path(&abs)?;
        let bytes = target.as_os_str().as_bytes();
        let id = match storing {
            Some(s) => s.batch.put_bytes(Kind::Blob, bytes, None)?,
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
    let kind = if file.stat.is_executable() {
        EntryKind::Executable
    } else {
        EntryKind::File
    };
    if let Some(entry) = cached.filter(|e| e.vouches_for(&file.stat)) {
        // The cache's "stored" flag is a hint, never proof: a commit only names content the
        // store holds now (an object deleted or lost since would otherwise be committed as
        // present). A lookup in the pack indexes or a stat of one loose path.
        let present = storing.is_none_or(|s| s.batch.has(Kind::Blob, &entry.hash));
        if present {
            let update = (storing.is_some() && !entry.stored).then_some(CacheEntry {
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
    let abs = place.of(file);
    let (id, size) = match storing {
        Some(s) => {
            let previous = s
                .previous
                .entry(&file.rel, |k| {
                    matches!(k, EntryKind::File | EntryKind::Executable)
                })
                .map(|e| e.id);
            let stored = s.batch.put_file(&abs, previous.as_ref())?;
            (stored.id, stored.size)
        }
        None => hash_file(&abs)?,
    };
    progress.advance(size);
    // Cache only if the file did not change while it was read.
    let after = fs::symlink_metadata(&abs).with_path(&abs)?;
    let unchanged = CacheEntry::new(&FileStat::of(&after), id, 0, false)
        == CacheEntry::new(&file.stat, id, 0, false);
    let update = unchanged.then(|| {
        let stored = storing.is_some() || cached.is_some_and(|c| c.stored && c.hash == id);
        CacheEntry::new(&file.stat, id, scan_started, stored)
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

/// A tree's id, storing the tree when there is a batch (which hashes it once, for both);
/// `dir` is its path, where the previous version's tree is its delta base.
fn tree_id(tree: &Tree, storing: Option<Storing>, dir: &[u8]) -> Result<TreeId> {
    let encoded = tree.encode();
    Ok(TreeId(match storing {
        Some(s) => {
            let previous = s.previous.tree_id(dir);
            s.batch
                .put_bytes(Kind::Tree, &encoded, previous.as_ref().map(|t| &t.0))?
        }
        None => Hash::of(&encoded),
    }))
}

/// Builds the tree of one directory from its files, sorted by path, whose first `skip` bytes
/// are the directory's own path and `/`. Sorting keeps each subdirectory's files together, so
/// subdirectories are slices, built on all cores. Returns the tree and every tree below it.
fn build_tree(
    items: &mut [(&[u8], Option<Entry>)],
    skip: usize,
    storing: Option<Storing>,
) -> Result<(Tree, Vec<(TreeId, Tree)>)> {
    let mut entries = Vec::new();
    let mut groups = Vec::new();
    let mut rest = items;
    while let Some(&(rel, _)) = rest.first() {
        let tail = &rel[skip..];
        let Some(slash) = tail.iter().position(|&b| b == b'/') else {
            let (first, others) = rest.split_first_mut().expect("not empty");
            let mut entry = first.1.take().expect("each file is placed once");
            entry.name = tail.to_vec();
            entries.push(entry);
            rest = others;
            continue;
        };
        let dir = &rel[..skip + slash + 1];
        let len = rest.iter().take_while(|(r, _)| r.starts_with(dir)).count();
        let (group, others) = rest.split_at_mut(len);
        groups.push((&tail[..slash], &dir[..dir.len() - 1], group));
        rest = others;
    }
    let built = groups
        .into_par_iter()
        .map(|(name, path, group)| {
            let (tree, below) = build_tree(group, skip + name.len() + 1, storing)?;
            // Stored here, on all cores: a changed tree is compressed against its previous
            // version.
            let id = tree_id(&tree, storing, path)?;
            Ok((name, id, tree, below))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut all = Vec::new();
    let mut subtree_files = 0;
    for (name, id, tree, below) in built {
        subtree_files += tree.files;
        entries.push(Entry {
            name: name.to_vec(),
            kind: EntryKind::Tree,
            id: id.0,
            size: tree.bytes,
        });
        all.extend(below);
        all.push((id, tree));
    }
    Ok((Tree::new(entries, subtree_files), all))
}

/// Hashes what is on disk at `abs`; a missing path is an empty tree.
pub fn working_snapshot(
    ws: &Workspace,
    abs: &Path,
    rel: Option<&str>,
    progress: &dyn Progress,
) -> Result<Snapshot> {
    match snapshot(ws, abs, rel, Mode::HashOnly, &[], progress) {
        Err(Error::PathNotFound { .. }) => {
            let empty = Tree::default();
            let root: TreeId = empty.id();
            Ok(Snapshot {
                root,
                files: 0,
                bytes: 0,
                trees: HashMap::from([(root, empty)]),
                leftovers: false,
            })
        }
        other => other,
    }
}
