//! Which versions hold a file: by content hash ("which training sets include this raw file?")
//! or by path. Content search visits each distinct tree once, however many versions share it.

use std::collections::HashMap;

use crate::error::Result;
use crate::fs_util::display_path;
use crate::id::{Hash, TreeId, VersionId};
use crate::object::tree::MAX_DEPTH;
use crate::object::{EntryKind, TreeSource, Version};
use crate::workspace::Workspace;

/// What to look for.
#[derive(Clone, Debug)]
pub enum Query {
    /// File content, by blake3 hash (what `b3sum` prints).
    Content(Hash),
    /// A path relative to the workspace root, or to a version's root.
    Path(String),
}

/// One version holding the file, with the path it has there.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    pub id: VersionId,
    pub dataset: String,
    pub stage: String,
    pub created_at: String,
    /// Path inside the version, `/`-separated.
    pub path: String,
    pub hash: String,
    pub size: u64,
}

/// Every version (newest first) holding the content or path, with each path it has there.
pub fn which(ws: &Workspace, query: &Query) -> Result<Vec<Hit>> {
    let versions = ws.index.log(&Default::default())?;
    let mut memo: HashMap<TreeId, Vec<(Vec<u8>, u64)>> = HashMap::new();
    let mut hits = Vec::new();
    for (id, version) in versions {
        let found: Vec<(Vec<u8>, Hash, u64)> = match query {
            Query::Content(hash) => find_content(&ws.store, &version.tree, hash, &mut memo, 0)?
                .into_iter()
                .map(|(path, size)| (path, *hash, size))
                .collect(),
            Query::Path(path) => find_path(&ws.store, &version, path)?.into_iter().collect(),
        };
        for (path, hash, size) in found {
            hits.push(Hit {
                id,
                dataset: version.dataset.clone(),
                stage: version.stage.clone(),
                created_at: version.created_at.clone(),
                path: display_path(&path),
                hash: hash.to_hex(),
                size,
            });
        }
    }
    Ok(hits)
}

/// Paths (below `tree`) of files whose content is `hash`, memoised per tree.
fn find_content(
    source: &dyn TreeSource,
    tree: &TreeId,
    hash: &Hash,
    memo: &mut HashMap<TreeId, Vec<(Vec<u8>, u64)>>,
    depth: usize,
) -> Result<Vec<(Vec<u8>, u64)>> {
    if let Some(found) = memo.get(tree) {
        return Ok(found.clone());
    }
    if depth > MAX_DEPTH {
        return Err(crate::object::tree::too_deep(tree));
    }
    let mut found = Vec::new();
    for entry in source.tree(tree)?.entries {
        match entry.kind {
            EntryKind::Tree => {
                for (path, size) in find_content(source, &TreeId(entry.id), hash, memo, depth + 1)?
                {
                    let mut full = entry.name.clone();
                    full.push(b'/');
                    full.extend_from_slice(&path);
                    found.push((full, size));
                }
            }
            EntryKind::File | EntryKind::Executable if entry.id == *hash => {
                found.push((entry.name, entry.size))
            }
            _ => {}
        }
    }
    memo.insert(*tree, found.clone());
    Ok(found)
}

/// The file at `path` in a version: the path may be relative to the workspace root (it then
/// starts with the directory the version was committed from) or to the version's root.
fn find_path(
    source: &dyn TreeSource,
    version: &Version,
    path: &str,
) -> Result<Option<(Vec<u8>, Hash, u64)>> {
    let prefix = if version.single_file {
        version
            .path
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
            .to_string()
    } else {
        version.path.clone()
    };
    let inside = match path.strip_prefix(&format!("{prefix}/")) {
        Some(rest) if !prefix.is_empty() => rest,
        _ => path,
    };
    let mut tree = version.tree;
    let parts: Vec<&str> = inside.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let Some(entry) = source.tree(&tree)?.get(part.as_bytes()).cloned() else {
            return Ok(None);
        };
        match (entry.kind, i + 1 == parts.len()) {
            (EntryKind::Tree, false) => tree = TreeId(entry.id),
            (EntryKind::Tree, true) => return Ok(None),
            (_, true) => return Ok(Some((parts.join("/").into_bytes(), entry.id, entry.size))),
            (_, false) => return Ok(None),
        }
    }
    Ok(None)
}
