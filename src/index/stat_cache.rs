//! The stat cache: (size, mtime, ctime, inode, mode) → content hash per workspace path, so an
//! unchanged file is never re-read.
//!
//! Racy timestamps are handled as git does: an entry only vouches for a file whose mtime was
//! older than the moment its stat was taken by more than [`RACY_MARGIN_NS`]. A file rewritten
//! within the same timestamp tick, with the same size, therefore never hides behind the cache:
//! its entry is racy and the file is hashed again.

use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::error::{IoResultExt, Result};
use crate::id::Hash;

/// Files modified this close to (or after) the time their entry was taken are re-hashed. Two
/// seconds covers filesystems that store whole-second (ext3, HFS+) or two-second (FAT) mtimes.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// The parts of a file's metadata the cache compares: a fifth of the size of `Metadata`, which
/// matters when a snapshot holds one per file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub mode: u32,
}

impl FileStat {
    pub fn of(meta: &Metadata) -> FileStat {
        FileStat {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & 0o170000 == 0o120000
    }

    /// Whether the owner's execute bit is set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o100 != 0
    }
}

/// What the cache remembers about one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub mode: u32,
    pub hash: Hash,
    /// When the stat behind this entry was taken (nanoseconds since the epoch).
    pub cached_at_ns: i64,
    /// Whether the content is known to be in the object store.
    pub stored: bool,
}

impl CacheEntry {
    /// Builds an entry from a file's metadata.
    pub fn new(stat: &FileStat, hash: Hash, cached_at_ns: i64, stored: bool) -> Self {
        CacheEntry {
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            ino: stat.ino,
            mode: stat.mode,
            hash,
            cached_at_ns,
            stored,
        }
    }

    /// Whether the entry still describes the file with this metadata and can be trusted.
    pub fn vouches_for(&self, stat: &FileStat) -> bool {
        self.matches(stat) && self.mtime_ns.saturating_add(RACY_MARGIN_NS) < self.cached_at_ns
    }

    /// Whether the entry was made for exactly this metadata (trusted or not: see
    /// [`CacheEntry::vouches_for`]).
    pub fn matches(&self, stat: &FileStat) -> bool {
        CacheEntry::new(stat, self.hash, self.cached_at_ns, self.stored) == *self
    }
}

/// The stat cache file, `.dv/stat-cache`: every entry of the workspace, sorted by path.
///
/// A binary file rather than an SQLite table because a commit or status of 100,000 files reads
/// and writes every entry: one read and one parse beat 100,000 row decodes. It is only a cache,
/// so it is written without fsync; its trailing checksum turns a torn or damaged file into an
/// empty cache (every file is hashed again), never into a wrong answer.
///
/// ```text
/// "dvsc" format(1) 0 0 0 count(u64 LE)
/// per entry, sorted by path bytes:
///     path-length(u32 LE) path size(u64) mtime-ns(i64) ctime-ns(i64) inode(u64) mode(u32)
///     hash(32) cached-at-ns(i64) stored(u8)          (integers little-endian)
/// blake3 of everything before (32)
/// ```
pub struct StatCache {
    pub(super) path: PathBuf,
}

const MAGIC: &[u8; 4] = b"dvsc";
/// Far beyond the cache of ten million files; a larger file is not a cache dv wrote.
const MAX_CACHE_BYTES: u64 = 8 << 30;
const FORMAT: u8 = 1;
const HEADER_LEN: usize = 16;
const FIXED_LEN: usize = 8 * 4 + 4 + 32 + 8 + 1;

impl StatCache {
    /// Loads the entries for `prefix` (a workspace-relative path) and everything below it,
    /// sorted by path and keyed relative to `prefix` (`prefix` itself is the empty key).
    pub fn load(&self, prefix: &[u8]) -> Result<CacheView> {
        let bytes = self.read_file()?;
        let mut entries = Vec::new();
        if let Some(body) = body_of(&bytes) {
            let mut at = 0;
            while at < body.len() {
                let Some((path, _, next)) = decode_entry(body, at) else {
                    // Unreachable with a matching checksum unless written by a buggy dv.
                    entries.clear();
                    break;
                };
                if let Some(rel) = relative_to(path, prefix) {
                    let start = HEADER_LEN + at + 4 + (path.len() - rel.len());
                    entries.push((start as u32, rel.len() as u32, HEADER_LEN + at));
                }
                at = next;
            }
        }
        Ok(CacheView { bytes, entries })
    }

