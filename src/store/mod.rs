//! The content-addressed object store: the source of truth of a workspace.
//!
//! Objects live either loose in `.dv/objects/<kind>/<2 hex>/<62 hex>` (versions, code files,
//! anything of 1 MiB or more) or in pack files under `.dv/objects/pack/` (the small blobs and
//! trees of a commit). Kinds are separate namespaces, so a file whose bytes happen to equal a
//! tree encoding can never be read as a tree. Objects are immutable: a write goes to a temporary
//! file, is synced and renamed into place, and writing an object that already exists is a
//! no-op. Every read is verified against the object's id before its bytes are handed out.

mod batch;
pub mod chunks;
mod damage;
pub mod delta;
mod kind;
mod object_file;
mod pack;
mod read;
mod verify;
mod write;

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::error::{Error, IoResultExt, Result};
use crate::id::Hash;

pub use batch::Batch;
pub(crate) use damage::damaged_part;
pub use kind::{Kind, MAX_METADATA_OBJECT, MAX_VERSION_OBJECT};
pub use object_file::HEADER_LEN;
pub use object_file::{Encoding, Header, recompressed};
pub use pack::{
    MAX_PACK_BYTES, MAX_PACKED_OBJECT, PACK_FORMAT, PackIndex, PackWriter, Record as PackRecord,
    Slot as PackSlot,
};
pub use read::RawObject;
pub use verify::VerifiedReader;
pub use write::Stored;

use damage::DAMAGED_BASE;
use kind::memory_limit;
use read::Opened;

use pack::{Pack, PackSet, Slot};

/// How many leading bytes of an object file name what it is rebuilt from (its header, and a
/// delta's base), unless it is a chunk list.
pub const DEPENDENCY_PREFIX: usize = object_file::HEADER_LEN + delta::PREFIX_LEN;

/// The directory of pack files inside the store.
const PACK_DIR: &str = "pack";

/// Object files not (yet) in the store, keyed by kind and id, that reads see as if they were:
/// objects fetched from a remote are verified through it before they are stored.
pub type Overlay = std::collections::HashMap<(Kind, Hash), Vec<u8>>;

/// The object store of one workspace.
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    /// Pack indexes, loaded on first use and shared by clones.
    packs: Arc<RwLock<Option<Arc<PackSet>>>>,
    /// Opened by a command that only reads: caches (pack indexes) are not repaired on disk.
    read_only: bool,
    /// Unverified objects read as if stored (see [`Overlay`]).
    overlay: Option<Arc<Overlay>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

/// Where an object's bytes are, for repair tools and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file of its own.
    Loose(PathBuf),
    /// The object file's bytes at `offset..offset + length` of a pack.
    Packed {
        pack: PathBuf,
        offset: u64,
        length: u64,
    },
}

/// A pack file that could not be read at all, so none of its objects are available.
#[derive(Clone, Debug)]
pub struct BrokenPack {
    pub path: PathBuf,
    pub reason: String,
}

impl Store {
    /// Opens the store rooted at `root` (`.dv/objects`).
    pub fn at(root: PathBuf) -> Self {
        Store {
            root,
            packs: Arc::default(),
            read_only: false,
            overlay: None,
        }
    }

    /// The same store, also seeing `objects` as if they were stored: reading one through it
    /// verifies it (and the chunks and bases it is rebuilt from) before it is written for real.
    pub fn with_overlay(&self, objects: Arc<Overlay>) -> Store {
        Store {
            overlay: Some(objects),
            ..self.clone()
        }
    }

    /// Every pack file with its index, as loaded now (re-reading the pack directory).
    pub fn pack_files(&self) -> Result<Vec<(PathBuf, PackIndex)>> {
        Ok(self
            .reload_packs()?
            .packs
            .iter()
            .map(|pack| (pack.path.clone(), pack.index.clone()))
            .collect())
    }

