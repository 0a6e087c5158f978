//! Promise 5: a crafted tree cannot make checkout write outside the target directory.

use dv::checkout::{CheckoutRequest, checkout};
use dv::object::Version;
use dv::object::version::VERSION_FORMAT;
use dv::progress::NoProgress;
use dv::store::Kind;
use dv::{Hash, TreeId, VersionId};

/// Stores a version whose root tree is exactly `tree_bytes`.
fn hostile_version(ws: &dv::Workspace, tree_bytes: &[u8]) -> VersionId {
    let tree = TreeId(ws.store.put_bytes(Kind::Tree, tree_bytes).unwrap());
    let version = Version {
        format: VERSION_FORMAT,
        dataset: "evil".into(),
        stage: "raw".into(),
        tree,
        path: "evil".into(),
        single_file: false,
        inputs: vec![],
        transform: None,
        code: vec![],
        params: Default::default(),
        code_revision: None,
        message: None,
        author: "mallory".into(),
        host: "elsewhere".into(),
        dv_version: "0.1.0".into(),
        created_at: "2026-01-01T00:00:00.000000Z".into(),
        files: 1,
        bytes: 5,
    };
    let id = VersionId(
        ws.store
            .put_bytes(Kind::Version, &version.encode())
            .unwrap(),
    );
    ws.index.insert_version(&id, &version).unwrap();
    id
}

#[test]
fn crafted_names_never_reach_the_filesystem() {
    let (temp, ws) = crate::workspace();
    let blob = ws.store.put_bytes(Kind::Blob, b"owned").unwrap().to_hex();
    let names: [&[u8]; 4] = [b"..", b"../escape", b"/etc/passwd", b"a\0b"];
    for name in names {
        let mut bytes = b"dv-tree 1 1 5\n".to_vec();
        bytes.extend_from_slice(format!("f {blob} 5 ").as_bytes());
        bytes.extend_from_slice(name);
        bytes.push(0);
        let id = hostile_version(&ws, &bytes);
        let target = temp.path().join("out");
        let request = CheckoutRequest {
            id,
            to: Some(target.clone()),
            force: true,
        };
        let err = checkout(&ws, &request, &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is corrupt"),
            "{:?}: {err}",
            String::from_utf8_lossy(name)
        );
        assert!(!temp.path().join("escape").exists());
        assert!(!target.exists() || std::fs::read_dir(&target).unwrap().next().is_none());
    }
}

#[test]
fn a_chain_of_trees_deeper_than_the_limit_is_refused() {
    // Trees are content-addressed, so a cycle is impossible; the longest legal chain is bounded
    // by the path length limit instead. Build a chain just past it.
    let (temp, ws) = crate::workspace();
    let blob = ws.store.put_bytes(Kind::Blob, b"x").unwrap().to_hex();
    let mut child = format!("dv-tree 1 1 1\nf {blob} 1 f\0").into_bytes();
    for _ in 0..300 {
        let id = Hash::of(&child);
        ws.store.put_bytes(Kind::Tree, &child).unwrap();
        child = format!("dv-tree 1 1 1\nd {} 1 d\0", id.to_hex()).into_bytes();
    }
    let id = hostile_version(&ws, &child);
    let request = CheckoutRequest {
        id,
        to: Some(temp.path().join("deep")),
        force: false,
    };
    let err = checkout(&ws, &request, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nests deeper than any real path (more than 256 levels)"),
        "{err}"
    );
}

#[test]
fn fsck_reports_a_version_object_that_hashes_right_but_is_not_a_version() {
    let (_temp, ws) = crate::workspace();
    let id = ws.store.put_bytes(Kind::Version, b"not a version").unwrap();
    let report = dv::fsck::fsck(&ws, &NoProgress).unwrap();
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert_eq!(
        (finding.kind, finding.id.as_str()),
        ("version", id.to_hex().as_str())
    );
    assert!(
        finding.reason.starts_with("it is not valid JSON"),
        "{}",
        finding.reason
    );
}
