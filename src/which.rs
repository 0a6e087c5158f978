//! Which versions hold a file: by content hash ("which training sets include this raw file?")
//! or by path. Content search reads each distinct tree once, however many versions or paths
//! share it, and the paths are then streamed.

use std::collections::HashMap;

use crate::error::Result;
use crate::fs_util::display_path;
use crate::id::{Hash, TreeId, VersionId};
use crate::object::walk::{fold_distinct, walk_files_where};
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

/// A version holding the file, and how many paths it has there.
#[derive(Clone, Debug)]
pub struct Holder {
    pub id: VersionId,
    pub version: Version,
    /// Paths holding it (saturating: a crafted fan-out of shared trees may name it 2^60 times).
    pub paths: u64,
    /// The file's size, as the first of its entries gives it.
    pub size: u64,
}

/// What a tree holds of the content looked for: how many paths, and the size of the first.
type Found = (u64, Option<u64>);

/// The versions that hold a file, with what was counted to find them (reused to walk only the
/// trees that hold it).
pub struct Holders {
    /// Newest first.
    pub versions: Vec<Holder>,
    /// Per distinct tree, what it holds of the content looked for.
    counts: HashMap<TreeId, Found>,
}

/// The versions (newest first) that hold the content or path. Content is counted over each
/// distinct tree once, however many versions or paths share it, so this costs the number of
/// distinct trees, never the number of paths they expand to.
pub fn holders(ws: &Workspace, query: &Query) -> Result<Holders> {
    let mut counts: HashMap<TreeId, Found> = HashMap::new();
    let mut versions = Vec::new();
    for (id, version) in ws.index.log(&Default::default())? {
        let (paths, size) = match query {
            Query::Content(hash) => count_content(&ws.store, &version.tree, hash, &mut counts)?,
            Query::Path(path) => match find_path(&ws.store, &version, path)? {
                Some((_, _, size)) => (1, Some(size)),
                None => (0, None),
            },
        };
        if paths > 0 {
            versions.push(Holder {
                id,
                version,
                paths,
                size: size.unwrap_or(0),
            });
        }
    }
    Ok(Holders { versions, counts })
}

impl Holders {
    /// Visits each path at which `holder` holds the file, in path order, entering only the
    /// trees that hold it: memory stays bounded however many paths there are.
    pub fn each_hit(
        &self,
        ws: &Workspace,
        holder: &Holder,
        query: &Query,
        visit: &mut dyn FnMut(Hit) -> Result<()>,
    ) -> Result<()> {
        let version = &holder.version;
        let mut hit = |path: &[u8], hash: &Hash, size: u64| {
            visit(Hit {
                id: holder.id,
                dataset: version.dataset.clone(),
                stage: version.stage.clone(),
                created_at: version.created_at.clone(),
                path: display_path(path),
                hash: hash.to_hex(),
                size,
            })
        };
        match query {
            Query::Path(path) => match find_path(&ws.store, version, path)? {
                Some((path, hash, size)) => hit(&path, &hash, size),
                None => Ok(()),
            },
            Query::Content(hash) => walk_files_where(
                &ws.store,
                &version.tree,
                &mut |_, tree, _| self.counts.get(tree).is_some_and(|(n, _)| *n > 0),
                &mut |file| match file.kind {
                    EntryKind::File | EntryKind::Executable if file.id == *hash => {
                        hit(&file.path, hash, file.size)
                    }
                    _ => Ok(()),
                },
            ),
        }
    }
}

/// Every version (newest first) holding the content or path, with each path it has there.
/// Collects them all; [`holders`] and [`Holders::each_hit`] stream.
pub fn which(ws: &Workspace, query: &Query) -> Result<Vec<Hit>> {
    let holders = holders(ws, query)?;
    let mut hits = Vec::new();
    for holder in &holders.versions {
        holders.each_hit(ws, holder, query, &mut |hit| {
            hits.push(hit);
            Ok(())
        })?;
    }
    Ok(hits)
}

/// How many paths below `tree` hold content `hash`, and the size of the first, folded per tree.
fn count_content(
    source: &dyn TreeSource,
    tree: &TreeId,
    hash: &Hash,
    memo: &mut HashMap<TreeId, Found>,
) -> Result<Found> {
    fold_distinct(source, tree, memo, &mut |tree, children: &[Found]| {
        let here = tree
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Executable))
            .filter(|e| e.id == *hash)
            .map(|e| (1, Some(e.size)));
        here.chain(children.iter().copied())
            .fold((0, None), |(n, size), (m, s)| {
                (n.saturating_add(m), size.or(s))
            })
    })
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
