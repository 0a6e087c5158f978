//! The content-addressed object store: the source of truth of a workspace.
//!
//! Objects live either loose in `.dv/objects/<kind>/<2 hex>/<62 hex>` (versions, code files,
//! anything of 1 MiB or more) or in pack files under `.dv/objects/pack/` (the small blobs and
//! trees of a commit). Kinds are separate namespaces, so a file whose bytes happen to equal a
//! tree encoding can never be read as a tree. Objects are immutable: a write goes to a temporary
//! file, is synced and renamed into place, and writing an object that already exists is a
//! no-op. Every read is verified against the object's id before its bytes are handed out.

pub mod chunks;
pub mod delta;
mod object_file;
mod pack;
mod verify;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, IoResultExt, Result};
use crate::id::Hash;

pub use object_file::HEADER_LEN;
pub use object_file::{Encoding, Header};
pub use pack::{
    MAX_PACK_BYTES, MAX_PACKED_OBJECT, PACK_FORMAT, PackIndex, PackWriter, Record as PackRecord,
    Slot as PackSlot,
};
pub use verify::VerifiedReader;

use pack::{Pack, PackSet, Slot};

/// How many leading bytes of an object file name what it is rebuilt from (its header, and a
/// delta's base), unless it is a chunk list.
pub const DEPENDENCY_PREFIX: usize = object_file::HEADER_LEN + delta::PREFIX_LEN;

/// The directory of pack files inside the store.
const PACK_DIR: &str = "pack";

/// The kinds of stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A piece of a large file (see [`chunks`]).
    Chunk,
    /// File content or a symlink target.
    Blob,
    /// One directory listing.
    Tree,
    /// One version with its provenance.
    Version,
}

impl Kind {
    /// All kinds, in the order fsck and reindex visit them.
    pub const ALL: [Kind; 4] = [Kind::Chunk, Kind::Blob, Kind::Tree, Kind::Version];

    /// The directory name of the kind's namespace, also used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chunk => "chunk",
            Kind::Blob => "blob",
            Kind::Tree => "tree",
            Kind::Version => "version",
        }
    }

    /// The kind's byte in object headers and packs.
    pub fn code(self) -> u8 {
        match self {
            Kind::Chunk => b'c',
            Kind::Blob => b'b',
            Kind::Tree => b't',
            Kind::Version => b'v',
        }
    }

    /// The kind a header or pack byte names, if any.
    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The kind with this directory name, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Object files not (yet) in the store, keyed by kind and id, that reads see as if they were:
/// objects fetched from a remote are verified through it before they are stored.
pub type Overlay = std::collections::HashMap<(Kind, Hash), Vec<u8>>;

/// An object file's bytes exactly as stored (header and payload), to move it to another store
/// unchanged: in memory when small, else the loose file to stream.
pub enum RawObject {
    Bytes(Vec<u8>),
    File { path: PathBuf, size: u64 },
}

/// Loose object files up to this size are read into memory to be moved.
const RAW_IN_MEMORY: u64 = 16 << 20;

/// Largest tree object dv will load into memory; protects against crafted objects.
pub const MAX_METADATA_OBJECT: u64 = 256 << 20;
/// Largest version record, decoded: what people write (a message, params, code lists) fits in
/// far less, and a record from a remote that expands past it is refused before it is parsed.
pub const MAX_VERSION_OBJECT: u64 = 4 << 20;

/// The most bytes an object of `kind` may decode to in memory.
fn memory_limit(kind: Kind) -> u64 {
    match kind {
        Kind::Chunk => chunks::MAX_CHUNK as u64,
        Kind::Blob => delta::MAX_DELTA_CONTENT,
        Kind::Tree => MAX_METADATA_OBJECT,
        Kind::Version => MAX_VERSION_OBJECT,
    }
}

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

