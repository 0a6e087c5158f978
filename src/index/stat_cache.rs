//! The stat cache: (size, mtime, ctime, inode, mode) → content hash per workspace path, so an
//! unchanged file is never re-read.
//!
//! Racy timestamps are handled as git does: an entry only vouches for a file whose mtime was
//! older than the moment its stat was taken by more than [`RACY_MARGIN_NS`]. A file rewritten
//! within the same timestamp tick, with the same size, therefore never hides behind the cache:
//! its entry is racy and the file is hashed again.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::id::Hash;

/// Files modified this close to (or after) the time their entry was taken are re-hashed. Two
/// seconds covers filesystems that store whole-second (ext3, HFS+) or two-second (FAT) mtimes.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

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
    pub fn new(meta: &Metadata, hash: Hash, cached_at_ns: i64, stored: bool) -> Self {
        CacheEntry {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            ino: meta.ino(),
            mode: meta.mode(),
            hash,
            cached_at_ns,
            stored,
        }
    }

    /// Whether the entry still describes the file with this metadata and can be trusted.
    pub fn vouches_for(&self, meta: &Metadata) -> bool {
        let now = CacheEntry::new(meta, self.hash, self.cached_at_ns, self.stored);
        now == *self && self.mtime_ns.saturating_add(RACY_MARGIN_NS) < self.cached_at_ns
    }
}

/// Access to the cache table.
pub struct StatCache<'a> {
    pub(super) conn: &'a Connection,
}

impl StatCache<'_> {
    /// Loads the entries for `prefix` (a workspace-relative path) and everything below it.
    pub fn load(&self, prefix: &[u8]) -> Result<HashMap<Vec<u8>, CacheEntry>> {
        let (lower, upper) = range_below(prefix);
        let mut stmt = self.conn.prepare(
            "SELECT path, size, mtime_ns, ctime_ns, ino, mode, hash, cached_at_ns, stored FROM stat_cache
             WHERE ?1 = x'' OR path = ?1 OR (path >= ?2 AND path < ?3)",
        )?;
        let rows = stmt.query_map(params![prefix, lower, upper], |row| {
            let hash: Vec<u8> = row.get(6)?;
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                hash,
                CacheEntry {
                    size: row.get::<_, i64>(1)? as u64,
                    mtime_ns: row.get(2)?,
                    ctime_ns: row.get(3)?,
                    ino: row.get::<_, i64>(4)? as u64,
                    mode: row.get(5)?,
                    hash: Hash([0; 32]),
                    cached_at_ns: row.get(7)?,
                    stored: row.get(8)?,
                },
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (path, hash, mut entry) = row?;
            // A malformed hash is treated as no entry: the file is simply hashed again.
            if let Ok(bytes) = <[u8; 32]>::try_from(hash.as_slice()) {
                entry.hash = Hash(bytes);
                out.insert(path, entry);
            }
        }
        Ok(out)
    }

    /// Writes new entries and forgets `removed` paths, in one transaction.
    pub fn apply(&self, upserts: &[(Vec<u8>, CacheEntry)], removed: &[Vec<u8>]) -> Result<()> {
        if upserts.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, ctime_ns, ino, mode, hash, cached_at_ns, stored)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (path, e) in upserts {
                insert.execute(params![
                    path,
                    e.size as i64,
                    e.mtime_ns,
                    e.ctime_ns,
                    e.ino as i64,
                    e.mode,
                    &e.hash.0[..],
                    e.cached_at_ns,
                    e.stored
                ])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM stat_cache WHERE path = ?1")?;
            for path in removed {
                delete.execute([path])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The byte range of paths strictly below directory `prefix`: `prefix/` up to `prefix0`.
fn range_below(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut lower = prefix.to_vec();
    lower.push(b'/');
    let mut upper = prefix.to_vec();
    upper.push(b'/' + 1);
    (lower, upper)
}

/// The current time in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
