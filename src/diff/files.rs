//! File-level differences as users read them, streamed in path order in bounded memory.
//!
//! A rename is a removed file paired with an added one of the same content and kind (the k-th
//! added in path order with the k-th removed). Finding them takes two passes that hold only
//! the removed files' paths, at most [`RENAME_LIMIT`] of them; past that, renames are not
//! looked for (git's `diff.renameLimit` plays the same part) and the files are reported
//! removed and added. Counts and byte totals come from the trees' declared totals wherever a
//! whole directory was added or removed and holds no rename, so `dv diff --stat` of a version
//! of millions of files against an empty one reads a handful of trees.

use std::cell::Cell;
use std::collections::HashMap;

use super::report::{DiffStat, FileChange, FileSide, Rename};
use super::{ChangeKind, PathFilter, TakeWhole, WholeDir, diff_filtered};
use crate::error::Result;
use crate::fs_util::display_path;
use crate::id::{Hash, TreeId};
use crate::object::walk::fold_distinct;
use crate::object::{EntryKind, TreeSource};

/// Most removed files whose paths a diff holds to pair them with added ones as renames.
pub const RENAME_LIMIT: u64 = 250_000;

/// One line of a diff.
#[derive(Clone, Debug)]
pub enum FileItem {
    Added(FileSide),
    Removed(FileSide),
    Modified(FileChange),
    Renamed(Rename),
    ModeChanged(FileChange),
    TypeChanged(FileChange),
}

impl FileItem {
    /// The path it is listed under (a rename's new path).
    pub fn path(&self) -> &str {
        match self {
            FileItem::Added(f) | FileItem::Removed(f) => &f.path,
            FileItem::Renamed(r) => &r.to,
            FileItem::Modified(f) | FileItem::ModeChanged(f) | FileItem::TypeChanged(f) => &f.path,
        }
    }
}

/// A file's content and kind: what a rename keeps.
type ContentKey = (Hash, EntryKind);

/// Removed files of one content, in path order, and how many added files have it.
#[derive(Default)]
struct Pairs {
    removed: Vec<Vec<u8>>,
    added: u64,
}

impl Pairs {
    fn renamed(&self) -> u64 {
        (self.removed.len() as u64).min(self.added)
    }
}

/// Counts and byte totals, and the width of the path column a listing needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Measure {
    pub stat: DiffStat,
    /// Characters of the widest path (or `from → to` of a rename).
    pub path_width: usize,
}

impl Measure {
    pub(super) fn add(&mut self, item: &FileItem) {
        let stat = &mut self.stat;
        let width = match item {
            FileItem::Added(f) => {
                stat.added += 1;
                stat.bytes_added += f.size;
                f.path.chars().count()
            }
            FileItem::Removed(f) => {
                stat.removed += 1;
                stat.bytes_removed += f.size;
                f.path.chars().count()
            }
            FileItem::Modified(m) => {
                stat.modified += 1;
                stat.bytes_added += m.new_size.saturating_sub(m.old_size);
                stat.bytes_removed += m.old_size.saturating_sub(m.new_size);
                m.path.chars().count()
            }
            FileItem::Renamed(r) => {
                stat.renamed += 1;
                r.from.chars().count() + 3 + r.to.chars().count()
            }
            FileItem::ModeChanged(m) => {
                stat.mode_changed += 1;
                m.path.chars().count()
            }
            FileItem::TypeChanged(m) => {
                stat.type_changed += 1;
                m.path.chars().count()
            }
        };
        self.path_width = self.path_width.max(width);
    }
}

/// The file-level differences between two trees, ready to be streamed or measured.
pub struct FileDiffer<'a> {
    source: &'a dyn TreeSource,
    old: TreeId,
    new: TreeId,
    filter: PathFilter,
    renames: HashMap<ContentKey, Pairs>,
    /// Whether more files were removed than [`RENAME_LIMIT`], so renames were not looked for.
    pub renames_skipped: bool,
}

