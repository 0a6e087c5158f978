//! Differences between two trees, found by walking both Merkle trees together and skipping
//! every directory whose id is equal on both sides — so the cost follows the size of the change,
//! not the size of the dataset.

use serde::Serialize;

use crate::error::Result;
use crate::id::TreeId;
use crate::object::Tree;
use crate::object::tree::{FileEntry, check_depth};
use crate::object::walk::{load_subtree, walk_files_where};
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
    diff_filtered(
        source,
        old,
        new,
        &PathFilter::default(),
        &mut |_| Ok(false),
        out,
    )
}

/// A directory on one side only, offered whole before a diff expands it.
pub struct WholeDir<'a> {
    /// Its path from the root of the diff.
    pub path: &'a [u8],
    /// `Added` or `Removed`.
    pub change: ChangeKind,
    pub id: &'a TreeId,
    /// Its tree, with the totals it declares (held to them by every walk that expands it).
    pub tree: &'a Tree,
}

/// Answers whether the caller took a one-sided directory whole (from its declared totals, or
/// because it does not care), so that the diff does not expand it.
pub type TakeWhole<'a> = dyn FnMut(WholeDir<'_>) -> Result<bool> + 'a;

/// [`diff_trees_each`] limited to the paths `filter` looks at (directories outside it are not
/// read), offering each directory found on one side only to `whole` before expanding it.
pub fn diff_filtered(
    source: &dyn TreeSource,
    old: &TreeId,
    new: &TreeId,
    filter: &PathFilter,
    whole: &mut TakeWhole<'_>,
    out: &mut dyn FnMut(Change) -> Result<()>,
) -> Result<()> {
    if old != new {
        let source = crate::object::walk::Cached::new(source);
        let (old_tree, new_tree) = (source.tree(old)?, source.tree(new)?);
        let mut walk = Walk {
            source: &source,
            filter,
            whole,
            out,
        };
        walk.dirs((new, new_tree), old_tree, &mut Vec::new())?;
    }
    Ok(())
}

/// Which paths a diff looks at: every one, or those at or below any of a few prefixes.
#[derive(Clone, Debug, Default)]
pub struct PathFilter(Vec<Vec<u8>>);

impl PathFilter {
    /// Paths relative to the dataset root; `dir/` and `dir` mean the same.
    pub fn new(paths: &[String]) -> PathFilter {
        PathFilter(
            paths
                .iter()
                .map(|p| p.trim_end_matches('/').as_bytes().to_vec())
                .collect(),
        )
    }

    /// Whether `path`, and everything below it, is looked at.
    pub fn covers(&self, path: &[u8]) -> bool {
        self.0.is_empty() || self.0.iter().any(|p| p.is_empty() || at_or_below(path, p))
    }

    /// Whether anything at or below `path` is looked at.
    pub fn reaches(&self, path: &[u8]) -> bool {
        self.covers(path) || self.0.iter().any(|p| at_or_below(p, path))
    }
}

/// Whether `path` is `prefix` or lies below it.
fn at_or_below(path: &[u8], prefix: &[u8]) -> bool {
    path.starts_with(prefix) && (path.len() == prefix.len() || path[prefix.len()] == b'/')
}

/// One diff in progress.
struct Walk<'a, 'w> {
    source: &'a dyn TreeSource,
    filter: &'a PathFilter,
    whole: &'a mut TakeWhole<'w>,
    out: &'a mut dyn FnMut(Change) -> Result<()>,
}