/// What storing a file produced.
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    pub id: Hash,
    pub size: u64,
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

    /// The object file of a stored object, exactly as stored.
    pub fn raw_object(&self, kind: Kind, id: &Hash) -> Result<RawObject> {
        if let Some((pack, slot)) = self.find_packed(kind, id) {
            let bytes = pack.read_slot(slot).map_err(|e| read_error(kind, id, e))?;
            return Ok(RawObject::Bytes(bytes));
        }
        let path = self.object_path(kind, id);
        let size = match fs::symlink_metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::MissingObject {
                    kind: kind.name(),
                    id: id.to_hex(),
                });
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        if size > RAW_IN_MEMORY {
            return Ok(RawObject::File { path, size });
        }
        let bytes = crate::fs_util::read_bounded(&path, RAW_IN_MEMORY)?.ok_or_else(|| {
            Error::MissingObject {
                kind: kind.name(),
                id: id.to_hex(),
            }
        })?;
        Ok(RawObject::Bytes(bytes))
    }

    /// Verifies a received loose object file of a self-contained encoding (raw or zstd)
    /// against its id, streaming it; other encodings are verified in memory through
    /// [`Store::with_overlay`].
    pub fn verify_object_file(kind: Kind, id: &Hash, path: &Path) -> Result<()> {
        let file = crate::fs_util::open_regular(path).map_err(|e| Error::io(path, e))?;
        let mut file = io::BufReader::with_capacity(256 << 10, file);
        let header = Header::read(&mut file).map_err(|e| read_error(kind, id, e))?;
        check_kind(kind, id, &header)?;
        let mut reader =
            VerifiedReader::new(file, header, *id).map_err(|e| read_error(kind, id, e))?;
        io::copy(&mut reader, &mut io::sink()).map_err(|e| read_error(kind, id, e))?;
        Ok(())
    }

    /// The objects needed to read an object given as its object file (header and payload):
    /// its delta base or its chunks. Fails on a file that is not a `kind` object.
    pub fn object_file_dependencies(
        kind: Kind,
        id: &Hash,
        object_file: &[u8],
    ) -> Result<Vec<(Kind, Hash)>> {
        let header = Header::read(&mut &object_file[..]).map_err(|e| read_error(kind, id, e))?;
        check_kind(kind, id, &header)?;
        dependencies_in(kind, id, header, &object_file[object_file::HEADER_LEN..])
    }

    /// What an object is rebuilt from, read from the first [`DEPENDENCY_PREFIX`] bytes of its
    /// object file; `None` for a chunk list, whose whole file is needed.
    pub fn prefix_dependencies(
        kind: Kind,
        id: &Hash,
        prefix: &[u8],
    ) -> Result<Option<Vec<(Kind, Hash)>>> {
        let header = Header::read(&mut &prefix[..]).map_err(|e| read_error(kind, id, e))?;
        check_kind(kind, id, &header)?;
        if header.encoding == Encoding::Chunks && kind == Kind::Blob {
            return Ok(None);
        }
        dependencies_in(kind, id, header, &prefix[object_file::HEADER_LEN..]).map(Some)
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

    /// Whether writing an object can be skipped because it is already stored (or packed by
    /// this batch).
    fn known(&self, kind: Kind, id: &Hash, batch: Option<&Batch>) -> bool {
        match batch {
            Some(batch) => batch.holds(kind, id) || batch.has(kind, id),
            None => self.has(kind, id),
        }
    }

    /// Stores an in-memory object and returns its id.
    pub fn put_bytes(&self, kind: Kind, bytes: &[u8]) -> Result<Hash> {
        self.put_bytes_in(kind, bytes, None, None)
    }

    /// Stores content, as a delta against a base found from `previous` (the same path's
    /// object in the version this one follows) when that is clearly smaller.
    fn put_bytes_in(
        &self,
        kind: Kind,
        bytes: &[u8],
        batch: Option<&Batch>,
        previous: Option<&Hash>,
    ) -> Result<Hash> {
        let id = Hash::of(bytes);
        self.put_hashed(kind, &id, bytes, batch, previous)?;
        Ok(id)
    }

    /// [`Store::put_bytes_in`] for content whose hash the caller already has (a chunk is
    /// hashed once, while the file is cut).
    fn put_hashed(
        &self,
        kind: Kind,
        id: &Hash,
        bytes: &[u8],
        batch: Option<&Batch>,
        previous: Option<&Hash>,
    ) -> Result<()> {
        if self.known(kind, id, batch) {
            return Ok(());
        }
        let delta = previous
            .filter(|p| *p != id && bytes.len() as u64 <= delta::MAX_DELTA_CONTENT)
            .and_then(|p| self.delta_against(kind, p, bytes));
        let as_delta = |(link, frame): (delta::Link, Vec<u8>)| {
            (
                Encoding::Delta,
                Cow::Owned([&link.encode()[..], &frame].concat()),
            )
        };
        let (encoding, payload) = match delta {
            Some(d)
                if delta::obviously_worth_keeping(delta::PREFIX_LEN + d.1.len(), bytes.len()) =>
            {
                as_delta(d)
            }
            Some(d) => match object_file::choose_encoding(bytes) {
                (_, whole) if delta::worth_keeping(delta::PREFIX_LEN + d.1.len(), whole.len()) => {
                    as_delta(d)
                }
                whole => whole,
            },
            None => object_file::choose_encoding(bytes),
        };
        self.put_encoded(kind, id, encoding, bytes.len() as u64, &payload, batch)
    }

    /// Writes an encoded object: into the batch's pack when it is small, else a file of its
    /// own.
    fn put_encoded(
        &self,
        kind: Kind,
        id: &Hash,
        encoding: Encoding,
        size: u64,
        payload: &[u8],
        batch: Option<&Batch>,
    ) -> Result<()> {
        let header = Header {
            kind: kind.code(),
            encoding,
            size,
        }
        .encode();
        match batch {
            Some(batch) if (header.len() + payload.len()) as u64 <= MAX_PACKED_OBJECT => {
                batch.append_to_pack(kind, id, &header, payload)
            }
            _ => self.publish(kind, id, batch, |out| {
                out.write_all(&header)?;
                out.write_all(payload)
            }),
        }
    }

    /// A delta of `content` for the line of objects `previous` ends, with its link: the base is
    /// `previous` itself within a run, else the earlier run's first object it skips back to
    /// (see [`delta::next_positions`]), rebuilt and verified. `None` when there is no usable
    /// base; a base that cannot be read is fsck's to report, not a reason to fail the commit
    /// that skipped it.
    fn delta_against(
        &self,
        kind: Kind,
        previous: &Hash,
        content: &[u8],
    ) -> Option<(delta::Link, Vec<u8>)> {
        let seq_of = |link: Option<delta::Link>| link.map_or(0, |l| l.seq);
        let mut base = (*previous, self.delta_link(kind, previous).ok()?);
        let (seq, base_seq) = delta::next_positions(seq_of(base.1));
        // Back along the previous object's bases: at most a run, then one per skip.
        for _ in 0..delta::RUN + 32 {
            if seq_of(base.1) <= base_seq {
                break;
            }
            let next = base.1?.base;
            base = (next, self.delta_link(kind, &next).ok()?);
        }
        if seq_of(base.1) != base_seq {
            return None;
        }
        let (base_content, depth) = self.content(kind, &base.0).ok()?;
        if depth >= delta::MAX_DEPTH || Hash::of(&base_content) != base.0 {
            return None;
        }
        let frame = delta::compress(&base_content, content).ok()?;
        let link = delta::Link {
            base: base.0,
            seq,
            depth: depth + 1,
        };
        Some((link, frame))
    }

    /// The delta link of an object, `None` when it is stored whole.
    pub fn delta_link(&self, kind: Kind, id: &Hash) -> Result<Option<delta::Link>> {
        let (header, payload) = match self.open_object(kind, id)? {
            Opened::Stream(..) => return Ok(None),
            Opened::Memory(header, payload) => (header, payload),
        };
        if header.encoding != Encoding::Delta {
            return Ok(None);
        }
        let (link, _) = delta::Link::decode(&payload).map_err(|e| read_error(kind, id, e))?;
        Ok(Some(link))
    }

    /// Streams a file into the store, hashing and compressing with bounded memory; a large
    /// file is stored as chunks (see [`chunks`]).
    pub fn put_file(&self, path: &Path) -> Result<Stored> {
        let batch = self.batch();
        let stored = batch.put_file(path, None)?;
        batch.finish()?;
        Ok(stored)
    }

    fn put_file_in(&self, path: &Path, batch: &Batch, previous: Option<&Hash>) -> Result<Stored> {
        let mut file = File::open(path).with_path(path)?;
        let mut first = Vec::with_capacity(64 << 10);
        (&mut file)
            .take(chunks::CHUNKED_FILE)
            .read_to_end(&mut first)
            .with_path(path)?;
        if (first.len() as u64) < chunks::CHUNKED_FILE {
            let id = self.put_bytes_in(Kind::Blob, &first, Some(batch), previous)?;
            return Ok(Stored {
                id,
                size: first.len() as u64,
            });
        }
        let previous_chunks = previous
            .and_then(|p| self.chunk_list(p).ok().flatten())
            .map(|list| chunks::PreviousChunks::new(&list));
        let mut bases = previous_chunks.as_ref().map(chunks::BaseFinder::new);
        let input = io::Cursor::new(first).chain(file);
        let cdc = fastcdc::v2020::StreamCDC::new(
            input,
            chunks::MIN_CHUNK,
            chunks::AVG_CHUNK,
            chunks::MAX_CHUNK,
        );
        let mut hasher = blake3::Hasher::new();
        let mut list = Vec::new();
        // Chunks are stored a group at a time on all cores while the file is read in order.
        let mut group: Vec<(Vec<u8>, Hash, Option<Hash>)> = Vec::new();
        let mut group_bytes = 0usize;
        let store_group = |group: &mut Vec<(Vec<u8>, Hash, Option<Hash>)>| -> Result<()> {
            use rayon::prelude::*;
            group.par_drain(..).try_for_each(|(data, id, base)| {
                self.put_hashed(Kind::Chunk, &id, &data, Some(batch), base.as_ref())
            })
        };
        for chunk in cdc {
            let chunk = chunk.map_err(|e| match e {
                fastcdc::v2020::Error::IoError(e) => Error::io(path, e),
                other => Error::io(path, io::Error::other(other.to_string())),
            })?;
            hasher.update(&chunk.data);
            let id = Hash::of(&chunk.data);
            let base = bases
                .as_mut()
                .and_then(|finder| finder.base_for(&id, chunk.offset, chunk.length));
            list.push(chunks::ChunkRef {
                id,
                size: chunk.length as u32,
            });
            group_bytes += chunk.data.len();
            group.push((chunk.data, id, base));
            if group_bytes >= CHUNK_GROUP_BYTES {
                store_group(&mut group)?;
                group_bytes = 0;
            }
        }
        store_group(&mut group)?;
        let id = Hash::from(hasher.finalize());
        let size = hasher.count();
        if !self.known(Kind::Blob, &id, Some(batch)) {
            let payload = chunks::encode(&list);
            self.put_encoded(
                Kind::Blob,
                &id,
                Encoding::Chunks,
                size,
                &payload,
                Some(batch),
            )?;
        }
        Ok(Stored { id, size })
    }

    /// The chunks of a stored blob, `None` when it is not stored as chunks.
    pub fn chunk_list(&self, id: &Hash) -> Result<Option<Vec<chunks::ChunkRef>>> {
        match self.open_object(Kind::Blob, id)? {
            Opened::Memory(header, payload) if header.encoding == Encoding::Chunks => {
                chunks::decode(&payload, header.size)
                    .map(Some)
                    .map_err(|e| read_error(Kind::Blob, id, e))
            }
            _ => Ok(None),
        }
    }

    /// The objects another object needs to be read: a delta's base, a file's chunks (one read
    /// of the object).
    pub fn dependencies(&self, kind: Kind, id: &Hash) -> Result<Vec<(Kind, Hash)>> {
        let Opened::Memory(header, payload) = self.open_object(kind, id)? else {
            return Ok(Vec::new());
        };
        dependencies_in(kind, id, header, &payload)
    }

    /// Loads a tree or version object into memory, verified against its id.
    pub fn get_bytes(&self, kind: Kind, id: &Hash) -> Result<Vec<u8>> {
        let mut reader = self.read(kind, id)?;
        if reader.size() > memory_limit(kind) {
            return Err(corrupt(
                kind,
                id,
                format!(
                    "claims {} bytes, more than any {} object may hold",
                    reader.size(),
                    kind.name()
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(reader.size() as usize);
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| read_error(kind, id, e))?;
        Ok(bytes)
    }

    /// Opens an object for streaming; the reader fails at the end if the bytes do not match.
    pub fn read(&self, kind: Kind, id: &Hash) -> Result<VerifiedReader> {
        let (header, payload) = match self.open_object(kind, id)? {
            Opened::Stream(file, header) => {
                return VerifiedReader::new(file, header, *id).map_err(|e| read_error(kind, id, e));
            }
            Opened::Memory(header, payload) => (header, payload),
        };
        match header.encoding {
            Encoding::Chunks if kind == Kind::Blob => {
                let list =
                    chunks::decode(&payload, header.size).map_err(|e| read_error(kind, id, e))?;
                let chunks = chunks::ChunkedReader::new(self.clone(), list);
                Ok(VerifiedReader::over(
                    Box::new(chunks),
                    header.size,
                    *id,
                    self.diagnosis(kind, id),
                ))
            }
            _ => {
                let (content, _) = self.decode_in_memory(kind, id, header, payload, 0)?;
                let size = content.len() as u64;
                Ok(VerifiedReader::over(
                    Box::new(Cursor::new(content)),
                    size,
                    *id,
                    self.diagnosis(kind, id),
                ))
            }
        }
    }

    /// Looks for the damaged part of an object rebuilt from others, once its content failed
    /// verification: reads stay fast, and a failure still names the chunk or base to restore.
    fn diagnosis(&self, kind: Kind, id: &Hash) -> verify::Diagnose {
        let (store, id) = (self.clone(), *id);
        Box::new(move || {
            let (part, part_id, error) = store.find_damage(kind, &id, 0)?;
            if part_id == id {
                return Some(error.object_reason());
            }
            let name = if part == Kind::Chunk {
                "chunk"
            } else {
                "delta base"
            };
            Some(damaged_part(name, &part_id, &error))
        })
    }

    /// The first object below `id` (its chunks, its delta bases, then itself) whose content
    /// does not match its id, with the reason.
    fn find_damage(&self, kind: Kind, id: &Hash, depth: u8) -> Option<(Kind, Hash, Error)> {
        let damaged = |e: Error| Some((kind, *id, e));
        // A chunk list, then a chain of bases.
        if depth > delta::MAX_DEPTH + 1 {
            return None;
        }
        let needs = match self.dependencies(kind, id) {
            Ok(needs) => needs,
            Err(e) => return damaged(e),
        };
        if let Some(found) = needs
            .iter()
            .find_map(|(part, part_id)| self.find_damage(*part, part_id, depth + 1))
        {
            return Some(found);
        }
        // A chunk list whose chunks are intact: the list itself is wrong, which the caller's
        // hash mismatch already says.
        if needs.first().is_some_and(|(part, _)| *part == Kind::Chunk) {
            return None;
        }
        let verified = match self.open_object(kind, id) {
            Ok(Opened::Stream(file, header)) => VerifiedReader::new(file, header, *id)
                .and_then(|mut reader| io::copy(&mut reader, &mut io::sink()))
                .map(|_| None)
                .map_err(|e| read_error(kind, id, e)),
            Ok(Opened::Memory(..)) => self
                .content(kind, id)
                .map(|(content, _)| Some(Hash::of(&content))),
            Err(e) => Err(e),
        };
        match verified {
            Err(e) => damaged(e),
            Ok(Some(actual)) if actual != *id => {
                damaged(corrupt(kind, id, format!("its content hashes to {actual}")))
            }
            Ok(_) => None,
        }
    }

    /// The content of a small object (a chunk, a delta base) in memory, with its delta depth;
    /// not verified against its id, which the caller's reader does for the final content.
    pub(crate) fn content(&self, kind: Kind, id: &Hash) -> Result<(Vec<u8>, u8)> {
        self.content_within(kind, id, 0)
    }

    fn content_within(&self, kind: Kind, id: &Hash, depth: u8) -> Result<(Vec<u8>, u8)> {
        let (header, payload) = match self.open_object(kind, id)? {
            Opened::Memory(header, payload) => (header, payload),
            Opened::Stream(mut file, header) => {
                if header.size > delta::MAX_DELTA_CONTENT {
                    return Err(corrupt(
                        kind,
                        id,
                        format!(
                            "it is needed in memory but claims {} bytes (at most {} allowed)",
                            header.size,
                            delta::MAX_DELTA_CONTENT
                        ),
                    ));
                }
                let mut payload = Vec::new();
                (&mut file)
                    .take(delta::MAX_DELTA_CONTENT + 1)
                    .read_to_end(&mut payload)
                    .map_err(|e| read_error(kind, id, e))?;
                (header, payload)
            }
        };
        self.decode_in_memory(kind, id, header, payload, depth)
    }

    /// Turns a payload held in memory into content: decompressing it, or rebuilding a delta
    /// from its bases (at most [`delta::MAX_DEPTH`] of them, whatever the objects claim).
    fn decode_in_memory(
        &self,
        kind: Kind,
        id: &Hash,
        header: Header,
        payload: Vec<u8>,
        depth: u8,
    ) -> Result<(Vec<u8>, u8)> {
        // What each kind can hold in memory: a blob read here is below the chunking threshold
        // or a delta (at most 16 MiB); only trees may be larger.
        let limit = memory_limit(kind);
        if header.size > limit {
            return Err(corrupt(
                kind,
                id,
                format!(
                    "its header claims {} bytes, more than any such object may hold",
                    header.size
                ),
            ));
        }
        match header.encoding {
            Encoding::Raw if payload.len() as u64 == header.size => Ok((payload, 0)),
            Encoding::Raw => Err(corrupt(
                kind,
                id,
                format!(
                    "it holds {} bytes but its header declares {}",
                    payload.len(),
                    header.size
                ),
            )),
            Encoding::Zstd => match object_file::decompress(&payload, header.size) {
                Ok(content) if content.len() as u64 == header.size => Ok((content, 0)),
                Ok(content) => Err(corrupt(
                    kind,
                    id,
                    format!(
                        "it holds {} bytes but its header declares {}",
                        content.len(),
                        header.size
                    ),
                )),
                Err(e) => Err(corrupt(
                    kind,
                    id,
                    format!("its compressed payload is damaged ({e})"),
                )),
            },
            Encoding::Delta => {
                let (link, frame) =
                    delta::Link::decode(&payload).map_err(|e| read_error(kind, id, e))?;
                if depth >= delta::MAX_DEPTH {
                    return Err(corrupt(
                        kind,
                        id,
                        format!("its delta chain is longer than {} links", delta::MAX_DEPTH),
                    ));
                }
                let (base, base_depth) =
                    self.content_within(kind, &link.base, depth + 1)
                        .map_err(|e| match e {
                            Error::Io { .. } => e,
                            // A base deeper down already named itself: keep that name.
                            Error::CorruptObject { reason, .. }
                                if reason.starts_with(DAMAGED_BASE) =>
                            {
                                corrupt(kind, id, reason)
                            }
                            other => {
                                corrupt(kind, id, damaged_part("delta base", &link.base, &other))
                            }
                        })?;
                if base_depth + 1 != link.depth {
                    return Err(corrupt(
                        kind,
                        id,
                        format!(
                            "it claims delta depth {} but its base {} has depth {base_depth}",
                            link.depth, link.base
                        ),
                    ));
                }
                let content = delta::decompress(&base, frame, header.size)
                    .map_err(|e| read_error(kind, id, e))?;
                Ok((content, link.depth))
            }
            Encoding::Chunks => Err(corrupt(
                kind,
                id,
                "it is a chunk list where content was expected".into(),
            )),
        }
    }

    /// Finds an object: packed objects and loose ones that are not streamed are read into
    /// memory (they are at most a pack entry, or a loose delta or chunk list); a loose raw or
    /// zstd object is opened for streaming.
    fn open_object(&self, kind: Kind, id: &Hash) -> Result<Opened> {
        if let Some(bytes) = self.overlay.as_ref().and_then(|o| o.get(&(kind, *id))) {
            let header = Header::read(&mut &bytes[..]).map_err(|e| read_error(kind, id, e))?;
            check_kind(kind, id, &header)?;
            return Ok(Opened::Memory(
                header,
                bytes[object_file::HEADER_LEN..].to_vec(),
            ));
        }
        if let Some(opened) = self.open_packed(kind, id, &*self.packs()?)? {
            return Ok(opened);
        }
        let path = self.object_path(kind, id);
        let file = match crate::fs_util::open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Another process may have packed it since the packs were loaded.
                return match self.open_packed(kind, id, &*self.reload_packs()?)? {
                    Some(opened) => Ok(opened),
                    None => Err(Error::MissingObject {
                        kind: kind.name(),
                        id: id.to_hex(),
                    }),
                };
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let mut file = io::BufReader::with_capacity(256 << 10, file);
        let header = Header::read(&mut file).map_err(|e| read_error(kind, id, e))?;
        check_kind(kind, id, &header)?;
        match header.encoding {
            Encoding::Raw | Encoding::Zstd => Ok(Opened::Stream(file, header)),
            Encoding::Delta | Encoding::Chunks => {
                let mut payload = Vec::new();
                file.take(MAX_METADATA_OBJECT + 1)
                    .read_to_end(&mut payload)
                    .map_err(|e| read_error(kind, id, e))?;
                if payload.len() as u64 > MAX_METADATA_OBJECT {
                    return Err(corrupt(kind, id, "its payload is oversized".into()));
                }
                Ok(Opened::Memory(header, payload))
            }
        }
    }

    fn open_packed(&self, kind: Kind, id: &Hash, set: &PackSet) -> Result<Option<Opened>> {
        let Some((pack, slot)) = set.find(kind.code(), id) else {
            return Ok(None);
        };
        let mut bytes = match pack.read_slot(slot) {
            Ok(bytes) => bytes,
            // A concurrent gc may have repacked it: look in the packs as they are now.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let now = self.reload_packs()?;
                return match now.find(kind.code(), id) {
                    Some((other, _)) if other.path != pack.path => self.open_packed(kind, id, &now),
                    _ => Ok(None),
                };
            }
            Err(e) => return Err(read_error(kind, id, e)),
        };
        let header = Header::read(&mut bytes.as_slice()).map_err(|e| read_error(kind, id, e))?;
        check_kind(kind, id, &header)?;
        bytes.drain(..object_file::HEADER_LEN);
        Ok(Some(Opened::Memory(header, bytes)))
    }

    /// Copies a blob to `out` (the file at `out_path`), verifying it; returns the byte count.
    pub fn copy_blob(&self, id: &Hash, out: &mut impl Write, out_path: &Path) -> Result<u64> {
        let mut reader = self.read(Kind::Blob, id)?;
        let mut buf = vec![0u8; reader.size().clamp(1, 256 << 10) as usize];
        let mut copied = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(copied),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(Kind::Blob, id, e)),
            };
            out.write_all(&buf[..n]).with_path(out_path)?;
            copied += n as u64;
        }
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

    /// A new read-only temporary file in the store's `tmp/`, for an object being received.
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        let dir = self.root.join("tmp");
        // Created read-only: objects are immutable, and the open handle can still write.
        tempfile::Builder::new()
            .prefix("obj-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(&dir)
            .with_path(&dir)
    }

    fn publish(
        &self,
        kind: Kind,
        id: &Hash,
        batch: Option<&Batch>,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<()> {
        let mut temp = self.temp_file()?;
        write(temp.as_file_mut()).with_path(temp.path())?;
        crate::failpoint::hit("object", "written").with_path(temp.path())?;
        self.persist(kind, id, temp, batch)
    }

    /// Publishes a finished (read-only) temporary object under its id: at once and durably, or
    /// (in a batch) when the batch finishes.
    fn persist(
        &self,
        kind: Kind,
        id: &Hash,
        temp: tempfile::NamedTempFile,
        batch: Option<&Batch>,
    ) -> Result<()> {
        let target = self.object_path(kind, id);
        if let Some(batch) = batch {
            let pending = temp.into_temp_path();
            batch
                .pending
                .lock()
                .expect("no panics while holding the lock")
                .push((pending, target));
            return Ok(());
        }
        crate::fs_util::publish(temp, &target, crate::fs_util::Durability::Synced, "object")
    }

    /// Starts a batch of writes that become durable together (see [`Batch`]).
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            pending: Mutex::new(Vec::new()),
            packing: Mutex::default(),
            loose_fan_outs: Kind::ALL.map(|kind| self.fan_outs(kind)),
            packs: self.packs().ok(),
        }
    }

    /// Which fan-out directories of a kind exist (as their first hex byte's value).
    fn fan_outs(&self, kind: Kind) -> [bool; 256] {
        let mut present = [false; 256];
        for entry in fs::read_dir(self.root.join(kind.name()))
            .into_iter()
            .flatten()
        {
            if let Some(byte) = entry.ok().and_then(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| u8::from_str_radix(n, 16).ok())
            }) {
                present[byte as usize] = true;
            }
        }
        present
    }

    /// Makes packs this process just published visible without reading them back.
    fn add_packs(&self, new: Vec<Pack>) {
        let mut slot = self.packs.write().expect("no panics under the lock");
        if let Some(set) = slot.as_ref() {
            let mut packs = set.packs.clone();
            packs.extend(new.into_iter().map(Arc::new));
            *slot = Some(Arc::new(PackSet::with(packs, set.broken.clone())));
        }
    }
}

