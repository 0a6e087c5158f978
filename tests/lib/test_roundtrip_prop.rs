//! Property: checkout(commit(tree)) == tree, for random trees of files, executables and symlinks.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dv::checkout::{CheckoutRequest, checkout};
use dv::commit::{CommitRequest, commit};
use dv::progress::NoProgress;
use proptest::prelude::*;

use crate::describe::describe;

#[derive(Clone, Debug)]
enum Node {
    File(Vec<u8>, bool),
    Link(String),
}

fn node() -> impl Strategy<Value = Node> {
    prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 0..3000), any::<bool>()).prop_map(|(b, x)| Node::File(b, x)),
        1 => "[a-z./]{1,12}".prop_map(Node::Link),
    ]
}

fn tree() -> impl Strategy<Value = BTreeMap<Vec<String>, Node>> {
    prop::collection::btree_map(
        prop::collection::vec("[a-zA-Z0-9 ._é-]{1,8}", 1..4),
        node(),
        0..25,
    )
}

fn materialize(root: &Path, tree: &BTreeMap<Vec<String>, Node>) -> usize {
    let mut written = 0;
    for (parts, node) in tree {
        if parts
            .iter()
            .any(|p| p == "." || p == ".." || p == ".dv" || p == ".dvignore")
        {
            continue;
        }
        let path = parts
            .iter()
            .fold(root.to_path_buf(), |p, part| p.join(part));
        // Skip entries that collide with a file or directory made by an earlier entry.
        if path
            .ancestors()
            .skip(1)
            .take(parts.len() - 1)
            .any(|a| std::fs::symlink_metadata(a).is_ok_and(|m| !m.is_dir()))
            || std::fs::symlink_metadata(&path).is_ok()
        {
            continue;
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match node {
            Node::File(bytes, exec) => {
                std::fs::write(&path, bytes).unwrap();
                let mode = if *exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            Node::Link(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
        }
        written += 1;
    }
    written
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn checkout_of_commit_is_the_original_tree(tree in tree()) {
        let (temp, ws) = crate::workspace();
        let data = temp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let written = materialize(&data, &tree);
        let request = CommitRequest { path: data.clone(), dataset: "p".into(), stage: "raw".into(), ..Default::default() };
        let outcome = commit(&ws, &request, &NoProgress).unwrap();
        prop_assert_eq!(outcome.version.files, written as u64);
        let out = temp.path().join("out");
        checkout(&ws, &CheckoutRequest { id: outcome.id, to: Some(out.clone()), force: false }, &NoProgress).unwrap();
        let original = describe(&data);
        let restored = if written == 0 { BTreeMap::new() } else { describe(&out) };
        prop_assert_eq!(restored, original);
    }
}
