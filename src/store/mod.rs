//! The content-addressed object store: the source of truth of a workspace.
//!
//! Objects live in `.dv/objects/<kind>/<2 hex>/<62 hex>`, one namespace per kind so that a file
//! whose bytes happen to equal a tree encoding can never be read as a tree. Objects are
//! immutable: a write goes to a temporary file, is synced and renamed into place, and writing an
//! object that already exists is a no-op. Every read is verified against the object's id before
//! its bytes are handed out.

mod object_file;
mod verify;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, IoResultExt, Result};
use crate::id::Hash;

pub use object_file::{Encoding, Header};
pub use verify::VerifiedReader;

/// The three kinds of stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// File content or a symlink target.
    Blob,
    /// One directory listing.
    Tree,
    /// One version with its provenance.
    Version,
}

impl Kind {
    /// All kinds, in the order fsck and reindex visit them.
    pub const ALL: [Kind; 3] = [Kind::Blob, Kind::Tree, Kind::Version];

    /// The directory name of the kind's namespace, also used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Blob => "blob",
            Kind::Tree => "tree",
            Kind::Version => "version",
        }
    }

    fn code(self) -> u8 {
        match self {
            Kind::Blob => b'b',
            Kind::Tree => b't',
            Kind::Version => b'v',
        }
    }
}

/// Largest tree or version object dv will load into memory; protects against crafted objects.
pub const MAX_METADATA_OBJECT: u64 = 256 << 20;

/// Size of the buffers files are streamed through.
const CHUNK: usize = 1 << 20;