impl<'a> FileDiffer<'a> {
    /// Prepares the diff of `old` and `new` at or below `paths` (all when empty), pairing
    /// renames in two passes that read only the removed side and the added directories that
    /// hold a removed file's content.
    pub fn new(
        source: &'a dyn TreeSource,
        old: TreeId,
        new: TreeId,
        paths: &[String],
    ) -> Result<FileDiffer<'a>> {
        let mut differ = FileDiffer {
            source,
            old,
            new,
            filter: PathFilter::new(paths),
            renames: HashMap::new(),
            renames_skipped: false,
        };
        // Removed files held so far, and whether there were too many to hold.
        let (removed, over) = (Cell::new(0u64), Cell::new(false));
        let mut renames: HashMap<ContentKey, Pairs> = HashMap::new();
        diff_filtered(
            source,
            &old,
            &new,
            &differ.filter,
            &mut |dir| {
                if dir.change == ChangeKind::Removed
                    && removed.get().saturating_add(dir.tree.files) > RENAME_LIMIT
                {
                    over.set(true);
                }
                Ok(over.get() || dir.change == ChangeKind::Added)
            },
            &mut |change| {
                if let (ChangeKind::Removed, Some(old), false) =
                    (change.kind, &change.old, over.get())
                {
                    removed.set(removed.get() + 1);
                    over.set(removed.get() > RENAME_LIMIT);
                    renames
                        .entry((old.id, old.kind))
                        .or_default()
                        .removed
                        .push(change.path);
                }
                Ok(())
            },
        )?;
        if over.get() {
            differ.renames_skipped = true;
            return Ok(differ);
        }
        if renames.is_empty() {
            return Ok(differ);
        }
        let mut holds = HashMap::new();
        let mut added: HashMap<ContentKey, u64> = HashMap::new();
        diff_filtered(
            source,
            &old,
            &new,
            &differ.filter,
            &mut |dir| {
                Ok(dir.change == ChangeKind::Removed
                    || !holds_any(source, dir.id, &renames, &mut holds)?)
            },
            &mut |change| {
                if let (ChangeKind::Added, Some(new)) = (change.kind, &change.new)
                    && renames.contains_key(&(new.id, new.kind))
                {
                    *added.entry((new.id, new.kind)).or_default() += 1;
                }
                Ok(())
            },
        )?;
        for (key, count) in added {
            if let Some(pairs) = renames.get_mut(&key) {
                pairs.added = count;
            }
        }
        renames.retain(|_, pairs| pairs.renamed() > 0);
        differ.renames = renames;
        Ok(differ)
    }

    /// Visits every difference in path order (a rename under its new path).
    pub fn each(&self, visit: &mut dyn FnMut(FileItem) -> Result<()>) -> Result<()> {
        self.walk(&mut |_| Ok(false), visit)
    }

    /// Counts, byte totals and the path column's width, taking every added or removed
    /// directory that holds no rename from its declared totals instead of expanding it.
    pub fn measure(&self) -> Result<Measure> {
        let mut measure = Measure::default();
        let mut holds = HashMap::new();
        let mut widths = HashMap::new();
        let mut take = |dir: WholeDir<'_>| {
            if holds_any(self.source, dir.id, &self.renames, &mut holds)? {
                return Ok(false);
            }
            let stat = &mut measure.stat;
            if dir.change == ChangeKind::Added {
                stat.added += dir.tree.files;
                stat.bytes_added += dir.tree.bytes;
            } else {
                stat.removed += dir.tree.files;
                stat.bytes_removed += dir.tree.bytes;
            }
            let below = widest_path(self.source, dir.id, &mut widths)?;
            let width = display_path(dir.path).chars().count() + 1 + below;
            measure.path_width = measure.path_width.max(width);
            Ok(true)
        };
        let mut items = Measure::default();
        self.walk(&mut take, &mut |item| {
            items.add(&item);
            Ok(())
        })?;
        let (a, b) = (&mut measure.stat, items.stat);
        a.added += b.added;
        a.removed += b.removed;
        a.modified += b.modified;
        a.renamed += b.renamed;
        a.mode_changed += b.mode_changed;
        a.type_changed += b.type_changed;
        a.bytes_added += b.bytes_added;
        a.bytes_removed += b.bytes_removed;
        measure.path_width = measure.path_width.max(items.path_width);
        Ok(measure)
    }

    /// The diff walk with renames paired: a removed file that became one is left out at its
    /// old path, and the rename reported at its new one.
    fn walk(
        &self,
        whole: &mut TakeWhole<'_>,
        visit: &mut dyn FnMut(FileItem) -> Result<()>,
    ) -> Result<()> {
        // Per content: removed and added files seen so far.
        let mut seen: HashMap<ContentKey, (u64, u64)> = HashMap::new();
        diff_filtered(
            self.source,
            &self.old,
            &self.new,
            &self.filter,
            whole,
            &mut |change| {
                let item = match (change.kind, &change.old, &change.new) {
                    (ChangeKind::Added, _, Some(new)) => {
                        let key = (new.id, new.kind);
                        match self.renames.get(&key) {
                            Some(pairs) => {
                                let count = &mut seen.entry(key).or_default().1;
                                let nth = *count;
                                *count += 1;
                                if nth < pairs.renamed() {
                                    FileItem::Renamed(Rename {
                                        from: display_path(&pairs.removed[nth as usize]),
                                        to: display_path(&new.path),
                                        size: new.size,
                                        hash: new.id.to_hex(),
                                    })
                                } else {
                                    FileItem::Added(FileSide::of(new))
                                }
                            }
                            None => FileItem::Added(FileSide::of(new)),
                        }
                    }
                    (ChangeKind::Removed, Some(old), _) => {
                        let key = (old.id, old.kind);
                        if let Some(pairs) = self.renames.get(&key) {
                            let count = &mut seen.entry(key).or_default().0;
                            let nth = *count;
                            *count += 1;
                            if nth < pairs.renamed() {
                                return Ok(());
                            }
                        }
                        FileItem::Removed(FileSide::of(old))
                    }
                    (ChangeKind::Modified, Some(old), Some(new)) => {
                        FileItem::Modified(FileChange::of(old, new))
                    }
                    (ChangeKind::ModeChanged, Some(old), Some(new)) => {
                        FileItem::ModeChanged(FileChange::of(old, new))
                    }
                    (ChangeKind::TypeChanged, Some(old), Some(new)) => {
                        FileItem::TypeChanged(FileChange::of(old, new))
                    }
                    _ => return Ok(()),
                };
                visit(item)
            },
        )
    }
}

