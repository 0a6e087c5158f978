//! Rebuilding the index from the source of truth: version objects and tag files.

use std::path::Path;

use super::{Doing, Index, insert_version_in};
use crate::error::Result;
use crate::id::VersionId;
use crate::object::Version;
use crate::refs::file as refs_file;
use crate::store::{Kind, Store};

/// What a rebuild found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RebuildReport {
    pub versions: usize,
    pub tags: usize,
    /// Version objects that could not be read, with the reason; they are left out of the index.
    pub skipped: Vec<Skipped>,
    /// Tag files that do not hold a version id; left out of the index.
    pub damaged_tags: Vec<String>,
}

/// A version object left out of the index.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// Replaces the index's versions and tags with what the store and `.dv/refs` hold.
pub fn rebuild(index: &Index, store: &Store, refs_dir: &Path) -> Result<RebuildReport> {
    let mut report = RebuildReport::default();
    let mut versions = Vec::new();
    for hash in store.list(Kind::Version)? {
        let id = VersionId(hash);
        match store
            .get_bytes(Kind::Version, &hash)
            .and_then(|bytes| Version::decode(&bytes, &id))
        {
            Ok(version) => versions.push((id, version)),
            Err(err) => report.skipped.push(Skipped {
                id: id.to_hex(),
                reason: err.to_string(),
            }),
        }
    }
    let (tags, damaged) = refs_file::read_tag_files_lenient(refs_dir)?;
    report
        .damaged_tags
        .extend(damaged.iter().map(|p| p.display().to_string()));
    (|| {
        let tx = index.conn.unchecked_transaction()?;
        tx.execute_batch("DELETE FROM inputs; DELETE FROM versions; DELETE FROM tags;")?;
        for (id, version) in &versions {
            insert_version_in(&tx, id, version)?;
        }
        for (name, id) in &tags {
            tx.execute(
                "INSERT OR REPLACE INTO tags (name, version) VALUES (?1, ?2)",
                [name, &id.to_hex()],
            )?;
        }
        tx.commit()
    })()
    .doing("rebuilding the index")?;
    report.versions = versions.len();
    report.tags = tags.len();
    Ok(report)
}
