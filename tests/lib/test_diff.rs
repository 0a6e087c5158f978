//! Diff cost follows the size of the change: equal subtrees are never loaded.

use std::cell::Cell;

use dv::TreeId;
use dv::commit::{CommitRequest, commit};
use dv::diff::diff_trees;
use dv::object::{Tree, TreeSource};
use dv::progress::NoProgress;

/// Counts the trees a diff loads.
struct Counting<'a> {
    inner: &'a dyn TreeSource,
    loads: Cell<usize>,
}

impl TreeSource for Counting<'_> {
    fn tree(&self, id: &TreeId) -> dv::Result<Tree> {
        self.loads.set(self.loads.get() + 1);
        self.inner.tree(id)
    }
}

#[test]
fn an_unchanged_huge_subtree_is_never_read() {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    // 40 directories of 25 files each that do not change, and one deep path that does.
    for d in 0..40 {
        for f in 0..25 {
            crate::write(
                &data,
                &format!("huge/dir-{d:02}/file-{f:02}.txt"),
                format!("{d}-{f}").as_bytes(),
            );
        }
    }
    crate::write(&data, "small/x/y/z/target.txt", b"v1");
    let request = CommitRequest {
        path: data.clone(),
        dataset: "d".into(),
        stage: "raw".into(),
        ..Default::default()
    };
    let old = commit(&ws, &request, &NoProgress).unwrap().version.tree;
    crate::write(&data, "small/x/y/z/target.txt", b"v2");
    let request = CommitRequest {
        stage: "cleaned".into(),
        ..request
    };
    let new = commit(&ws, &request, &NoProgress).unwrap().version.tree;

    let counting = Counting {
        inner: &crate::store(&ws),
        loads: Cell::new(0),
    };
    let changes = diff_trees(&counting, &old, &new).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, b"small/x/y/z/target.txt");
    // root, small, x, y, z on each side: 5 levels × 2 trees; none of the 41 huge/ trees.
    assert_eq!(counting.loads.get(), 10);
}
