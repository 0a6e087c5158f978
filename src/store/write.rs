//! Writing objects: hashing, compressing, chunking large files and choosing a delta against the
//! previous version of the same path; published at once or with a batch.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use super::{
    Batch, Encoding, Header, Kind, MAX_PACKED_OBJECT, Opened, Store, chunks, delta, object_file,
    read_error,
};
use crate::error::{Error, IoResultExt, Result};
use crate::id::Hash;

impl Store {
    /// Whether writing an object can be skipped because it is already stored (or packed by
    /// this batch).
    pub(super) fn known(&self, kind: Kind, id: &Hash, batch: Option<&Batch>) -> bool {
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
    pub(super) fn put_bytes_in(
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
        // The previous object is opened once: for its link, and for its content when it is
        // the base (within a run, the usual case).
        let mut opened = match self.open_object(kind, previous).ok()? {
            Opened::Memory(header, payload) => Some((header, payload)),
            Opened::Stream(..) => None,
        };
        let first_link = match &opened {
            Some((header, payload)) if header.encoding == Encoding::Delta => {
                Some(delta::Link::decode(payload).ok()?.0)
            }
            _ => None,
        };
        let mut base = (*previous, first_link);
        let (seq, base_seq) = delta::next_positions(seq_of(base.1));
        // Back along the previous object's bases: at most a run, then one per skip.
        for _ in 0..delta::RUN + 32 {
            if seq_of(base.1) <= base_seq {
                break;
            }
            let next = base.1?.base;
            base = (next, self.delta_link(kind, &next).ok()?);
            opened = None;
        }
        if seq_of(base.1) != base_seq {
            return None;
        }
        let (base_content, depth) = match opened {
            Some((header, payload)) => self
                .decode_in_memory(kind, previous, header, payload, 0)
                .ok()?,
            None => self.content(kind, &base.0).ok()?,
        };
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

    pub(super) fn put_file_in(
        &self,
        path: &Path,
        batch: &Batch,
        previous: Option<&Hash>,
    ) -> Result<Stored> {
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

    pub(super) fn publish(
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
    pub(super) fn persist(
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
}

/// Bytes of chunks read before they are stored together on all cores.
pub(super) const CHUNK_GROUP_BYTES: usize = 16 << 20;

/// What storing a file produced.
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    pub id: Hash,
    pub size: u64,
}