impl Walk<'_, '_> {
    /// Diffs two loaded directory trees (the new one with its id, for depth errors).
    fn dirs(
        &mut self,
        (new, new_tree): (&TreeId, Tree),
        old_tree: Tree,
        prefix: &mut Vec<u8>,
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
            if self.filter.reaches(prefix) {
                self.pair(new, left, right, prefix)?;
            }
            prefix.truncate(len);
        }
        Ok(())
    }

    /// Compares what one name holds on each side.
    fn pair(
        &mut self,
        new: &TreeId,
        left: Option<crate::object::Entry>,
        right: Option<crate::object::Entry>,
        prefix: &mut Vec<u8>,
    ) -> Result<()> {
        let as_file = |e: &crate::object::Entry| FileEntry {
            path: prefix.clone(),
            kind: e.kind,
            id: e.id,
            size: e.size,
        };
        match (left, right) {
            (Some(l), Some(r)) if l.kind == r.kind && l.id == r.id => Ok(()),
            (Some(l), Some(r)) if l.kind == EntryKind::Tree && r.kind == EntryKind::Tree => {
                // Both subtrees must hold what their entries declare.
                let old_child = load_subtree(self.source, new, &l)?;
                let new_child = load_subtree(self.source, new, &r)?;
                self.dirs((&TreeId(r.id), new_child), old_child, prefix)
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
                if !self.filter.covers(prefix) {
                    return Ok(());
                }
                (self.out)(Change {
                    kind,
                    path: prefix.clone(),
                    old: Some(as_file(&l)),
                    new: Some(as_file(&r)),
                })
            }
            (left, right) => {
                if let Some(l) = left {
                    self.side(new, &as_file(&l), ChangeKind::Removed)?;
                }
                if let Some(r) = right {
                    self.side(new, &as_file(&r), ChangeKind::Added)?;
                }
                Ok(())
            }
        }
    }

    /// Reports a whole entry (a file, or every file below a directory not taken whole) as
    /// added or removed.
    fn side(&mut self, parent: &TreeId, entry: &FileEntry, change: ChangeKind) -> Result<()> {
        let Walk {
            source,
            filter,
            whole,
            out,
        } = self;
        let mut emit = |file: FileEntry| {
            if !filter.covers(&file.path) {
                return Ok(());
            }
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
        if entry.kind != EntryKind::Tree {
            return emit(entry.clone());
        }
        let id = TreeId(entry.id);
        let tree = load_subtree(
            *source,
            parent,
            &crate::object::Entry {
                name: entry
                    .path
                    .rsplit(|&b| b == b'/')
                    .next()
                    .unwrap_or(&[])
                    .to_vec(),
                kind: entry.kind,
                id: entry.id,
                size: entry.size,
            },
        )?;
        let mut offer = |path: &[u8], id: &TreeId, tree: &Tree| -> Result<bool> {
            if !filter.covers(path) {
                return Ok(!filter.reaches(path));
            }
            whole(WholeDir {
                path,
                change,
                id,
                tree,
            })
        };
        if offer(&entry.path, &id, &tree)? {
            return Ok(());
        }
        let mut failed = None;
        let mut full = entry.path.clone();
        let mut enter = |rel: &[u8], id: &TreeId, tree: &Tree| {
            full.truncate(entry.path.len());
            full.push(b'/');
            full.extend_from_slice(rel);
            match offer(&full, id, tree) {
                Ok(taken) => !taken,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        };
        walk_files_where(*source, &id, &mut enter, &mut |mut file| {
            let mut path = entry.path.clone();
            path.push(b'/');
            path.extend_from_slice(&file.path);
            file.path = path;
            emit(file)
        })?;
        failed.map_or(Ok(()), Err)
    }
}

pub mod files;
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

/// Both sides of a comparison, ready to diff: their trees (for a directory, the trees of its
/// snapshot, held here) and how their provenance differs.
pub struct Sides {
    pub old: crate::VersionId,
    pub new: Option<crate::VersionId>,
    /// The directory compared, when it was not a version.
    pub dir: Option<std::path::PathBuf>,
    pub provenance: std::collections::BTreeMap<&'static str, report::ValueChange>,
    pub params: report::ParamsDiff,
    old_tree: TreeId,
    new_tree: TreeId,
    /// A directory's snapshot trees (none were stored).
    trees: std::collections::HashMap<TreeId, Tree>,
}

impl Sides {
    /// Where the trees of both sides are read from.
    pub fn source<'a>(&'a self, ws: &'a crate::Workspace) -> crate::object::tree::Overlay<'a> {
        crate::object::tree::Overlay {
            store: &ws.store,
            trees: &self.trees,
        }
    }

    /// The file-level differences at or below `paths` (all when empty), to stream or measure.
    pub fn files<'a>(
        &self,
        source: &'a dyn TreeSource,
        paths: &[String],
    ) -> Result<files::FileDiffer<'a>> {
        files::FileDiffer::new(source, self.old_tree, self.new_tree, paths)
    }
}

/// Loads version `old` and what it is compared with; a directory is hashed with the stat
/// cache's help (nothing is stored).
pub fn prepare(
    ws: &crate::Workspace,
    old: &crate::VersionId,
    against: &Against,
    progress: &dyn crate::progress::Progress,
) -> Result<Sides> {
    let load = |id: &crate::VersionId| ws.version(id);
    let old_version = load(old)?;
    let sides = match against {
        Against::Version(new) => {
            let new_version = load(new)?;
            let (provenance, params) = report::provenance_diff(&old_version, &new_version);
            Sides {
                old: *old,
                new: Some(*new),
                dir: None,
                provenance,
                params,
                old_tree: old_version.tree,
                new_tree: new_version.tree,
                trees: Default::default(),
            }
        }
        Against::Directory(_) | Against::WorkingDirectory => {
            let dir = match against {
                Against::Directory(dir) => crate::fs_util::absolute(dir)?,
                _ => working_dir_of(ws, old)?,
            };
            let rel = ws.relative(&dir).ok().map(|(_, rel)| rel);
            let snapshot = crate::snapshot::working_snapshot(ws, &dir, rel.as_deref(), progress)?;
            Sides {
                old: *old,
                new: None,
                dir: Some(dir),
                provenance: Default::default(),
                params: Default::default(),
                old_tree: old_version.tree,
                new_tree: snapshot.root,
                trees: snapshot.trees,
            }
        }
    };
    Ok(sides)
}

/// Compares version `old` with `against`, keeping file changes at or below `paths` (all when
/// empty), and collects every difference ([`prepare`] and [`Sides::files`] stream them).
pub fn compare(
    ws: &crate::Workspace,
    old: &crate::VersionId,
    against: &Against,
    paths: &[String],
    progress: &dyn crate::progress::Progress,
) -> Result<Comparison> {
    let sides = prepare(ws, old, against, progress)?;
    let files = report::FileDiff::collect(&sides.files(&sides.source(ws), paths)?)?;
    Ok(Comparison {
        old: sides.old,
        new: sides.new,
        dir: sides.dir,
        files,
        provenance: sides.provenance,
        params: sides.params,
    })
}

/// The directory a version was last committed from or checked out to, for `dv diff REV`.
pub fn working_dir_of(ws: &crate::Workspace, id: &crate::VersionId) -> Result<std::path::PathBuf> {
    let tracked = crate::worktree::load(ws)?;
    if let Some((rel, _)) = tracked.iter().find(|(_, t)| t.version == *id) {
        return Ok(ws.absolute(rel));
    }
    let version = ws.version(id)?;
    Ok(ws.absolute(&version.path))
}
pub mod rows;
