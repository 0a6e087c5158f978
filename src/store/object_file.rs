//! The framing of one object file: a fixed 16-byte header, then the payload.
//!
//! ```text
//! 0..4   magic "dvob"
//! 4      object format version (2; 1 had only the raw and zstd encodings)
//! 5      kind: 'b' blob, 't' tree, 'v' version, 'c' chunk
//! 6      encoding: 0 raw, 1 zstd, 2 delta, 3 chunk list
//! 7      reserved, 0
//! 8..16  uncompressed size, u64 little-endian
//! ```

use std::borrow::Cow;
use std::io::{self, Read};

const MAGIC: &[u8; 4] = b"dvob";
/// The object format this dv writes and the newest it reads.
pub const OBJECT_FORMAT: u8 = 2;
pub const HEADER_LEN: usize = 16;

/// How an object's payload is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Raw,
    Zstd,
    /// A zstd frame against a base object's content (see `delta.rs`).
    Delta,
    /// A file's chunks, in order (see `chunks.rs`).
    Chunks,
}

impl Encoding {
    fn code(self) -> u8 {
        match self {
            Encoding::Raw => 0,
            Encoding::Zstd => 1,
            Encoding::Delta => 2,
            Encoding::Chunks => 3,
        }
    }
}

/// The decoded header of an object file.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub kind: u8,
    pub encoding: Encoding,
    /// Uncompressed size of the payload in bytes.
    pub size: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4] = OBJECT_FORMAT;
        out[5] = self.kind;
        out[6] = self.encoding.code();
        out[8..].copy_from_slice(&self.size.to_le_bytes());
        out
    }

    pub fn read(input: &mut impl Read) -> io::Result<Header> {
        let mut raw = [0u8; HEADER_LEN];
        input
            .read_exact(&mut raw)
            .map_err(|_| super::invalid_data("the file is shorter than an object header"))?;
        if &raw[..4] != MAGIC {
            return Err(super::invalid_data(
                "it does not start with the dv object header",
            ));
        }
        if raw[4] > OBJECT_FORMAT {
            return Err(super::invalid_data(super::too_new(
                "object",
                raw[4],
                OBJECT_FORMAT,
            )));
        }
        let encoding = match raw[6] {
            0 => Encoding::Raw,
            1 => Encoding::Zstd,
            2 if raw[4] >= 2 => Encoding::Delta,
            3 if raw[4] >= 2 => Encoding::Chunks,
            other => return Err(super::invalid_data(format!("unknown encoding {other}"))),
        };
        let size = u64::from_le_bytes(raw[8..].try_into().expect("slice of 8 bytes"));
        Ok(Header {
            kind: raw[5],
            encoding,
            size,
        })
    }
}

/// Compresses in-memory content, keeping it raw unless zstd makes it smaller. Content whose
/// first 64 KiB do not compress (images, archives, random bytes) is not tried in full.
pub fn choose_encoding(bytes: &[u8]) -> (Encoding, Cow<'_, [u8]>) {
    const SAMPLE: usize = 64 << 10;
    let worth_trying = bytes.len() >= 64
        && (bytes.len() <= 2 * SAMPLE
            || choose_encoding_for_sample(&bytes[..SAMPLE]) == Encoding::Zstd);
    if worth_trying
        && let Ok(compressed) = compress(bytes, 3)
        && compressed.len() < bytes.len()
    {
        return (Encoding::Zstd, Cow::Owned(compressed));
    }
    (Encoding::Raw, Cow::Borrowed(bytes))
}

/// zstd level a repack stores whole objects at: about 17% smaller than the commit's level 3
/// on CSV tables, within 1% of level 19 per object, at about 5 MB/s per core (level 19: 2).
pub const REPACK_LEVEL: i32 = 15;

/// An object file of `id` written whole at [`REPACK_LEVEL`], when that is smaller than
/// `object_file` (a whole zstd object, verified against `id` first: damage is never rewritten
/// into a new object). `None` for every other encoding, or when nothing is gained.
pub fn recompressed(object_file: &[u8], id: &crate::id::Hash) -> Option<Vec<u8>> {
    let header = Header::read(&mut &object_file[..]).ok()?;
    // A packed object holds less than a chunk list's worth (content of 1 MiB or more is
    // chunked): a header claiming more is damage, not something to allocate for.
    if header.encoding != Encoding::Zstd || header.size > super::MAX_PACKED_OBJECT {
        return None;
    }
    let payload = &object_file[HEADER_LEN..];
    let content = decompress(payload, header.size).ok()?;
    if content.len() as u64 != header.size || crate::id::Hash::of(&content) != *id {
        return None;
    }
    let smaller = compress(&content, REPACK_LEVEL).ok()?;
    if smaller.len() >= payload.len() {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER_LEN + smaller.len());
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&smaller);
    Some(out)
}

/// Decides from a file's first chunk whether compressing the whole file is worth it.
pub fn choose_encoding_for_sample(sample: &[u8]) -> Encoding {
    match compress(sample, 1) {
        Ok(compressed) if (compressed.len() as f64) < sample.len() as f64 * 0.97 => Encoding::Zstd,
        _ => Encoding::Raw,
    }
}

/// Compresses with a per-thread context for each level: setting up a zstd context costs as
/// much as compressing a few kilobytes, and commits compress many small files.
fn compress(bytes: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static COMPRESSORS: std::cell::RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    COMPRESSORS.with_borrow_mut(|compressors| {
        let index = match compressors.iter().position(|(l, _)| *l == level) {
            Some(index) => index,
            None => {
                compressors.push((level, zstd::bulk::Compressor::new(level)?));
                compressors.len() - 1
            }
        };
        compressors[index].1.compress(bytes)
    })
}

/// Decompresses a whole in-memory payload that must not exceed `size` bytes, with a per-thread
/// context (a checkout decompresses one small packed object per file).
pub fn decompress(payload: &[u8], size: u64) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(decompressor) => decompressor,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress(payload, size as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repack stores a whole object smaller and readable as the same content; it never
    /// rewrites one whose content does not hash to its id, nor other encodings.
    #[test]
    fn recompressed_objects_hold_the_same_verified_content() {
        let content: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{i},{},label{}\n", i * 7 % 13, i % 3).into_bytes())
            .collect();
        let id = crate::id::Hash::of(&content);
        let (encoding, payload) = choose_encoding(&content);
        assert_eq!(encoding, Encoding::Zstd);
        let header = Header {
            kind: b'b',
            encoding,
            size: content.len() as u64,
        };
        let file = [&header.encode()[..], &payload].concat();
        let smaller = recompressed(&file, &id).expect("level 15 beats level 3 here");
        assert!(smaller.len() < file.len());
        let back = Header::read(&mut &smaller[..]).unwrap();
        assert_eq!(back.size, content.len() as u64);
        assert_eq!(
            decompress(&smaller[HEADER_LEN..], back.size).unwrap(),
            content
        );
        assert!(recompressed(&file, &crate::id::Hash::of(b"other")).is_none());
        let huge = Header {
            size: 1 << 40,
            ..header
        };
        assert!(recompressed(&[&huge.encode()[..], &payload].concat(), &id).is_none());
        let raw = Header {
            encoding: Encoding::Raw,
            ..header
        };
        assert!(recompressed(&[&raw.encode()[..], &content].concat(), &id).is_none());
    }
}
