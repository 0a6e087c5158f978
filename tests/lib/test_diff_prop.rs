//! Property: the Merkle tree diff (which skips equal subtrees, and takes whole directories from
//! their declared totals when measuring) says exactly what a naive comparison of the two
//! flattened trees says, renames included.

use std::collections::{BTreeMap, HashMap};

use dv::diff::files::FileDiffer;
use dv::diff::report::FileDiff;
use dv::diff::{ChangeKind, diff_trees};
use dv::object::{Entry, EntryKind, Tree};
use dv::store::{Kind, Store};
use dv::{Hash, TreeId};
use proptest::prelude::*;

/// A file: its kind and which of a few contents it holds.
type Leaf = (EntryKind, u8);

fn leaf() -> impl Strategy<Value = Leaf> {
    (
        prop_oneof![
            4 => Just(EntryKind::File),
            1 => Just(EntryKind::Executable),
            1 => Just(EntryKind::Symlink),
        ],
        0u8..4,
    )
}

/// Paths over a tiny alphabet, so that sides share directories, names collide and contents
/// repeat (renames).
fn files() -> impl Strategy<Value = BTreeMap<Vec<String>, Leaf>> {
    prop::collection::btree_map(prop::collection::vec("[ab]{1,2}", 1..4), leaf(), 0..20)
}

fn content(n: u8) -> Vec<u8> {
    vec![b'c'; usize::from(n) + 1]
}

/// Drops paths that run through a file, so the rest is a tree.
fn consistent(files: BTreeMap<Vec<String>, Leaf>) -> BTreeMap<Vec<String>, Leaf> {
    let mut kept: BTreeMap<Vec<String>, Leaf> = BTreeMap::new();
    for (path, leaf) in files {
        let through_file = (1..path.len()).any(|n| kept.contains_key(&path[..n]));
        let over_dir = kept
            .keys()
            .any(|k| k.len() > path.len() && k.starts_with(&path));
        if !through_file && !over_dir {
            kept.insert(path, leaf);
        }
    }
    kept
}

/// Stores the trees of `files` bottom-up and returns the root's id.
fn store_tree(store: &Store, files: &BTreeMap<Vec<String>, Leaf>) -> TreeId {
    let mut children: BTreeMap<String, BTreeMap<Vec<String>, Leaf>> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut subtree_files = 0;
    for (path, &(kind, n)) in files {
        if path.len() == 1 {
            let bytes = content(n);
            entries.push(Entry {
                name: path[0].as_bytes().to_vec(),
                kind,
                id: store.put_bytes(Kind::Blob, &bytes).unwrap(),
                size: bytes.len() as u64,
            });
        } else {
            children
                .entry(path[0].clone())
                .or_default()
                .insert(path[1..].to_vec(), (kind, n));
        }
    }
    for (name, below) in children {
        let id = store_tree(store, &below);
        let tree = Tree::decode(&store.get_bytes(Kind::Tree, &id.0).unwrap(), &id).unwrap();
        subtree_files += tree.files;
        entries.push(Entry {
            name: name.into_bytes(),
            kind: EntryKind::Tree,
            id: id.0,
            size: tree.bytes,
        });
    }
    let tree = Tree::new(entries, subtree_files);
    TreeId(store.put_bytes(Kind::Tree, &tree.encode()).unwrap())
}

type Flat = BTreeMap<String, (EntryKind, Hash, u64)>;

fn flat(files: &BTreeMap<Vec<String>, Leaf>) -> Flat {
    files
        .iter()
        .map(|(path, &(kind, n))| {
            let bytes = content(n);
            (path.join("/"), (kind, Hash::of(&bytes), bytes.len() as u64))
        })
        .collect()
}

