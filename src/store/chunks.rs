//! Large files as lists of content-defined chunks, so an append or an edit in the middle of a
//! file stores the chunks that changed instead of the file.
//!
//! Boundaries come from FastCDC (2020), so they follow the content: inserting bytes moves
//! only the boundaries near the insertion. A chunked file's blob is an object whose payload
//! lists its chunks; its id is still the blake3 hash of the whole content, so `b3sum` names a
//! file however it is stored. Each chunk is an object of kind `chunk`, packed like any small
//! object, and may itself be a delta against a chunk of the file's previous version.
//!
//! ```text
//! payload: per chunk, in file order: id (32) size (u32 LE)
//! ```

use std::collections::HashMap;
use std::io::{self, Read};

use crate::id::Hash;

/// Files at least this large are chunked; smaller ones are one object (and, being small, may
/// be a delta against the previous version as a whole).
pub const CHUNKED_FILE: u64 = 1 << 20;

/// FastCDC limits. 256 KiB on average keeps a 1 GB file at about 4,000 chunks (a 140 KB list)
/// while an append rewrites about one average chunk; the maximum keeps every chunk small
/// enough to pack (an object file of at most 1 MiB + 16 bytes).
pub const MIN_CHUNK: usize = 64 << 10;
pub const AVG_CHUNK: usize = 256 << 10;
pub const MAX_CHUNK: usize = 1 << 20;

const ENTRY_LEN: usize = 36;

/// One chunk of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub id: Hash,
    pub size: u32,
}

/// Encodes a chunk list payload.
pub fn encode(chunks: &[ChunkRef]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunks.len() * ENTRY_LEN);
    for chunk in chunks {
        out.extend_from_slice(&chunk.id.0);
        out.extend_from_slice(&chunk.size.to_le_bytes());
    }
    out
}

/// Decodes a chunk list, checking that its chunks add up to the file's declared size.
pub fn decode(payload: &[u8], size: u64) -> io::Result<Vec<ChunkRef>> {
    if !payload.len().is_multiple_of(ENTRY_LEN) {
        return Err(super::invalid_data("its chunk list is truncated"));
    }
    let chunks: Vec<ChunkRef> = payload
        .chunks_exact(ENTRY_LEN)
        .map(|entry| ChunkRef {
            id: Hash(entry[..32].try_into().expect("32 bytes")),
            size: u32::from_le_bytes(entry[32..].try_into().expect("4 bytes")),
        })
        .collect();
    if chunks
        .iter()
        .any(|c| c.size == 0 || c.size as usize > MAX_CHUNK)
    {
        return Err(super::invalid_data(format!(
            "its chunk list holds a chunk of 0 or more than {MAX_CHUNK} bytes"
        )));
    }
    let total: u64 = chunks.iter().map(|c| u64::from(c.size)).sum();
    if total != size {
        return Err(super::invalid_data(format!(
            "its chunks hold {total} bytes but its header declares {size}"
        )));
    }
    Ok(chunks)
}

/// The chunks of a file's previous version, to find a base for each changed chunk.
pub struct PreviousChunks {
    /// Start offset of each chunk, ascending.
    starts: Vec<u64>,
    ids: Vec<Hash>,
    offset_of: HashMap<Hash, u64>,
}

impl PreviousChunks {
    pub fn new(chunks: &[ChunkRef]) -> Self {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut offset_of = HashMap::with_capacity(chunks.len());
        let mut at = 0u64;
        for chunk in chunks {
            starts.push(at);
            offset_of.entry(chunk.id).or_insert(at);
            at += u64::from(chunk.size);
        }
        PreviousChunks {
            starts,
            ids: chunks.iter().map(|c| c.id).collect(),
            offset_of,
        }
    }
}

/// Pairs each new chunk with the old chunk covering the same content: the one holding the old
/// offset of the new chunk's middle (a start offset would fall into the chunk before when
/// earlier edits shortened the file by a few bytes), offsets aligned by the last chunk both
/// versions share, so rows inserted or deleted before a chunk do not move its base.
pub struct BaseFinder<'a> {
    previous: &'a PreviousChunks,
    /// New offset minus old offset at the last shared chunk.
    shift: i128,
}

impl<'a> BaseFinder<'a> {
    pub fn new(previous: &'a PreviousChunks) -> Self {
        BaseFinder { previous, shift: 0 }
    }