    /// Writes new entries and forgets `removed` paths.
    pub fn apply(&self, upserts: &[(Vec<u8>, CacheEntry)], removed: &[Vec<u8>]) -> Result<()> {
        if upserts.is_empty() && removed.is_empty() {
            return Ok(());
        }
        // Merge the sorted file with the sorted changes, without holding entries in a map.
        let mut changes: Vec<(&[u8], Option<&CacheEntry>)> = removed
            .iter()
            .map(|path| (path.as_slice(), None))
            .chain(
                upserts
                    .iter()
                    .map(|(path, entry)| (path.as_slice(), Some(entry))),
            )
            .collect();
        // Stable: for a path both removed and upserted, the upsert (later) wins.
        changes.sort_by(|a, b| a.0.cmp(b.0));
        let bytes = self.read_file()?;
        let old = body_of(&bytes).unwrap_or_default();
        let mut out = Vec::with_capacity(bytes.len() + upserts.len() * (FIXED_LEN + 64) + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[FORMAT, 0, 0, 0]);
        out.extend_from_slice(&0u64.to_le_bytes());
        let mut count = 0u64;
        let mut at = 0;
        let mut changes = changes.into_iter().peekable();
        loop {
            let current = decode_entry(old, at);
            let change = changes.peek().copied();
            let keep_old = match (current, change) {
                (None, None) => break,
                (Some(_), None) => true,
                (Some((path, ..)), Some((changed, _))) => path < changed,
                (None, Some(_)) => false,
            };
            match (current, change) {
                (Some((path, entry, next)), _) if keep_old => {
                    encode_entry(&mut out, path, &entry);
                    count += 1;
                    at = next;
                }
                (current, Some((path, _))) => {
                    // Every change for this path; the last one decides.
                    let mut last = None;
                    while let Some((_, entry)) = changes.next_if(|(p, _)| *p == path) {
                        last = entry;
                    }
                    if let Some((old_path, _, next)) = current
                        && old_path == path
                    {
                        at = next;
                    }
                    if let Some(entry) = last {
                        encode_entry(&mut out, path, entry);
                        count += 1;
                    }
                }
                (_, None) => break,
            }
        }
        out[8..16].copy_from_slice(&count.to_le_bytes());
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        let dir = self.path.parent().expect("the cache lives in .dv");
        let mut temp = tempfile::Builder::new()
            .prefix(crate::fs_util::TEMP_PREFIX)
            .tempfile_in(dir)
            .with_path(dir)?;
        temp.write_all(&out).with_path(temp.path())?;
        crate::fs_util::publish(
            temp,
            &self.path,
            crate::fs_util::Durability::Cache,
            "stat-cache",
        )
    }

    fn read_file(&self) -> Result<Vec<u8>> {
        Ok(crate::fs_util::read_bounded(&self.path, MAX_CACHE_BYTES)?.unwrap_or_default())
    }
}

fn encode_entry(out: &mut Vec<u8>, path: &[u8], e: &CacheEntry) {
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path);
    out.extend_from_slice(&e.size.to_le_bytes());
    out.extend_from_slice(&e.mtime_ns.to_le_bytes());
    out.extend_from_slice(&e.ctime_ns.to_le_bytes());
    out.extend_from_slice(&e.ino.to_le_bytes());
    out.extend_from_slice(&e.mode.to_le_bytes());
    out.extend_from_slice(&e.hash.0);
    out.extend_from_slice(&e.cached_at_ns.to_le_bytes());
    out.push(u8::from(e.stored));
}

/// The entries of a cache file; `None` (an empty cache) when it is missing, damaged or newer.
fn body_of(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < HEADER_LEN + 32
        || &bytes[..4] != MAGIC
        || bytes[4] != FORMAT
        || blake3::hash(&bytes[..bytes.len() - 32]).as_bytes() != &bytes[bytes.len() - 32..]
    {
        return None;
    }
    Some(&bytes[HEADER_LEN..bytes.len() - 32])
}

/// The entries below one path, in path order, decoded on demand from the file's bytes (a
/// status of 100,000 files reads them all once, in order, so no map is built).
pub struct CacheView {
    bytes: Vec<u8>,
    /// Per entry: where its relative path starts, its length, and where the entry starts.
    entries: Vec<(u32, u32, usize)>,
}

impl CacheView {
    /// An empty view, for snapshots outside the workspace.
    pub fn empty() -> CacheView {
        CacheView {
            bytes: Vec::new(),
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry as (path relative to the view's prefix, entry), sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], CacheEntry)> + '_ {
        self.entries.iter().map(|&(start, len, entry_at)| {
            let rel = &self.bytes[start as usize..start as usize + len as usize];
            let (_, entry, _) = decode_entry(&self.bytes[HEADER_LEN..], entry_at - HEADER_LEN)
                .expect("entries were decoded when the view was made");
            (rel, entry)
        })
    }
}

fn decode_entry(body: &[u8], at: usize) -> Option<(&[u8], CacheEntry, usize)> {
    let len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
    let path = body.get(at + 4..at + 4 + len)?;
    let fixed = body.get(at + 4 + len..at + 4 + len + FIXED_LEN)?;
    let u64_at = |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().expect("8 bytes"));
    let entry = CacheEntry {
        size: u64_at(0),
        mtime_ns: u64_at(8) as i64,
        ctime_ns: u64_at(16) as i64,
        ino: u64_at(24),
        mode: u32::from_le_bytes(fixed[32..36].try_into().expect("4 bytes")),
        hash: Hash(fixed[36..68].try_into().expect("32 bytes")),
        cached_at_ns: u64_at(68) as i64,
        stored: fixed[76] != 0,
    };
    Some((path, entry, at + 4 + len + FIXED_LEN))
}

/// `path` relative to `prefix` when it is `prefix` itself ("") or lies below it; every path
/// lies below the workspace root, "".
fn relative_to<'p>(path: &'p [u8], prefix: &[u8]) -> Option<&'p [u8]> {
    if prefix.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    match rest.split_first() {
        None => Some(rest),
        Some((b'/', below)) => Some(below),
        Some(_) => None,
    }
}

/// The current time in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