/// Whether a tree holds, anywhere below it, a file whose content may be part of a rename.
fn holds_any(
    source: &dyn TreeSource,
    id: &TreeId,
    renames: &HashMap<ContentKey, Pairs>,
    memo: &mut HashMap<TreeId, bool>,
) -> Result<bool> {
    if renames.is_empty() {
        return Ok(false);
    }
    fold_distinct(source, id, memo, &mut |tree, children: &[bool]| {
        children.iter().any(|&b| b)
            || tree
                .entries
                .iter()
                .any(|e| e.kind != EntryKind::Tree && renames.contains_key(&(e.id, e.kind)))
    })
}

/// Characters of the longest path below a tree, relative to it.
fn widest_path(
    source: &dyn TreeSource,
    id: &TreeId,
    memo: &mut HashMap<TreeId, usize>,
) -> Result<usize> {
    fold_distinct(source, id, memo, &mut |tree, children: &[usize]| {
        let mut below = children.iter();
        tree.entries
            .iter()
            .map(|e| {
                let name = String::from_utf8_lossy(&e.name).chars().count();
                match e.kind {
                    EntryKind::Tree => name + 1 + below.next().copied().unwrap_or(0),
                    _ => name,
                }
            })
            .max()
            .unwrap_or(0)
    })
}