    /// The base for the chunk at `offset` of the new file, or `None` when it is shared.
    pub fn base_for(&mut self, id: &Hash, offset: u64, size: usize) -> Option<Hash> {
        if let Some(&old) = self.previous.offset_of.get(id) {
            self.shift = i128::from(offset) - i128::from(old);
            return None;
        }
        let middle = i128::from(offset) + (size / 2) as i128;
        let target = (middle - self.shift).max(0) as u64;
        let index = self.previous.starts.partition_point(|&s| s <= target);
        index.checked_sub(1).map(|i| self.previous.ids[i])
    }
}

/// Chunks rebuilt ahead of the reader, on all cores: a chunk is decompressed (and its delta
/// chain applied) while the ones before it are written out.
const READ_AHEAD: usize = 8;

/// Reads a file's chunks in order; the blob reader around it verifies the whole.
pub struct ChunkedReader {
    store: super::Store,
    chunks: std::vec::IntoIter<ChunkRef>,
    ready: std::collections::VecDeque<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
}

impl ChunkedReader {
    pub fn new(store: super::Store, chunks: Vec<ChunkRef>) -> Self {
        ChunkedReader {
            store,
            chunks: chunks.into_iter(),
            ready: std::collections::VecDeque::new(),
            current: Vec::new(),
            position: 0,
        }
    }

    /// Rebuilds the next few chunks in parallel, checking each one's size against the list.
    fn read_ahead(&mut self) -> io::Result<()> {
        use rayon::prelude::*;
        let next: Vec<ChunkRef> = self.chunks.by_ref().take(READ_AHEAD).collect();
        let rebuilt: Vec<io::Result<Vec<u8>>> = next
            .par_iter()
            .map(|chunk| {
                let (content, _) =
                    self.store
                        .content(super::Kind::Chunk, &chunk.id)
                        .map_err(|e| {
                            super::invalid_data(super::damaged_part("chunk", &chunk.id, &e))
                        })?;
                if content.len() != chunk.size as usize {
                    return Err(super::invalid_data(format!(
                        "its chunk {} holds {} bytes, not the {} its list declares",
                        chunk.id,
                        content.len(),
                        chunk.size
                    )));
                }
                Ok(content)
            })
            .collect();
        for content in rebuilt {
            self.ready.push_back(content?);
        }
        Ok(())
    }
}

impl Read for ChunkedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            if self.ready.is_empty() {
                self.read_ahead()?;
            }
            let Some(next) = self.ready.pop_front() else {
                return Ok(0);
            };
            self.current = next;
            self.position = 0;
        }
        let n = buf.len().min(self.current.len() - self.position);
        buf[..n].copy_from_slice(&self.current[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(byte: u8, size: u32) -> ChunkRef {
        ChunkRef {
            id: Hash([byte; 32]),
            size,
        }
    }

    #[test]
    fn lists_round_trip_and_must_add_up() {
        let list = vec![chunk(1, 70_000), chunk(2, 5)];
        let payload = encode(&list);
        assert_eq!(decode(&payload, 70_005).unwrap(), list);
        assert!(decode(&payload, 70_004).is_err());
        assert!(decode(&payload[..40], 70_005).is_err());
        assert!(decode(&encode(&[chunk(1, 0)]), 0).is_err());
    }

    #[test]
    fn bases_follow_the_last_shared_chunk() {
        let old = PreviousChunks::new(&[chunk(1, 100), chunk(2, 100), chunk(3, 100)]);
        let mut finder = BaseFinder::new(&old);
        // A changed first chunk, 3 bytes shorter, pairs with the old first chunk, and so does
        // the second (starting just before the old second chunk) with the old second.
        assert_eq!(finder.base_for(&Hash([9; 32]), 0, 97), Some(Hash([1; 32])));
        assert_eq!(
            finder.base_for(&Hash([7; 32]), 97, 100),
            Some(Hash([2; 32]))
        );
        // 50 bytes were inserted: chunk 2 is found at 150, and the chunk after it pairs with
        // old chunk 3 although its offset is in old chunk 3's range only after the shift.
        assert_eq!(finder.base_for(&Hash([2; 32]), 150, 100), None);
        assert_eq!(
            finder.base_for(&Hash([8; 32]), 250, 100),
            Some(Hash([3; 32]))
        );
    }
}
