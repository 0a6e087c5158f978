//! The SQLite index: a derived cache that makes queries fast.
//!
//! It holds every version (with its inputs) and the tags, rebuilt from the object store and
//! `.dv/refs` by [`rebuild`]; an index with an unknown schema or a damaged file is thrown away
//! and rebuilt, never trusted. The stat cache beside it (`.dv/stat-cache`) is a file of its own.

mod rebuild;
pub mod stat_cache;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::id::{Hash, VersionId};
use crate::object::Version;
use crate::store::{Kind, Store};

pub use rebuild::{RebuildReport, rebuild};
pub use stat_cache::{CacheEntry, FileStat, StatCache};

/// Bumped whenever the schema changes; a different number makes dv rebuild the index.
const SCHEMA_VERSION: i32 = 2;

/// How long a command waits for another process's index transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE versions (
    id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    stage TEXT NOT NULL,
    tree TEXT NOT NULL,
    created_at TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX versions_by_dataset ON versions (dataset, stage, created_at);
CREATE INDEX versions_by_time ON versions (created_at);
CREATE TABLE inputs (
    child TEXT NOT NULL,
    position INTEGER NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (child, position)
);
CREATE INDEX inputs_by_parent ON inputs (parent);
CREATE TABLE tags (name TEXT PRIMARY KEY, version TEXT NOT NULL);
";

/// Which versions `log` lists.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub dataset: Option<String>,
    pub stage: Option<String>,
    /// Only versions whose transform contains this text.
    pub transform: Option<String>,
    /// Only versions with all of these parameter values.
    pub params: Vec<(String, serde_json::Value)>,
    pub limit: Option<usize>,
}

impl LogFilter {
    fn needs_provenance(&self) -> bool {
        self.transform.is_some() || !self.params.is_empty()
    }

    fn matches(&self, version: &Version) -> bool {
        let transform_ok = self.transform.as_ref().is_none_or(|wanted| {
            version
                .transform
                .as_ref()
                .is_some_and(|t| t.contains(wanted.as_str()))
        });
        transform_ok
            && self
                .params
                .iter()
                .all(|(key, value)| version.params.get(key) == Some(value))
    }
}

/// An open index.
pub struct Index {
    conn: Connection,
    stat_cache_path: std::path::PathBuf,
    /// Where a row that does not hash to its id is read from instead (the truth).
    store: Store,
}