/// The object store of one workspace.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
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
        Store { root }
    }

    /// Creates the directory layout of a new store.
    pub fn create(root: &Path) -> Result<()> {
        for kind in Kind::ALL {
            let dir = root.join(kind.name());
            fs::create_dir_all(&dir).with_path(&dir)?;
        }
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).with_path(&tmp)
    }

    /// The path an object lives at.
    pub fn object_path(&self, kind: Kind, id: &Hash) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(kind.name()).join(&hex[..2]).join(&hex[2..])
    }

    /// Whether an object exists (without verifying it).
    pub fn has(&self, kind: Kind, id: &Hash) -> bool {
        self.object_path(kind, id).exists()
    }

    /// Stores an in-memory object and returns its id.
    pub fn put_bytes(&self, kind: Kind, bytes: &[u8]) -> Result<Hash> {
        self.put_bytes_in(kind, bytes, None)
    }

    fn put_bytes_in(&self, kind: Kind, bytes: &[u8], batch: Option<&Batch>) -> Result<Hash> {
        let id = Hash::of(bytes);
        if !self.has(kind, &id) {
            let (encoding, payload) = object_file::choose_encoding(bytes);
            let header = Header {
                kind: kind.code(),
                encoding,
                size: bytes.len() as u64,
            };
            self.publish(kind, &id, batch, |out| {
                out.write_all(&header.encode())?;
                out.write_all(&payload)
            })?;
        }
        Ok(id)
    }

    /// Streams a file into the store, hashing and compressing in one pass with bounded memory.
    ///
    /// Small files are compressed in memory and stored raw when zstd does not shrink them; for
    /// large files the first chunk decides whether the rest is compressed.
    pub fn put_file(&self, path: &Path) -> Result<Stored> {
        self.put_file_in(path, None)
    }

    fn put_file_in(&self, path: &Path, batch: Option<&Batch>) -> Result<Stored> {
        let mut file = File::open(path).with_path(path)?;
        let mut first = Vec::with_capacity(CHUNK.min(64 << 10));
        (&mut file)
            .take(CHUNK as u64)
            .read_to_end(&mut first)
            .with_path(path)?;
        if first.len() < CHUNK {
            let id = self.put_bytes_in(Kind::Blob, &first, batch)?;
            return Ok(Stored {
                id,
                size: first.len() as u64,
            });
        }
        let encoding = object_file::choose_encoding_for_sample(&first);
        let mut hasher = blake3::Hasher::new();
        let mut temp = self.temp_file()?;
        let mut size = 0u64;
        let write = |out: &mut File| -> io::Result<()> {
            out.write_all(
                &Header {
                    kind: Kind::Blob.code(),
                    encoding,
                    size: 0,
                }
                .encode(),
            )?;
            let mut sink: Box<dyn Write + '_> = match encoding {
                Encoding::Raw => Box::new(&mut *out),
                Encoding::Zstd => Box::new(zstd::Encoder::new(&mut *out, 3)?.auto_finish()),
            };
            let mut buf = first;
            loop {
                if buf.is_empty() {
                    break;
                }
                hasher.update(&buf);
                size += buf.len() as u64;
                sink.write_all(&buf)?;
                buf.resize(CHUNK, 0);
                let n = read_full(&mut file, &mut buf)?;
                buf.truncate(n);
            }
            sink.flush()?;
            drop(sink);
            Ok(())
        };
        write(temp.as_file_mut()).with_path(path)?;
        let id = Hash::from(hasher.finalize());
        let header = Header {
            kind: Kind::Blob.code(),
            encoding,
            size,
        };
        object_file::rewrite_header(temp.as_file_mut(), &header).with_path(temp.path())?;
        if !self.has(Kind::Blob, &id) {
            self.persist(Kind::Blob, &id, temp, batch)?;
        }
        Ok(Stored { id, size })
    }

    /// Loads a tree or version object into memory, verified against its id.
    pub fn get_bytes(&self, kind: Kind, id: &Hash) -> Result<Vec<u8>> {
        let mut reader = self.read(kind, id)?;
        if reader.size() > MAX_METADATA_OBJECT {
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
        let path = self.object_path(kind, id);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::MissingObject {
                    kind: kind.name(),
                    id: id.to_hex(),
                });
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let header = Header::read(&mut file).map_err(|e| read_error(kind, id, e))?;
        if header.kind != kind.code() {
            return Err(corrupt(kind, id, "its header names another kind".into()));
        }
        VerifiedReader::new(file, header, *id).map_err(|e| read_error(kind, id, e))
    }

    /// Copies a blob to `out` (the file at `out_path`), verifying it; returns the byte count.
    pub fn copy_blob(&self, id: &Hash, out: &mut impl Write, out_path: &Path) -> Result<u64> {
        let mut reader = self.read(Kind::Blob, id)?;
        let mut buf = vec![0u8; 256 << 10];
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

    /// Lists the ids of every object of one kind.
    pub fn list(&self, kind: Kind) -> Result<Vec<Hash>> {
        let dir = self.root.join(kind.name());
        let mut ids = Vec::new();
        for fan in fs::read_dir(&dir).with_path(&dir)? {
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
        ids.sort();
        Ok(ids)
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
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
        let dir = target
            .parent()
            .expect("object paths have a fan-out directory");
        fs::create_dir_all(dir).with_path(dir)?;
        temp.as_file().sync_all().with_path(temp.path())?;
        temp.persist(&target)
            .map_err(|e| Error::io(&target, e.error))?;
        crate::fs_util::sync_dir(dir)
    }

    /// Starts a batch of writes that become durable together (see [`Batch`]).
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Flushes everything written to the store's filesystem to disk.
    fn sync_filesystem(&self) -> Result<()> {
        let root = File::open(&self.root).with_path(&self.root)?;
        rustix::fs::syncfs(&root).map_err(|e| Error::io(&self.root, e.into()))
    }
}

/// Objects written without waiting for the disk one by one, made durable together.
///
/// Each object goes to a temporary file; [`Batch::finish`] syncs the whole filesystem once,
/// then renames every object into place and syncs again. An object therefore only ever
/// appears under its id after its bytes are on disk — a crash at any point leaves whole objects
/// or none — at the cost of two filesystem syncs instead of two fsyncs per object. Dropping an
/// unfinished batch deletes its temporary files.
pub struct Batch<'a> {
    store: &'a Store,
    pending: Mutex<Vec<(tempfile::TempPath, PathBuf)>>,
}

impl Batch<'_> {
    /// Like [`Store::put_bytes`], published when the batch finishes.
    pub fn put_bytes(&self, kind: Kind, bytes: &[u8]) -> Result<Hash> {
        self.store.put_bytes_in(kind, bytes, Some(self))
    }

    /// Like [`Store::put_file`], published when the batch finishes.
    pub fn put_file(&self, path: &Path) -> Result<Stored> {
        self.store.put_file_in(path, Some(self))
    }

    /// Whether the object is in the store (objects still pending in this batch are not).
    pub fn has(&self, kind: Kind, id: &Hash) -> bool {
        self.store.has(kind, id)
    }

    /// Makes every object of the batch durable and visible under its id.
    pub fn finish(self) -> Result<()> {
        let pending = self
            .pending
            .into_inner()
            .expect("no panics while holding the lock");
        if pending.is_empty() {
            return Ok(());
        }
        self.store.sync_filesystem()?;
        let mut made = std::collections::HashSet::new();
        for (temp, target) in pending {
            let dir = target
                .parent()
                .expect("object paths have a fan-out directory");
            if made.insert(dir.to_path_buf()) {
                fs::create_dir_all(dir).with_path(dir)?;
            }
            temp.persist(&target)
                .map_err(|e| Error::io(&target, e.error))?;
        }
        self.store.sync_filesystem()
    }
}

/// Reads until `buf` is full or the input ends; returns the byte count.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
