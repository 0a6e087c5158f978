use dv::object::{Entry, EntryKind, Tree};
use dv::{Hash, TreeId};

fn entry(name: &[u8], kind: EntryKind, size: u64) -> Entry {
    Entry {
        name: name.to_vec(),
        kind,
        id: Hash::of(name),
        size,
    }
}

#[test]
fn tree_encoding_round_trips_and_is_canonical() {
    let a = Tree::new(
        vec![
            entry(b"b.csv", EntryKind::File, 10),
            entry(b"a", EntryKind::Tree, 5),
            entry(b"\xff", EntryKind::Symlink, 3),
        ],
        2,
    );
    let b = Tree::new(
        vec![
            entry(b"\xff", EntryKind::Symlink, 3),
            entry(b"b.csv", EntryKind::File, 10),
            entry(b"a", EntryKind::Tree, 5),
        ],
        2,
    );
    assert_eq!(a.encode(), b.encode());
    assert_eq!(a.files, 4);
    assert_eq!(a.bytes, 18);
    let decoded = Tree::decode(&a.encode(), &a.id()).unwrap();
    assert_eq!(decoded, a);
}

#[test]
fn hostile_tree_encodings_are_rejected() {
    let id = TreeId(Hash::of(b"x"));
    let h = Hash::of(b"content").to_hex();
    let cases: [(&str, Vec<u8>); 8] = [
        (
            "dot-dot",
            format!("dv-tree 1 1 1\nf {h} 1 ..\0").into_bytes(),
        ),
        (
            "slash",
            format!("dv-tree 1 1 1\nf {h} 1 a/b\0").into_bytes(),
        ),
        (
            "empty name",
            format!("dv-tree 1 1 1\nf {h} 1 \0").into_bytes(),
        ),
        (
            "unsorted",
            format!("dv-tree 1 2 2\nf {h} 1 b\0f {h} 1 a\0").into_bytes(),
        ),
        (
            "duplicate",
            format!("dv-tree 1 2 2\nf {h} 1 a\0f {h} 1 a\0").into_bytes(),
        ),
        (
            "bad kind",
            format!("dv-tree 1 1 1\nq {h} 1 a\0").into_bytes(),
        ),
        (
            "wrong total",
            format!("dv-tree 1 1 7\nf {h} 1 a\0").into_bytes(),
        ),
        (
            "unterminated",
            format!("dv-tree 1 1 1\nf {h} 1 a").into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        let err = Tree::decode(&bytes, &id).expect_err(what).to_string();
        assert!(
            err.starts_with(&format!("tree object {id} is corrupt")),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_version_from_a_newer_format_is_refused() {
    let id = dv::VersionId(Hash::of(b"v"));
    let err = dv::object::Version::decode(br#"{"format": 2}"#, &id)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "version object {id} is corrupt: it uses version format 2, newer than this dv understands (1); upgrade dv"
        )
    );
}