impl Index {
    /// Opens the index; returns it and whether it must be rebuilt from the objects (it was
    /// missing, damaged, or had another schema).
    pub fn open(path: &Path, store: Store) -> Result<(Index, bool)> {
        match Self::try_open(path, &store) {
            Ok(found) => Ok(found),
            Err(crate::Error::Index { source, .. }) if is_damaged(&source) => {
                // A damaged database is only a cache: discard it and start over. (A busy or
                // locked one is not damaged: that error goes to the caller.)
                for suffix in ["", "-wal", "-shm"] {
                    let file = path.with_file_name(format!(
                        "{}{suffix}",
                        path.file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or("index.sqlite")
                    ));
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(crate::Error::io(&file, e));
                        }
                        _ => {}
                    }
                }
                let (index, _) = Self::try_open(path, &store)?;
                Ok((index, true))
            }
            Err(other) => Err(other),
        }
    }

    /// Opens the index for a command that only reads, writing nothing (no journal-mode
    /// change, no schema, no repair). `None` when it cannot serve: missing, damaged, another
    /// schema, or unreadable; the caller then builds one in memory from the objects.
    pub fn open_read_only(path: &Path, store: &Store) -> Option<Index> {
        use rusqlite::OpenFlags;
        if !path.is_file() {
            return None;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let usable = |conn: Connection| -> Option<Index> {
            conn.busy_timeout(BUSY_TIMEOUT).ok()?;
            let version: i32 = conn
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .ok()?;
            (version == SCHEMA_VERSION).then(|| Index::with(conn, path, store))
        };
        // A read-only directory cannot hold SQLite's shared-memory file: then the file is read
        // as immutable (a mounted snapshot, a colleague's directory nobody writes to).
        Connection::open_with_flags(path, flags)
            .ok()
            .and_then(usable)
            .or_else(|| {
                let uri = format!("file:{}?immutable=1", uri_path(path));
                Connection::open_with_flags(uri, flags)
                    .ok()
                    .and_then(usable)
            })
    }

    /// An empty index in memory, for a reader whose index on disk cannot serve.
    pub fn in_memory(path: &Path, store: &Store) -> Result<Index> {
        let conn = (|| {
            let conn = Connection::open_in_memory()?;
            conn.execute_batch(SCHEMA)?;
            Ok(conn)
        })()
        .doing("building an index in memory")?;
        Ok(Index::with(conn, path, store))
    }

    fn try_open(path: &Path, store: &Store) -> Result<(Index, bool)> {
        let open = || -> rusqlite::Result<(Connection, bool)> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // FULL: a committed transaction (a version's row, a tag) survives power loss; with
            // NORMAL the last ones may vanish after dv printed the id.
            conn.pragma_update(None, "synchronous", "FULL")?;
            let version: i32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
            // Touch a table so a file that is not a database fails here, not later.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            if version == SCHEMA_VERSION {
                return Ok((conn, false));
            }
            let tx = conn.unchecked_transaction()?;
            let tables: Vec<String> = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for table in tables {
                tx.execute_batch(&format!("DROP TABLE IF EXISTS \"{table}\""))?;
            }
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
            Ok((conn, true))
        };
        let (conn, created) = open().doing("opening the index")?;
        Ok((Index::with(conn, path, store), created))
    }

    fn with(conn: Connection, path: &Path, store: &Store) -> Index {
        Index {
            conn,
            stat_cache_path: path.with_file_name("stat-cache"),
            store: store.clone(),
        }
    }

    /// Removes a version's row and its input edges (`dv forget`; its object goes first).
    pub fn remove_version(&self, id: &VersionId) -> Result<()> {
        (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute("DELETE FROM versions WHERE id = ?1", [id.to_hex()])?;
            tx.execute("DELETE FROM inputs WHERE child = ?1", [id.to_hex()])?;
            tx.commit()
        })()
        .doing("removing a version")
    }

    /// Records a version and its inputs (idempotent).
    pub fn insert_version(&self, id: &VersionId, version: &Version) -> Result<()> {
        (|| {
            let tx = self.conn.unchecked_transaction()?;
            insert_version_in(&tx, id, version)?;
            tx.commit()
        })()
        .doing("recording a version")
    }

    /// Loads one version by full id.
    pub fn version(&self, id: &VersionId) -> Result<Option<Version>> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT json FROM versions WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id.to_hex()], |row| row.get(0)).optional())
            .doing("reading a version")?;
        json.map(|json| self.decode_row(id, &json)).transpose()
    }

    /// Ids starting with a hex prefix.
    pub fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<VersionId>> {
        let upper = format!("{prefix}g");
        let ids = (|| {
            self.conn
                .prepare("SELECT id FROM versions WHERE id >= ?1 AND id < ?2 ORDER BY id")?
                .query_map(params![prefix, upper], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })()
        .doing("finding versions by an id prefix")?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// The newest version of a dataset, optionally at one stage.
    pub fn latest(&self, dataset: &str, stage: Option<&str>) -> Result<Option<VersionId>> {
        let filter = LogFilter {
            dataset: Some(dataset.into()),
            stage: stage.map(Into::into),
            limit: Some(1),
            ..Default::default()
        };
        Ok(self.log(&filter)?.into_iter().next().map(|(id, _)| id))
    }

    /// Versions matching a filter, newest first.
    pub fn log(&self, filter: &LogFilter) -> Result<Vec<(VersionId, Version)>> {
        // Provenance filters run on decoded versions, so the limit applies after them.
        let limit = match filter.limit {
            Some(n) if !filter.needs_provenance() => n as i64,
            _ => -1,
        };
        let rows = (|| {
            self.conn
                .prepare(
                    "SELECT id, json FROM versions
                     WHERE (?1 IS NULL OR dataset = ?1) AND (?2 IS NULL OR stage = ?2)
                     ORDER BY created_at DESC, id DESC LIMIT ?3",
                )?
                .query_map(params![filter.dataset, filter.stage, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })()
        .doing("listing versions")?;
        let mut versions = Vec::new();
        for (id, json) in &rows {
            let id: VersionId = id.parse().map_err(|_| corrupt_row(id))?;
            let version = self.decode_row(&id, json)?;
            if filter.matches(&version) {
                versions.push((id, version));
            }
            if filter.limit.is_some_and(|n| versions.len() >= n) {
                break;
            }
        }
        Ok(versions)
    }

    /// Every dataset name, sorted.
    pub fn datasets(&self) -> Result<Vec<String>> {
        (|| {
            self.conn
                .prepare("SELECT DISTINCT dataset FROM versions ORDER BY dataset")?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })()
        .doing("listing datasets")
    }

    /// Whether any version of the dataset exists.
    pub fn has_dataset(&self, dataset: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE dataset = ?1)",
                [dataset],
                |row| row.get(0),
            )
            .doing("looking up a dataset")
    }

    /// Every tag with the version it names, sorted by name.
    pub fn tags(&self) -> Result<Vec<(String, VersionId)>> {
        let rows = (|| {
            self.conn
                .prepare("SELECT name, version FROM tags ORDER BY name")?
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })()
        .doing("listing tags")?;
        rows.into_iter()
            .map(|(name, id)| Ok((name, id.parse().map_err(|_| corrupt_row(&id))?)))
            .collect()
    }

    /// The version a tag names.
    pub fn tag(&self, name: &str) -> Result<Option<VersionId>> {
        let id: Option<String> = self
            .conn
            .query_row("SELECT version FROM tags WHERE name = ?1", [name], |row| {
                row.get(0)
            })
            .optional()
            .doing("reading a tag")?;
        id.map(|id| id.parse().map_err(|_| corrupt_row(&id)))
            .transpose()
    }

    /// Records a tag (the file under `.dv/refs/tags` is the source of truth).
    pub fn set_tag(&self, name: &str, id: Option<&VersionId>) -> Result<()> {
        match id {
            Some(id) => self.conn.execute(
                "INSERT INTO tags (name, version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                params![name, id.to_hex()],
            ),
            None => self
                .conn
                .execute("DELETE FROM tags WHERE name = ?1", [name]),
        }
        .doing("recording a tag")?;
        Ok(())
    }

    /// Replaces every tag with `tags` (from the tag files), in one transaction.
    pub fn replace_tags(&self, tags: &[(String, VersionId)]) -> Result<()> {
        (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute("DELETE FROM tags", [])?;
            for (name, id) in tags {
                tx.execute(
                    "INSERT INTO tags (name, version) VALUES (?1, ?2)",
                    params![name, id.to_hex()],
                )?;
            }
            tx.commit()
        })()
        .doing("replacing the tags")
    }

    /// The versions that name `id` among their inputs.
    pub fn children(&self, id: &VersionId) -> Result<Vec<VersionId>> {
        let ids = (|| {
            self.conn
                .prepare_cached("SELECT child FROM inputs WHERE parent = ?1 ORDER BY child")?
                .query_map([id.to_hex()], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })()
        .doing("finding the versions made from a version")?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Decodes a version row, trusting it only when its bytes hash to its id (one blake3 of a
    /// small record). Otherwise the row was damaged or planted: the version is read from its
    /// object, verified, and the row rewritten.
    fn decode_row(&self, id: &VersionId, json: &str) -> Result<Version> {
        if Hash::of(json.as_bytes()) == id.0 {
            return Version::decode(json.as_bytes(), id);
        }
        let bytes = self.store.get_bytes(Kind::Version, &id.0)?;
        let version = Version::decode(&bytes, id)?;
        // Repairing the row is best effort: a reader of a read-only index still gets the truth.
        let _ = self.replace_row(id, &version);
        Ok(version)
    }

    fn replace_row(&self, id: &VersionId, version: &Version) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM versions WHERE id = ?1", [id.to_hex()])?;
        tx.execute("DELETE FROM inputs WHERE child = ?1", [id.to_hex()])?;
        insert_version_in(&tx, id, version)?;
        tx.commit()
    }

    /// The stat cache, in its own file beside the database.
    pub fn stat_cache(&self) -> StatCache {
        StatCache {
            path: self.stat_cache_path.clone(),
        }
    }
}

/// A path percent-encoded for an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether SQLite says the file is not a database or is corrupt.
fn is_damaged(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn insert_version_in(conn: &Connection, id: &VersionId, version: &Version) -> rusqlite::Result<()> {
    let json = String::from_utf8(version.encode()).expect("JSON is UTF-8");
    conn.execute(
        "INSERT OR IGNORE INTO versions (id, dataset, stage, tree, created_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id.to_hex(), version.dataset, version.stage, version.tree.to_hex(), version.created_at, json],
    )?;
    for (position, parent) in version.inputs.iter().enumerate() {
        conn.execute(
            "INSERT OR IGNORE INTO inputs (child, position, parent) VALUES (?1, ?2, ?3)",
            params![id.to_hex(), position as i64, parent.to_hex()],
        )?;
    }
    Ok(())
}

fn corrupt_row(id: &str) -> crate::Error {
    crate::Error::Index {
        doing: "reading a version id",
        source: rusqlite::Error::InvalidColumnType(
            0,
            format!("bad id {id}"),
            rusqlite::types::Type::Text,
        ),
    }
}

/// Says what the index was doing when SQLite failed (see [`crate::Error::Index`]).
pub(crate) trait Doing<T> {
    fn doing(self, what: &'static str) -> Result<T>;
}

impl<T> Doing<T> for rusqlite::Result<T> {
    fn doing(self, doing: &'static str) -> Result<T> {
        self.map_err(|source| crate::Error::Index { doing, source })
    }
}
