//! Tags: human names pinned to versions, stored as files under `.dv/refs/tags/NAME` holding the
//! full id. The files are the source of truth (the index mirrors them). Tags never move unless
//! the caller asks for it explicitly.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::write_atomic;
use crate::id::VersionId;
use crate::lock::WorkspaceLock;
use crate::workspace::Workspace;

/// What `set_tag` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagChange {
    Created,
    Unchanged,
    Moved { from: VersionId },
}

/// Points tag `name` at `id`; refuses to move an existing tag unless `allow_move`.
pub fn set_tag(ws: &Workspace, name: &str, id: &VersionId, allow_move: bool) -> Result<TagChange> {
    crate::names::check("tag", name)?;
    let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
    let path = ws.tags_dir().join(name);
    let change = match read_tag_file(&path)? {
        Some(current) if current == *id => return Ok(TagChange::Unchanged),
        Some(current) if !allow_move => {
            return Err(Error::TagExists {
                name: name.to_string(),
                current: current.to_hex(),
            });
        }
        Some(current) => TagChange::Moved { from: current },
        None => TagChange::Created,
    };
    write_atomic(&path, format!("{id}\n").as_bytes(), "tag")?;
    ws.index.set_tag(name, Some(id))?;
    Ok(change)
}

/// Removes a tag and returns the version it named.
pub fn delete_tag(ws: &Workspace, name: &str) -> Result<VersionId> {
    let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
    let path = ws.tags_dir().join(name);
    let current = match crate::names::check("tag", name) {
        Ok(()) => read_tag_file(&path)?,
        Err(_) => None,
    };
    let Some(current) = current else {
        return Err(Error::TagNotFound {
            name: name.to_string(),
        });
    };
    fs::remove_file(&path).with_path(&path)?;
    crate::fs_util::sync_dir(&ws.tags_dir())?;
    ws.index.set_tag(name, None)?;
    Ok(current)
}

/// Reads one tag file: `None` when it does not exist, an error naming the file when it does
/// not hold exactly one full version id (a damaged tag must never read as absent, or the next
/// `dv tag` would silently replace it).
fn read_tag_file(path: &Path) -> Result<Option<VersionId>> {
    let Some(bytes) = crate::fs_util::read_bounded(path, 1024)? else {
        return Ok(None);
    };
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| text.strip_suffix('\n').unwrap_or(text).parse().ok())
        .map(Some)
        .ok_or_else(|| Error::DamagedTag {
            path: path.to_path_buf(),
        })
}

/// Reads every tag file. Files whose names are not tag names are not tags and are skipped (a
/// temporary file, say); a tag file that is damaged is an error naming it.
pub fn read_tag_files(dir: &Path) -> Result<Tags> {
    let (tags, damaged) = read_tag_files_lenient(dir)?;
    match damaged.into_iter().next() {
        Some(path) => Err(Error::DamagedTag { path }),
        None => Ok(tags),
    }
}

/// Tags by name, sorted.
pub type Tags = Vec<(String, VersionId)>;

/// Reads every tag file, returning the readable tags and the paths of damaged tag files
/// (for a rebuild, which reports them instead of failing).
pub fn read_tag_files_lenient(dir: &Path) -> Result<(Tags, Vec<PathBuf>)> {
    let mut tags = Vec::new();
    let mut damaged = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((tags, damaged)),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.with_path(dir)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if crate::names::check("tag", &name).is_err() {
            continue;
        }
        match read_tag_file(&entry.path()) {
            Ok(Some(id)) => tags.push((name, id)),
            Ok(None) => {}
            Err(Error::DamagedTag { path } | Error::NotARegularFile { path, .. }) => {
                damaged.push(path)
            }
            Err(other) => return Err(other),
        }
    }
    tags.sort();
    damaged.sort();
    Ok((tags, damaged))
}