/// Bytes of chunks read before they are stored together on all cores.
const CHUNK_GROUP_BYTES: usize = 16 << 20;

/// An object found in the store.
enum Opened {
    /// A loose object to stream, positioned after its header.
    Stream(io::BufReader<File>, Header),
    /// An object's header and payload, read into memory.
    Memory(Header, Vec<u8>),
}

/// Objects written without waiting for the disk one by one, made durable together.
///
/// Small objects are appended to a pack, large ones go to temporary files; [`Batch::finish`]
/// fsyncs all of them at once (on several threads, so the filesystem can share journal
/// commits), then renames every loose object and every pack (then its index) into place and
/// fsyncs the directories. An object therefore only ever appears under its id after its bytes
/// are on disk — a crash at any point leaves whole objects or none. Dropping an unfinished
/// batch deletes its temporary files.
pub struct Batch<'a> {
    store: &'a Store,
    pending: Mutex<Vec<(tempfile::TempPath, PathBuf)>>,
    packing: Mutex<Packing>,
    /// The loose fan-out directories present when the batch began, per kind: an object whose
    /// directory was absent need not be looked for (most are, once small objects are packed).
    loose_fan_outs: [[bool; 256]; Kind::ALL.len()],
    /// The pack indexes when the batch began, looked up without a lock or reference count:
    /// a commit asks once per file whether its content is stored.
    packs: Option<Arc<PackSet>>,
}