/// Every changed path with its kind of change, from the flattened sides.
fn naive_changes(old: &Flat, new: &Flat) -> Vec<(String, ChangeKind)> {
    let mut out = Vec::new();
    for (path, &(kind, id, _)) in old {
        match new.get(path) {
            None => out.push((path.clone(), ChangeKind::Removed)),
            Some(&(new_kind, new_id, _)) if (kind, id) != (new_kind, new_id) => {
                let symlink = kind == EntryKind::Symlink || new_kind == EntryKind::Symlink;
                let change = if symlink && kind != new_kind {
                    ChangeKind::TypeChanged
                } else if id == new_id {
                    ChangeKind::ModeChanged
                } else {
                    ChangeKind::Modified
                };
                out.push((path.clone(), change));
            }
            Some(_) => {}
        }
    }
    for path in new.keys().filter(|p| !old.contains_key(*p)) {
        out.push((path.clone(), ChangeKind::Added));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Renames paired naively: the k-th added file of a content and kind with the k-th removed one,
/// both in path order; what is left is added and removed.
fn naive_renames(
    changes: &[(String, ChangeKind)],
    old: &Flat,
    new: &Flat,
) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let mut removed_by: HashMap<(EntryKind, Hash), Vec<String>> = HashMap::new();
    for (path, _) in changes.iter().filter(|(_, c)| *c == ChangeKind::Removed) {
        let (kind, id, _) = old[path];
        removed_by.entry((kind, id)).or_default().push(path.clone());
    }
    let mut taken: HashMap<(EntryKind, Hash), usize> = HashMap::new();
    let (mut added, mut renamed) = (Vec::new(), Vec::new());
    for (path, _) in changes.iter().filter(|(_, c)| *c == ChangeKind::Added) {
        let (kind, id, _) = new[path];
        let n = taken.entry((kind, id)).or_default();
        match removed_by.get(&(kind, id)).and_then(|list| list.get(*n)) {
            Some(from) => {
                renamed.push((from.clone(), path.clone()));
                *n += 1;
            }
            None => added.push(path.clone()),
        }
    }
    let sources: Vec<&String> = renamed.iter().map(|(from, _)| from).collect();
    let removed = changes
        .iter()
        .filter(|(p, c)| *c == ChangeKind::Removed && !sources.contains(&p))
        .map(|(p, _)| p.clone())
        .collect();
    (added, removed, renamed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn tree_diff_matches_a_naive_diff(old in files(), new in files()) {
        let (_temp, ws) = crate::workspace();
        let store = Store::at(ws.dv_dir().join("objects"));
        let (old, new) = (consistent(old), consistent(new));
        let (a, b) = (store_tree(&store, &old), store_tree(&store, &new));
        let (flat_old, flat_new) = (flat(&old), flat(&new));
        let expected = naive_changes(&flat_old, &flat_new);

        let mut found: Vec<(String, ChangeKind)> = diff_trees(&store, &a, &b)
            .unwrap()
            .into_iter()
            .map(|c| (String::from_utf8(c.path).unwrap(), c.kind))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        prop_assert_eq!(&found, &expected);

        let differ = FileDiffer::new(&store, a, b, &[]).unwrap();
        let files = FileDiff::collect(&differ).unwrap();
        let (added, removed, renamed) = naive_renames(&expected, &flat_old, &flat_new);
        let paths = |list: &[dv::diff::report::FileSide]| {
            list.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
        };
        prop_assert_eq!(paths(&files.added), added);
        prop_assert_eq!(paths(&files.removed), removed);
        let pairs: Vec<(String, String)> =
            files.renamed.iter().map(|r| (r.from.clone(), r.to.clone())).collect();
        prop_assert_eq!(pairs, renamed);

        // Counts measured from declared totals equal the counts of what is listed.
        let measured = differ.measure().unwrap().stat;
        let listed = files.stat();
        prop_assert_eq!(
            (measured.added, measured.removed, measured.renamed, measured.modified),
            (listed.added, listed.removed, listed.renamed, listed.modified)
        );
        prop_assert_eq!(
            (measured.bytes_added, measured.bytes_removed),
            (listed.bytes_added, listed.bytes_removed)
        );
    }
}
