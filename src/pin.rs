//! Lock files: pinning exact dataset versions for training configs.
//!
//! A lock file (`dv.lock` by default, at the workspace root) is JSON with a format number and a
//! list of pins `{name, dataset, id, tree, stage, path}`, sorted by name and pretty-printed so
//! it diffs well in git. It always names full, immutable ids, whatever revision was given.
//! `path` is where the training code expects the data, relative to the lock file's directory;
//! it must stay inside the workspace. Lock files may come from elsewhere, so reading one
//! validates every field before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::{self, write_atomic};
use crate::id::{TreeId, VersionId};
use crate::lock::WorkspaceLock;
use crate::workspace::Workspace;

/// The lock file format this dv writes and the newest it reads.
pub const LOCK_FORMAT: u32 = 1;
/// The lock file used when none is named.
pub const DEFAULT_LOCK: &str = "dv.lock";
/// Lock files larger than this are refused rather than read.
const MAX_LOCK_BYTES: u64 = 16 << 20;

/// One pinned version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub name: String,
    pub dataset: String,
    pub id: VersionId,
    pub tree: TreeId,
    pub stage: String,
    /// Where the data goes, relative to the lock file's directory, `/`-separated.
    pub path: String,
}

/// A whole lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    pub format: u32,
    pub pins: Vec<Pin>,
}

impl LockFile {
    /// An empty lock file.
    pub fn new() -> Self {
        LockFile {
            format: LOCK_FORMAT,
            pins: Vec::new(),
        }
    }

    /// The pin called `name`.
    pub fn get(&self, name: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.name == name)
    }

    /// The pins called `names` (all of them when `names` is empty), failing on unknown names.
    pub fn select(&self, lock: &Path, names: &[String]) -> Result<Vec<Pin>> {
        if names.is_empty() {
            return Ok(self.pins.clone());
        }
        names
            .iter()
            .map(|name| {
                self.get(name).cloned().ok_or_else(|| Error::PinNotFound {
                    name: name.clone(),
                    lock: lock.to_path_buf(),
                    known: self.pins.iter().map(|p| p.name.clone()).collect(),
                })
            })
            .collect()
    }
}

impl Default for LockFile {
    fn default() -> Self {
        LockFile::new()
    }
}

/// Where the lock file is: the given path, or `dv.lock` at the workspace root.
pub fn lock_path(ws: &Workspace, given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(path) => fs_util::absolute(path),
        None => Ok(ws.root().join(DEFAULT_LOCK)),
    }
}

/// Reads and validates a lock file; a missing file is an empty one when `missing_ok`.
pub fn read_lock(ws: &Workspace, path: &Path, missing_ok: bool) -> Result<LockFile> {
    let bad = |message: String| Error::BadLockFile {
        path: path.to_path_buf(),
        message,
    };
    let bytes = match fs_util::read_bounded(path, MAX_LOCK_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) if missing_ok => return Ok(LockFile::new()),
        Ok(None) => {
            return Err(Error::PathNotFound {
                path: path.to_path_buf(),
            });
        }
        Err(Error::FileTooLarge { max, .. }) => {
            return Err(bad(format!(
                "it is larger than {max} bytes, more than a lock file can be"
            )));
        }
        Err(Error::NotARegularFile { found, .. }) => {
            return Err(bad(format!("it is a {found}, not a regular file")));
        }
        Err(other) => return Err(other),
    };
    let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "invalid JSON at line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    let format = value
        .get("format")
        .and_then(|f| f.as_u64())
        .ok_or_else(|| bad("it has no \"format\" number".into()))?;
    if format > u64::from(LOCK_FORMAT) {
        return Err(bad(format!(
            "it uses lock format {format}, newer than this dv understands ({LOCK_FORMAT}); upgrade dv"
        )));
    }
    let lock: LockFile = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let mut names = std::collections::HashSet::new();
    for pin in &lock.pins {
        crate::names::check("pin", &pin.name).map_err(|e| bad(e.to_string()))?;
        crate::names::check("dataset", &pin.dataset).map_err(|e| bad(e.to_string()))?;
        if !names.insert(pin.name.as_str()) {
            return Err(bad(format!("the name \"{}\" is pinned twice", pin.name)));
        }
        target_dir(ws, path, pin)?;
    }
    Ok(lock)
}

/// The absolute directory a pin's data goes to, refusing paths that leave the workspace.
pub fn target_dir(ws: &Workspace, lock: &Path, pin: &Pin) -> Result<PathBuf> {
    let unsafe_path = |reason: &str| Error::UnsafePinPath {
        lock: lock.to_path_buf(),
        name: pin.name.clone(),
        path: pin.path.clone(),
        reason: reason.to_string(),
    };
    if pin.path.is_empty() || pin.path.contains('\0') {
        return Err(unsafe_path("it is empty"));
    }
    let path = Path::new(&pin.path);
    if path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(unsafe_path("it contains \"..\""));
    }
    let base = lock.parent().unwrap_or(Path::new("/"));
    let target = fs_util::absolute(&base.join(path))?;
    if !target.starts_with(ws.root()) || target == ws.root() {
        return Err(unsafe_path("it is not a directory inside the workspace"));
    }
    if target.starts_with(ws.dv_dir()) {
        return Err(unsafe_path("it is inside .dv"));
    }
    Ok(target)
}

