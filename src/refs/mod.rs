//! Tags: human names pinned to versions, stored as files under `.dv/refs/tags/NAME` holding the
//! full id. The files are the source of truth (the index mirrors them). Tags never move unless
//! the caller asks for it explicitly.

pub mod file;

use std::fs;

use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::write_atomic;
use crate::id::VersionId;
use crate::lock::WorkspaceLock;
use crate::workspace::Workspace;

use file::read_tag_file;
pub use file::{Tags, read_tag_files, read_tag_files_lenient};

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
                current,
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
