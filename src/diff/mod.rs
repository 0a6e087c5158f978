//! Differences between two trees, found by walking both Merkle trees together and skipping
//! every directory whose id is equal on both sides — so the cost follows the size of the change,
//! not the size of the dataset.

use serde::Serialize;

use crate::error::Result;
use crate::id::TreeId;
use crate::object::Tree;
use crate::object::tree::{FileEntry, check_depth, load_subtree, walk_files};
use crate::object::{EntryKind, TreeSource};

/// How one path differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    /// Content changed (the executable bit may have changed too).
    Modified,
    /// Only the executable bit changed.
    ModeChanged,
    /// A file became a symlink or the other way round.
    TypeChanged,
}

impl ChangeKind {
    /// A one-letter code for compact listings (`A`, `D`, `M`, `X`, `T`).
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Removed => 'D',
            ChangeKind::Modified => 'M',
            ChangeKind::ModeChanged => 'X',
            ChangeKind::TypeChanged => 'T',
        }
    }
}

/// One changed path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: Vec<u8>,
    pub old: Option<FileEntry>,
    pub new: Option<FileEntry>,
}

/// Lists every changed file or symlink between two trees, in path order.
pub fn diff_trees(source: &dyn TreeSource, old: &TreeId, new: &TreeId) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    diff_trees_each(source, old, new, &mut |change| {
        changes.push(change);
        Ok(())
    })?;
    Ok(changes)
}

/// Visits every changed file or symlink between two trees, in path order, without collecting
/// them: memory stays bounded by the trees' depth and width, whatever the number of changes.
/// (A removed file always comes before anything added below the same path.)
pub fn diff_trees_each(
    source: &dyn TreeSource,
    old: &TreeId,
    new: &TreeId,
    out: &mut dyn FnMut(Change) -> Result<()>,
) -> Result<()> {
    if old != new {
        let (old_tree, new_tree) = (source.tree(old)?, source.tree(new)?);
        diff_dirs(source, (new, new_tree), old_tree, &mut Vec::new(), out)?;
    }
    Ok(())
}

/// Diffs two loaded directory trees (the new one with its id, for depth errors).
fn diff_dirs(
    source: &dyn TreeSource,
    (new, new_tree): (&TreeId, Tree),
    old_tree: Tree,
    prefix: &mut Vec<u8>,
    out: &mut dyn FnMut(Change) -> Result<()>,
) -> Result<()> {
    check_depth(prefix, new)?;
    let (mut a, mut b) = (
        old_tree.entries.into_iter().peekable(),
        new_tree.entries.into_iter().peekable(),
    );
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.name.cmp(&y.name),
        };
        let (left, right) = match order {
            std::cmp::Ordering::Less => (a.next(), None),
            std::cmp::Ordering::Greater => (None, b.next()),
            std::cmp::Ordering::Equal => (a.next(), b.next()),
        };
        let name = left
            .as_ref()
            .or(right.as_ref())
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(&name);
        let as_file = |e: &crate::object::Entry| FileEntry {
            path: prefix.clone(),
            kind: e.kind,
            id: e.id,
            size: e.size,
        };
        match (left, right) {
            (Some(l), Some(r)) if l.kind == r.kind && l.id == r.id => {}
            (Some(l), Some(r)) if l.kind == EntryKind::Tree && r.kind == EntryKind::Tree => {
                // Both subtrees must hold what their entries declare.
                let old_child = load_subtree(source, new, &l)?;
                let new_child = load_subtree(source, new, &r)?;
                diff_dirs(source, (&TreeId(r.id), new_child), old_child, prefix, out)?;
            }
            (Some(l), Some(r)) if l.kind != EntryKind::Tree && r.kind != EntryKind::Tree => {
                let symlink_involved = l.kind == EntryKind::Symlink || r.kind == EntryKind::Symlink;
                let kind = if symlink_involved && l.kind != r.kind {
                    ChangeKind::TypeChanged
                } else if l.id == r.id {
                    ChangeKind::ModeChanged
                } else {
                    ChangeKind::Modified
                };
                out(Change {
                    kind,
                    path: prefix.clone(),
                    old: Some(as_file(&l)),
                    new: Some(as_file(&r)),
                })?;
            }
            (left, right) => {
                if let Some(l) = left {
                    push_side(source, &as_file(&l), l.kind, ChangeKind::Removed, out)?;
                }
                if let Some(r) = right {
                    push_side(source, &as_file(&r), r.kind, ChangeKind::Added, out)?;
                }
            }
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Reports a whole entry (a file, or every file below a directory) as added or removed.
fn push_side(
    source: &dyn TreeSource,
    entry: &FileEntry,
    kind: EntryKind,
    change: ChangeKind,
    out: &mut dyn FnMut(Change) -> Result<()>,
) -> Result<()> {
    let mut emit = |file: FileEntry| {
        let (old, new) = if change == ChangeKind::Added {
            (None, Some(file.clone()))
        } else {
            (Some(file.clone()), None)
        };
        out(Change {
            kind: change,
            path: file.path,
            old,
            new,
        })
    };
    if kind != EntryKind::Tree {
        return emit(entry.clone());
    }
    walk_files(source, &TreeId(entry.id), &mut |mut file| {
        let mut path = entry.path.clone();
        path.push(b'/');
        path.extend_from_slice(&file.path);
        file.path = path;
        emit(file)
    })
}

pub mod report;

/// What a version is compared with.
#[derive(Clone, Debug)]
pub enum Against {
    /// Another version.
    Version(crate::VersionId),
    /// A directory's current content.
    Directory(std::path::PathBuf),
    /// The directory the old version was last committed from or checked out to.
    WorkingDirectory,
}

/// Everything `dv diff` reports: which files changed and how the provenance differs.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub old: crate::VersionId,
    pub new: Option<crate::VersionId>,
    /// The directory compared, when it was not a version.
    pub dir: Option<std::path::PathBuf>,
    pub files: report::FileDiff,
    pub provenance: std::collections::BTreeMap<&'static str, report::ValueChange>,
    pub params: report::ParamsDiff,
}