    /// Removes a pack whose objects are all garbage or stored elsewhere: its index first (a
    /// pack without an index is indexed by scanning it), then the pack, then the directory is
    /// synced. Readers that still hold it open keep reading it.
    pub fn remove_pack(&self, pack: &Path) -> Result<()> {
        let index = pack.with_extension("idx");
        for path in [&index, &pack.to_path_buf()] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(path, e)),
                _ => {}
            }
        }
        crate::fs_util::sync_dir(&self.root.join(PACK_DIR))?;
        self.reload_packs()?;
        Ok(())
    }

    /// Removes a loose object file.
    pub fn remove_loose(&self, kind: Kind, id: &Hash) -> Result<()> {
        let path = self.object_path(kind, id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// The same store for a command that only reads: nothing is written, not even a repaired
    /// pack index.
    pub fn read_only(self) -> Self {
        Store {
            read_only: true,
            ..self
        }
    }

    /// Creates the directory layout of a new store.
    pub fn create(root: &Path) -> Result<()> {
        for kind in Kind::ALL {
            let dir = root.join(kind.name());
            fs::create_dir_all(&dir).with_path(&dir)?;
        }
        for dir in ["tmp", PACK_DIR] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir).with_path(&dir)?;
        }
        Ok(())
    }

    /// The path an object lives at when it is loose.
    pub fn object_path(&self, kind: Kind, id: &Hash) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(kind.name()).join(&hex[..2]).join(&hex[2..])
    }

    /// Whether an object exists (without verifying it).
    pub fn has(&self, kind: Kind, id: &Hash) -> bool {
        self.find_packed(kind, id).is_some() || self.object_path(kind, id).exists()
    }

    /// Where an object is stored, if it is.
    pub fn locate(&self, kind: Kind, id: &Hash) -> Option<Location> {
        if let Some((pack, slot)) = self.find_packed(kind, id) {
            return Some(Location::Packed {
                pack: pack.path.clone(),
                offset: slot.offset,
                length: slot.length,
            });
        }
        let path = self.object_path(kind, id);
        path.exists().then_some(Location::Loose(path))
    }

    /// Packs that could not be read, each making all of its objects unavailable.
    pub fn broken_packs(&self) -> Result<Vec<BrokenPack>> {
        Ok(self.packs()?.broken.clone())
    }

    /// The loaded pack indexes (loading them on first use).
    fn packs(&self) -> Result<Arc<PackSet>> {
        if let Some(set) = self
            .packs
            .read()
            .expect("no panics under the lock")
            .as_ref()
        {
            return Ok(Arc::clone(set));
        }
        self.reload_packs()
    }

    /// Reads the pack directory again, keeping indexes already loaded; picks up packs written
    /// by other processes since.
    fn reload_packs(&self) -> Result<Arc<PackSet>> {
        let dir = self.root.join(PACK_DIR);
        let mut slot = self.packs.write().expect("no panics under the lock");
        let set = Arc::new(PackSet::load(&dir, slot.as_deref(), !self.read_only).with_path(&dir)?);
        *slot = Some(Arc::clone(&set));
        Ok(set)
    }

    fn find_packed(&self, kind: Kind, id: &Hash) -> Option<(Arc<Pack>, Slot)> {
        let set = self.packs().ok()?;
        set.find(kind.code(), id)
            .map(|(pack, slot)| (Arc::clone(pack), slot))
    }

    /// Lists the ids of every object of one kind, loose or packed.
    pub fn list(&self, kind: Kind) -> Result<Vec<Hash>> {
        let dir = self.root.join(kind.name());
        let mut ids: Vec<Hash> = self
            .packs()?
            .packs
            .iter()
            .flat_map(|pack| pack.index.records().filter(|r| r.kind == kind.code()))
            .map(|r| r.id)
            .collect();
        let fans = match fs::read_dir(&dir) {
            Ok(fans) => fans,
            // Stores made before chunks existed have no chunk directory.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(finish_list(ids)),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for fan in fans {
            let fan = fan.with_path(&dir)?;
            let prefix = fan.file_name();
            let Some(prefix) = prefix.to_str().filter(|p| p.len() == 2) else {
                continue;
            };
            for entry in fs::read_dir(fan.path()).with_path(fan.path())? {
                let entry = entry.with_path(fan.path())?;
                if let Some(id) = entry
                    .file_name()
                    .to_str()
                    .and_then(|rest| Hash::from_hex(&format!("{prefix}{rest}")))
                {
                    ids.push(id);
                }
            }
        }
        Ok(finish_list(ids))
    }
}

fn finish_list(mut ids: Vec<Hash>) -> Vec<Hash> {
    ids.sort();
    ids.dedup();
    ids
}

/// Reads until `buf` is full or the input ends; returns the byte count.
pub(crate) fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// An I/O error saying the stored bytes themselves are wrong (not that reading them failed).
pub(crate) fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Why a file written by a newer dv is refused.
fn too_new(what: &str, found: u8, supported: u8) -> String {
    format!(
        "it uses {what} format {found}, newer than this dv understands ({supported}); upgrade dv"
    )
}

fn check_kind(kind: Kind, id: &Hash, header: &Header) -> Result<()> {
    if header.kind != kind.code() {
        return Err(corrupt(kind, id, "its header names another kind".into()));
    }
    Ok(())
}

fn corrupt(kind: Kind, id: &Hash, reason: String) -> Error {
    Error::CorruptObject {
        kind: kind.name(),
        id: *id,
        reason,
    }
}

/// Turns a read failure into a corruption error when the data itself was bad (a hash or size
/// mismatch, or zstd refusing the payload) rather than the operating system failing to read.
fn read_error(kind: Kind, id: &Hash, err: io::Error) -> Error {
    match err.raw_os_error() {
        None => corrupt(kind, id, err.to_string()),
        Some(_) => Error::io(format!("{} object {}", kind.name(), id), err),
    }
}