/// The packs of a batch: the one being appended to, the full ones, and what they hold.
#[derive(Default)]
struct Packing {
    current: Option<(PackWriter, tempfile::TempPath)>,
    full: Vec<(PackIndex, tempfile::TempPath)>,
    held: HashSet<(u8, Hash)>,
}

impl Packing {
    fn close_current(&mut self) -> Result<()> {
        if let Some((writer, path)) = self.current.take() {
            let index = writer.finish().with_path(&path)?;
            self.full.push((index, path));
        }
        Ok(())
    }
}

impl Batch<'_> {
    /// Like [`Store::put_bytes`], published when the batch finishes; `previous` is the
    /// object this content replaces (the same path in the previous version), a delta base.
    pub fn put_bytes(&self, kind: Kind, bytes: &[u8], previous: Option<&Hash>) -> Result<Hash> {
        self.store.put_bytes_in(kind, bytes, Some(self), previous)
    }

    /// Like [`Store::put_file`], published when the batch finishes; `previous` as for
    /// [`Batch::put_bytes`].
    pub fn put_file(&self, path: &Path, previous: Option<&Hash>) -> Result<Stored> {
        self.store.put_file_in(path, self, previous)
    }

    /// Whether the object is in the store (objects still pending in this batch are not), as
    /// of the batch's start: what another process adds meanwhile is missed, which only costs
    /// writing it again. A commit asks this for every file the stat cache vouches for.
    pub fn has(&self, kind: Kind, id: &Hash) -> bool {
        let kind_index = Kind::ALL.iter().position(|k| *k == kind).expect("a kind");
        let packed = match &self.packs {
            Some(packs) => packs.find(kind.code(), id).is_some(),
            None => self.store.find_packed(kind, id).is_some(),
        };
        packed
            || (self.loose_fan_outs[kind_index][id.0[0] as usize]
                && self.store.object_path(kind, id).exists())
    }

    /// Stores an object file exactly as it came (a verified object from another store): packed
    /// when small, else a file of its own.
    pub fn put_object_file(&self, kind: Kind, id: &Hash, object_file: &[u8]) -> Result<()> {
        if self.store.known(kind, id, Some(self)) {
            return Ok(());
        }
        let (header, payload) = object_file.split_at(object_file::HEADER_LEN);
        // Versions stay files of their own, as a commit writes them.
        if kind != Kind::Version && object_file.len() as u64 <= MAX_PACKED_OBJECT {
            self.append_to_pack(kind, id, header, payload)
        } else {
            self.store
                .publish(kind, id, Some(self), |out| out.write_all(object_file))
        }
    }

    /// Appends an object file to this batch's pack even though the store holds it already:
    /// repacking copies live objects out of a pack that is about to be removed.
    pub fn copy_object_file(&self, kind: Kind, id: &Hash, object_file: &[u8]) -> Result<()> {
        let (header, payload) = object_file.split_at(object_file::HEADER_LEN);
        self.append_to_pack(kind, id, header, payload)
    }

    /// Stores a verified object file received into a temporary file of [`Store::temp_file`].
    pub fn put_object_temp_file(
        &self,
        kind: Kind,
        id: &Hash,
        temp: tempfile::NamedTempFile,
    ) -> Result<()> {
        if self.store.known(kind, id, Some(self)) {
            return Ok(());
        }
        self.store.persist(kind, id, temp, Some(self))
    }

    /// Whether this batch already packed the object.
    fn holds(&self, kind: Kind, id: &Hash) -> bool {
        self.lock_packing().held.contains(&(kind.code(), *id))
    }

    fn lock_packing(&self) -> std::sync::MutexGuard<'_, Packing> {
        self.packing
            .lock()
            .expect("no panics while holding the lock")
    }

    fn append_to_pack(&self, kind: Kind, id: &Hash, header: &[u8], payload: &[u8]) -> Result<()> {
        let mut packing = self.lock_packing();
        if !packing.held.insert((kind.code(), *id)) {
            return Ok(());
        }
        let (writer, path) = match &mut packing.current {
            Some(current) => current,
            None => {
                let (file, path) = self.store.temp_file()?.into_parts();
                let writer = PackWriter::new(file).with_path(&path)?;
                packing.current.insert((writer, path))
            }
        };
        writer
            .append(kind.code(), id, header, payload)
            .with_path(&*path)?;
        if writer.size() >= MAX_PACK_BYTES {
            packing.close_current()?;
        }
        Ok(())
    }

    /// Makes every object of the batch durable and visible under its id, all published
    /// together ([`PublishTogether`](crate::fs_util::PublishTogether)).
    pub fn finish(self) -> Result<()> {
        let mut packing = self
            .packing
            .into_inner()
            .expect("no panics while holding the lock");
        packing.close_current()?;
        let pending = self
            .pending
            .into_inner()
            .expect("no panics while holding the lock");
        if pending.is_empty() && packing.full.is_empty() {
            return Ok(());
        }
        let mut packs = Vec::new();
        for (index, pack_path) in packing.full {
            let mut index_file = self.store.temp_file()?;
            index_file
                .write_all(&index.encode())
                .with_path(index_file.path())?;
            packs.push((index, pack_path, index_file.into_temp_path()));
        }
        let mut files = crate::fs_util::PublishTogether::new("batch");
        for (temp, target) in pending {
            files.add(temp, target, "loose-renamed");
        }
        let pack_dir = self.store.root.join(PACK_DIR);
        let mut published = Vec::new();
        for (index, pack_temp, index_temp) in packs {
            let name = index.pack_id().to_hex();
            let pack_path = pack_dir.join(format!("{name}.pack"));
            let index_path = pack_dir.join(format!("{name}.idx"));
            // The pack first: a pack without its index is indexed by scanning it.
            files.add(pack_temp, pack_path.clone(), "pack-renamed");
            files.add(index_temp, index_path, "index-renamed");
            published.push(Pack::new(index, pack_path));
        }
        files.publish()?;
        self.store.add_packs(published);
        Ok(())
    }
}

/// The objects needed to read an object, from its header and payload.
fn dependencies_in(
    kind: Kind,
    id: &Hash,
    header: Header,
    payload: &[u8],
) -> Result<Vec<(Kind, Hash)>> {
    Ok(match header.encoding {
        Encoding::Chunks if kind == Kind::Blob => chunks::decode(payload, header.size)
            .map_err(|e| read_error(kind, id, e))?
            .into_iter()
            .map(|c| (Kind::Chunk, c.id))
            .collect(),
        Encoding::Delta => {
            let (link, _) = delta::Link::decode(payload).map_err(|e| read_error(kind, id, e))?;
            vec![(kind, link.base)]
        }
        _ => Vec::new(),
    })
}

/// How the reason of an object whose delta base is damaged begins.
const DAMAGED_BASE: &str = "its delta base ";

/// Why an object rebuilt from a part (a chunk, a delta base) cannot be read, naming the part.
pub(crate) fn damaged_part(name: &str, part: &Hash, err: &Error) -> String {
    match err {
        Error::MissingObject { .. } => format!("its {name} {part} is missing"),
        other => format!("its {name} {part} is damaged: {}", other.object_reason()),
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
        id: id.to_hex(),
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
