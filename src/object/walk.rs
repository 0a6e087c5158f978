//! The bounded walks over trees. Every walk of stored trees goes through one of these, so
//! each is limited to [`MAX_DEPTH`] levels and reads a tree shared by many paths once:
//!
//! - [`walk_files`] / [`walk_files_where`]: every file below a tree, in path order, with each
//!   directory's declared totals checked before descending;
//! - [`fold_distinct`] / [`fold_trees`]: a value per distinct tree, children first;
//! - [`TreeLevels`]: distinct trees level by level, for walks that fetch or mark objects.

use std::collections::{HashMap, HashSet};

use super::tree::{
    Entry, EntryKind, FileEntry, MAX_DEPTH, Tree, TreeSource, check_depth, corrupt_tree,
};
use crate::error::Result;
use crate::id::TreeId;

/// Visits every file and symlink under a tree, in path order, without collecting them.
///
/// The one bounded walk: nesting is limited to [`MAX_DEPTH`], and before descending, every
/// directory's declared totals are checked against its children's (files: its own plus each
/// subtree's; bytes: each entry's size equals its subtree's). A crafted tree therefore cannot
/// make the walk do more than the root declares (`root.files` visits), which callers compare
/// with the version's stats; a tree whose totals lie is reported corrupt, never walked.
pub fn walk_files(
    source: &dyn TreeSource,
    root: &TreeId,
    visit: &mut dyn FnMut(FileEntry) -> Result<()>,
) -> Result<()> {
    walk_files_where(source, root, &mut |_, _, _| true, visit)
}

/// Decides whether a walk enters a subdirectory, given its path from the walk's root, its id
/// and its tree.
pub type Enter<'a> = dyn FnMut(&[u8], &TreeId, &Tree) -> bool + 'a;

/// [`walk_files`] that enters a subdirectory only when `enter` says so: with an answer from
/// [`fold_distinct`], a walk goes only where what it looks for is.
pub fn walk_files_where(
    source: &dyn TreeSource,
    root: &TreeId,
    enter: &mut Enter<'_>,
    visit: &mut dyn FnMut(FileEntry) -> Result<()>,
) -> Result<()> {
    let source = Cached::new(source);
    let tree = source.tree(root)?;
    walk_into(&source, root, tree, &mut Vec::new(), enter, visit)
}

/// Most tree entries a [`Cached`] source holds before it starts over.
const CACHED_ENTRIES: usize = 1 << 18;

/// Trees read during one walk that were asked for more than once, kept while they hold at most
/// [`CACHED_ENTRIES`] entries in all: a directory named by many paths is decoded twice, not
/// once per path, and a walk of distinct directories (real data) copies nothing extra.
pub struct Cached<'a> {
    source: &'a dyn TreeSource,
    trees: std::cell::RefCell<HashMap<TreeId, Tree>>,
    /// Trees read once so far (a second read caches them).
    seen: std::cell::RefCell<std::collections::HashSet<TreeId>>,
    entries: std::cell::Cell<usize>,
}

impl<'a> Cached<'a> {
    pub fn new(source: &'a dyn TreeSource) -> Cached<'a> {
        Cached {
            source,
            trees: Default::default(),
            seen: Default::default(),
            entries: Default::default(),
        }
    }
}

impl TreeSource for Cached<'_> {
    fn tree(&self, id: &TreeId) -> Result<Tree> {
        if let Some(tree) = self.trees.borrow().get(id) {
            return Ok(tree.clone());
        }
        let tree = self.source.tree(id)?;
        let mut seen = self.seen.borrow_mut();
        if seen.insert(*id) {
            if seen.len() > CACHED_ENTRIES {
                seen.clear();
            }
            return Ok(tree);
        }
        if self.entries.get() + tree.entries.len() > CACHED_ENTRIES {
            self.trees.borrow_mut().clear();
            self.entries.set(0);
        }
        if tree.entries.len() <= CACHED_ENTRIES {
            self.entries.set(self.entries.get() + tree.entries.len());
            self.trees.borrow_mut().insert(*id, tree.clone());
        }
        Ok(tree)
    }
}

/// Folds every distinct tree below `root` into a value, children before parents, reading each
/// tree once however many paths (or, through a shared `memo`, versions) name it: the work
/// follows the number of distinct trees, never the paths a fan-out of shared subtrees expands
/// to. `fold` gets a tree and the values of its directory entries, in entry order.
pub fn fold_distinct<T: Clone>(
    source: &dyn TreeSource,
    root: &TreeId,
    memo: &mut HashMap<TreeId, T>,
    fold: &mut dyn FnMut(&Tree, &[T]) -> T,
) -> Result<T> {
    struct Strict<'a, 'b, T> {
        source: &'a dyn TreeSource,
        fold: &'a mut (dyn FnMut(&Tree, &[T]) -> T + 'b),
    }
    impl<T: Clone> Fold for Strict<'_, '_, T> {
        type Value = T;
        fn open(&mut self, id: &TreeId, too_deep: bool) -> Result<Opened<T>> {
            if too_deep {
                return Err(super::tree::too_deep(id));
            }
            Ok(Opened::Tree(self.source.tree(id)?))
        }
        fn fold(&mut self, _: &TreeId, tree: &Tree, children: &[T]) -> T {
            (self.fold)(tree, children)
        }
    }
    fold_trees(root, memo, &mut Strict { source, fold })
}

/// What [`Fold::open`] gives for one tree.
pub enum Opened<T> {
    /// The tree, to fold with its children's values.
    Tree(Tree),
    /// What the tree folds to without being read (it is missing, damaged, or nests too deep).
    Value(T),
}

