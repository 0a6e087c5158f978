//! Writing the transform code files recorded with a version (`dv checkout --code`, and the
//! scratch copies `dv rerun` runs in).

use std::fs;
use std::path::{Path, PathBuf};

use super::apply::write_entry;
use super::split_parent;
use crate::confined::ConfinedDir;
use crate::error::{Error, Result};
use crate::fs_util::os_str;
use crate::id::VersionId;
use crate::object::EntryKind;
use crate::workspace::Workspace;

/// Writes the transform code files recorded with a version into `dir`, each verified against
/// its hash, under its recorded workspace-relative path (or its file name, for code that lived
/// outside the workspace). Existing files are only replaced with `force`.
pub fn checkout_code(
    ws: &Workspace,
    id: &VersionId,
    dir: &Path,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let version = ws.version(id)?;
    write_code_files(ws, &version.code, dir, force)
}

/// Writes code files into `dir` as [`checkout_code`] does.
pub fn write_code_files(
    ws: &Workspace,
    files: &[crate::object::CodeFile],
    dir: &Path,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let dir = ConfinedDir::open_or_create(&crate::fs_util::absolute(dir)?)?;
    let mut planned = Vec::new();
    for code in files {
        let recorded = Path::new(&code.path);
        let safe = recorded.is_relative()
            && recorded
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        let rel = if safe {
            recorded.to_path_buf()
        } else {
            PathBuf::from(recorded.file_name().unwrap_or_default())
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let dest = dir.path().join(&rel);
        if !force && fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::FileExists { path: dest });
        }
        planned.push((rel, dest, code.blob));
    }
    let mut written = Vec::new();
    for (rel, dest, blob) in planned {
        let (parent, name) = split_parent(rel.as_os_str().as_encoded_bytes());
        let parent_dir = dir.dir(parent, true, force)?;
        write_entry(
            &ws.store,
            &parent_dir,
            os_str(name),
            EntryKind::File,
            &blob.0,
        )?;
        written.push(dest);
    }
    Ok(written)
}