impl Comparison {
    /// Whether anything at all differs.
    pub fn differs(&self) -> bool {
        !self.files.is_empty() || !self.provenance.is_empty() || !self.params.is_empty()
    }
}

/// Compares version `old` with `against`, keeping file changes at or below `paths` (all when
/// empty). Equal subtrees are skipped; a directory is hashed with the stat cache's help.
pub fn compare(
    ws: &crate::Workspace,
    old: &crate::VersionId,
    against: &Against,
    paths: &[String],
    progress: &dyn crate::progress::Progress,
) -> Result<Comparison> {
    let load = |id: &crate::VersionId| {
        ws.index
            .version(id)?
            .ok_or_else(|| crate::Error::MissingObject {
                kind: "version",
                id: id.to_hex(),
            })
    };
    let old_version = load(old)?;
    let (new, dir, changes, provenance, params) = match against {
        Against::Version(new) => {
            let new_version = load(new)?;
            let changes = diff_trees(&ws.store, &old_version.tree, &new_version.tree)?;
            let (provenance, params) = report::provenance_diff(&old_version, &new_version);
            (Some(*new), None, changes, provenance, params)
        }
        Against::Directory(_) | Against::WorkingDirectory => {
            let dir = match against {
                Against::Directory(dir) => crate::fs_util::absolute(dir)?,
                _ => working_dir_of(ws, old)?,
            };
            let rel = ws.relative(&dir).ok().map(|(_, rel)| rel);
            let snapshot = crate::status::working_snapshot(ws, &dir, rel.as_deref(), progress)?;
            let overlay = crate::object::tree::Overlay {
                store: &ws.store,
                trees: &snapshot.trees,
            };
            let changes = diff_trees(&overlay, &old_version.tree, &snapshot.root)?;
            (
                None,
                Some(dir),
                changes,
                Default::default(),
                Default::default(),
            )
        }
    };
    let changes = limit_to_paths(changes, paths);
    Ok(Comparison {
        old: *old,
        new,
        dir,
        files: report::FileDiff::from_changes(&changes),
        provenance,
        params,
    })
}

/// Keeps the changes at or below any of `paths` (all of them when `paths` is empty).
pub fn limit_to_paths(changes: Vec<Change>, paths: &[String]) -> Vec<Change> {
    if paths.is_empty() {
        return changes;
    }
    let prefixes: Vec<&[u8]> = paths
        .iter()
        .map(|p| p.trim_end_matches('/').as_bytes())
        .collect();
    changes
        .into_iter()
        .filter(|c| {
            prefixes.iter().any(|p| {
                p.is_empty()
                    || c.path == *p
                    || (c.path.starts_with(p) && c.path.get(p.len()) == Some(&b'/'))
            })
        })
        .collect()
}

/// The directory a version was last committed from or checked out to, for `dv diff REV`.
pub fn working_dir_of(ws: &crate::Workspace, id: &crate::VersionId) -> Result<std::path::PathBuf> {
    let tracked = crate::worktree::load(ws)?;
    if let Some((rel, _)) = tracked.iter().find(|(_, t)| t.version == *id) {
        return Ok(ws.absolute(rel));
    }
    let version = ws
        .index
        .version(id)?
        .ok_or_else(|| crate::Error::MissingObject {
            kind: "version",
            id: id.to_hex(),
        })?;
    Ok(ws.absolute(&version.path))
}
pub mod rows;