/// A fold over distinct trees that decides itself what an unreadable tree is worth: fsck
/// reports one and goes on where [`fold_distinct`] stops.
pub trait Fold {
    type Value: Clone;
    /// Opens tree `id`; `too_deep` says it lies past [`MAX_DEPTH`], where no walk reads.
    fn open(&mut self, id: &TreeId, too_deep: bool) -> Result<Opened<Self::Value>>;
    /// A tree's value from the values of its directory entries, in entry order.
    fn fold(&mut self, id: &TreeId, tree: &Tree, children: &[Self::Value]) -> Self::Value;
}

/// Runs a [`Fold`] over the distinct trees below `root` (each opened once through `memo`).
pub fn fold_trees<F: Fold>(
    root: &TreeId,
    memo: &mut HashMap<TreeId, F::Value>,
    folder: &mut F,
) -> Result<F::Value> {
    fold_at(root, memo, folder, 0)
}

fn fold_at<F: Fold>(
    id: &TreeId,
    memo: &mut HashMap<TreeId, F::Value>,
    folder: &mut F,
    depth: usize,
) -> Result<F::Value> {
    if let Some(done) = memo.get(id) {
        return Ok(done.clone());
    }
    let value = match folder.open(id, depth > MAX_DEPTH)? {
        Opened::Value(value) => value,
        Opened::Tree(tree) => {
            let mut children = Vec::new();
            for entry in tree.entries.iter().filter(|e| e.kind == EntryKind::Tree) {
                children.push(fold_at(&TreeId(entry.id), memo, folder, depth + 1)?);
            }
            folder.fold(id, &tree, &children)
        }
    };
    memo.insert(*id, value.clone());
    Ok(value)
}

/// Distinct trees reachable from some roots, handed out level by level (a whole level at once,
/// so a caller can fetch the ones it lacks together), each tree once, to [`MAX_DEPTH`] levels:
/// the walk of reachability (gc, push), of what a version lacks, and of what pull fetches.
pub struct TreeLevels<T> {
    next: Vec<(TreeId, T)>,
    seen: HashSet<TreeId>,
    depth: usize,
}

impl<T> TreeLevels<T> {
    pub fn new(roots: impl IntoIterator<Item = (TreeId, T)>) -> TreeLevels<T> {
        let mut levels = TreeLevels {
            next: Vec::new(),
            seen: HashSet::new(),
            depth: 0,
        };
        for (id, with) in roots {
            levels.push(id, with);
        }
        levels
    }

    /// Queues a tree (with what the caller carries along) for the next level, unless the walk
    /// has already queued it.
    pub fn push(&mut self, id: TreeId, with: T) {
        if self.seen.insert(id) {
            self.next.push((id, with));
        }
    }

    /// Queues a tree even if it was queued before, because only part of it is wanted this time
    /// (pull's path filters: such trees are bounded by the paths the user gave); it does not
    /// count as walked, so a later [`push`](Self::push) of the whole tree still queues it.
    pub fn push_part(&mut self, id: TreeId, with: T) {
        self.next.push((id, with));
    }

    /// The next level's trees, `None` when the walk is done, or the depth error when a tree
    /// lies deeper than any walk goes.
    pub fn next_level(&mut self) -> Result<Option<Vec<(TreeId, T)>>> {
        if self.next.is_empty() {
            return Ok(None);
        }
        if self.depth > MAX_DEPTH {
            return Err(super::tree::too_deep(&self.next[0].0));
        }
        self.depth += 1;
        Ok(Some(std::mem::take(&mut self.next)))
    }
}

fn walk_into(
    source: &dyn TreeSource,
    id: &TreeId,
    tree: Tree,
    prefix: &mut Vec<u8>,
    enter: &mut Enter<'_>,
    visit: &mut dyn FnMut(FileEntry) -> Result<()>,
) -> Result<()> {
    check_depth(prefix, id)?;
    let mut children = Vec::new();
    let mut files = 0u64;
    for entry in &tree.entries {
        if entry.kind == EntryKind::Tree {
            let child = load_subtree(source, id, entry)?;
            files = files.saturating_add(child.files);
            children.push(child);
        } else {
            files = files.saturating_add(1);
        }
    }
    if files != tree.files {
        return Err(corrupt_tree(
            id,
            format!(
                "it declares {} files but its entries hold {files}",
                tree.files
            ),
        ));
    }
    let mut children = children.into_iter();
    for entry in tree.entries {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(&entry.name);
        match entry.kind {
            EntryKind::Tree => {
                let child = children
                    .next()
                    .expect("one loaded child per directory entry");
                let child_id = TreeId(entry.id);
                if enter(prefix, &child_id, &child) {
                    walk_into(source, &child_id, child, prefix, enter, visit)?;
                }
            }
            kind => visit(FileEntry {
                path: prefix.clone(),
                kind,
                id: entry.id,
                size: entry.size,
            })?,
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Loads the tree a directory entry of `parent` names, checking that it holds the bytes the
/// entry declares.
pub fn load_subtree(source: &dyn TreeSource, parent: &TreeId, entry: &Entry) -> Result<Tree> {
    let child = source.tree(&TreeId(entry.id))?;
    if child.bytes != entry.size {
        return Err(corrupt_tree(
            parent,
            format!(
                "its entry {:?} declares {} bytes but that tree holds {}",
                String::from_utf8_lossy(&entry.name),
                entry.size,
                child.bytes
            ),
        ));
    }
    Ok(child)
}
