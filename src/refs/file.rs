//! The tag file format: `.dv/refs/tags/NAME` holds one full version id and a newline. Reading
//! it knows nothing of workspaces, so the index can be rebuilt from tag files without one.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoResultExt, Result};
use crate::id::VersionId;

/// Reads one tag file: `None` when it does not exist, an error naming the file when it does
/// not hold exactly one full version id (a damaged tag must never read as absent, or the next
/// `dv tag` would silently replace it).
pub fn read_tag_file(path: &Path) -> Result<Option<VersionId>> {
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