/// What `pin` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinChange {
    Added,
    Updated { from: VersionId },
    Unchanged,
}

/// Adds or updates the pin `name` (default: the dataset) to `id`, with `path` (default: where
/// the version was committed from), and records the lock file as a consumer of the version.
pub fn pin(
    ws: &Workspace,
    lock: &Path,
    id: &VersionId,
    name: Option<&str>,
    path: Option<&str>,
) -> Result<(Pin, PinChange)> {
    let version = ws.version(id)?;
    let _guard = WorkspaceLock::acquire(&ws.dv_dir())?;
    let mut file = read_lock(ws, lock, true)?;
    let name = name.unwrap_or(&version.dataset).to_string();
    crate::names::check("pin", &name)?;
    let existing = file.get(&name).cloned();
    let path = match (path, &existing) {
        (Some(path), _) => path.trim_end_matches('/').to_string(),
        (None, Some(existing)) => existing.path.clone(),
        (None, None) => default_path(ws, lock, &version.path, &name),
    };
    let pin = Pin {
        name: name.clone(),
        dataset: version.dataset.clone(),
        id: *id,
        tree: version.tree,
        stage: version.stage.clone(),
        path,
    };
    target_dir(ws, lock, &pin)?;
    let change = match &existing {
        Some(old) if *old == pin => PinChange::Unchanged,
        Some(old) => PinChange::Updated { from: old.id },
        None => PinChange::Added,
    };
    file.pins.retain(|p| p.name != name);
    file.pins.push(pin.clone());
    write_lock(lock, &mut file)?;
    record_consumer(ws, lock, &name, Some(id))?;
    Ok((pin, change))
}

/// Removes the pin `name`.
pub fn unpin(ws: &Workspace, lock: &Path, name: &str) -> Result<Pin> {
    let _guard = WorkspaceLock::acquire(&ws.dv_dir())?;
    let mut file = read_lock(ws, lock, false)?;
    let removed = file.select(lock, &[name.to_string()])?.remove(0);
    file.pins.retain(|p| p.name != name);
    write_lock(lock, &mut file)?;
    record_consumer(ws, lock, name, None)?;
    Ok(removed)
}

/// The version's committed path, expressed relative to the lock file's directory.
fn default_path(ws: &Workspace, lock: &Path, committed: &str, name: &str) -> String {
    let absolute = if committed.is_empty() {
        ws.root().join(name)
    } else {
        ws.absolute(committed)
    };
    let base = lock.parent().unwrap_or(ws.root());
    match absolute.strip_prefix(base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ => name.to_string(),
    }
}

fn write_lock(path: &Path, file: &mut LockFile) -> Result<()> {
    file.format = LOCK_FORMAT;
    file.pins.sort_by(|a, b| a.name.cmp(&b.name));
    let text = serde_json::to_string_pretty(file).expect("lock files serialize") + "\n";
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_path(dir)?;
    }
    write_atomic(path, text.as_bytes(), "lock-file")
}

/// A lock file entry that pins a version: who consumes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// The lock file, absolute.
    pub lock: PathBuf,
    pub name: String,
    pub id: VersionId,
}

fn consumers_path(ws: &Workspace) -> PathBuf {
    ws.dv_dir().join("consumers.json")
}

/// Every lock file entry known to pin a version of this workspace (recorded by `dv pin`).
///
/// Kept in `.dv/consumers.json` (workspace state: lock files live outside the object store, so
/// this cannot be rebuilt from objects). Versions listed here are protected from gc.
pub fn consumers(ws: &Workspace) -> Result<Vec<Consumer>> {
    let path = consumers_path(ws);
    let map: BTreeMap<PathBuf, BTreeMap<String, VersionId>> =
        match fs_util::read_bounded(&path, MAX_LOCK_BYTES)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Config {
                path: path.clone(),
                message: e.to_string(),
            })?,
            None => BTreeMap::new(),
        };
    Ok(map
        .into_iter()
        .flat_map(|(lock, pins)| {
            pins.into_iter().map(move |(name, id)| Consumer {
                lock: lock.clone(),
                name,
                id,
            })
        })
        .collect())
}

/// Records (or, with `None`, forgets) that `lock`'s entry `name` pins `id`. Call with the
/// workspace lock held.
fn record_consumer(ws: &Workspace, lock: &Path, name: &str, id: Option<&VersionId>) -> Result<()> {
    let mut map: BTreeMap<PathBuf, BTreeMap<String, VersionId>> = BTreeMap::new();
    for consumer in consumers(ws)? {
        map.entry(consumer.lock)
            .or_default()
            .insert(consumer.name, consumer.id);
    }
    let entry = map.entry(lock.to_path_buf()).or_default();
    match id {
        Some(id) => {
            entry.insert(name.to_string(), *id);
        }
        None => {
            entry.remove(name);
        }
    }
    map.retain(|_, pins| !pins.is_empty());
    let text = serde_json::to_string_pretty(&map).expect("consumers serialize") + "\n";
    write_atomic(&consumers_path(ws), text.as_bytes(), "consumers")
}
