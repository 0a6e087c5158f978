//! Reading objects: loose or packed, rebuilt from chunks or a delta chain, every byte verified
//! against the id before it is handed out; and an object file moved unchanged to another store.

use std::fs::{self, File};
use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use super::{
    DAMAGED_BASE, Encoding, Header, Kind, MAX_METADATA_OBJECT, PackSet, Store, VerifiedReader,
    check_kind, chunks, corrupt, damaged_part, delta, memory_limit, object_file, read_error,
};
use crate::error::{Error, IoResultExt, Result};
use crate::id::Hash;

impl Store {
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
                    id: *id,
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
                id: *id,
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
    pub(super) fn decode_in_memory(
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
    pub(super) fn open_object(&self, kind: Kind, id: &Hash) -> Result<Opened> {
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
                        id: *id,
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
}

/// An object file's bytes exactly as stored (header and payload), to move it to another store
/// unchanged: in memory when small, else the loose file to stream.
pub enum RawObject {
    Bytes(Vec<u8>),
    File { path: PathBuf, size: u64 },
}

/// Loose object files up to this size are read into memory to be moved.
pub(super) const RAW_IN_MEMORY: u64 = 16 << 20;

/// An object found in the store.
pub(super) enum Opened {
    /// A loose object to stream, positioned after its header.
    Stream(io::BufReader<File>, Header),
    /// An object's header and payload, read into memory.
    Memory(Header, Vec<u8>),
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
