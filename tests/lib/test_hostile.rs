//! Promise 5: a crafted tree cannot make checkout write outside the target directory.

use dv::checkout::{CheckoutRequest, checkout};
use dv::object::Version;
use dv::progress::NoProgress;
use dv::store::Kind;
use dv::{Hash, TreeId, VersionId};

/// Stores a version whose root tree is exactly `tree_bytes`.
fn hostile_version(ws: &dv::Workspace, tree_bytes: &[u8]) -> VersionId {
    let tree = TreeId(crate::store(ws).put_bytes(Kind::Tree, tree_bytes).unwrap());
    let mut version = crate::crafted::crafted_version("evil", "raw", tree, 1, 5);
    version.path = "evil".into();
    let id = VersionId(
        crate::store(ws)
            .put_bytes(Kind::Version, &version.encode())
            .unwrap(),
    );
    crate::index(ws).insert_version(&id, &version).unwrap();
    id
}

#[test]
fn crafted_names_never_reach_the_filesystem() {
    let (temp, ws) = crate::workspace();
    let blob = crate::store(&ws)
        .put_bytes(Kind::Blob, b"owned")
        .unwrap()
        .to_hex();
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
    let blob = crate::store(&ws)
        .put_bytes(Kind::Blob, b"x")
        .unwrap()
        .to_hex();
    let mut child = format!("dv-tree 1 1 1\nf {blob} 1 f\0").into_bytes();
    for _ in 0..300 {
        let id = Hash::of(&child);
        crate::store(&ws).put_bytes(Kind::Tree, &child).unwrap();
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
    let too_deep = "nests deeper than any real path (more than 256 levels)";
    assert!(err.contains(too_deep), "{err}");
    // The object walks stop at the same bound: what a version lacks, and gc's live set (which
    // then deletes nothing rather than trusting a partial mark).
    let err = dv::reach::missing_of(&ws, &id, dv::reach::Need::Data).unwrap_err();
    assert!(err.to_string().contains(too_deep), "{err}");
    let options = dv::gc::GcOptions {
        repack: false,
        prune: true,
        grace: std::time::Duration::ZERO,
        max_unused: 0.0,
    };
    let objects = crate::store(&ws).list(Kind::Tree).unwrap().len();
    let err = dv::gc::gc(&ws, options).unwrap_err();
    assert!(err.to_string().contains(too_deep), "{err}");
    assert_eq!(crate::store(&ws).list(Kind::Tree).unwrap().len(), objects);
}

#[test]
fn fsck_reports_a_version_object_that_hashes_right_but_is_not_a_version() {
    let (_temp, ws) = crate::workspace();
    let id = crate::store(&ws)
        .put_bytes(Kind::Version, b"not a version")
        .unwrap();
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

/// A fan-out bomb: each level holds two entries naming the same subtree, so `depth` levels of
/// a few hundred bytes each expand to 2^depth files. `declared` is the file count each level
/// claims for itself (honest: 2^level).
fn fan_out_bomb(ws: &dv::Workspace, depth: u32, honest: bool) -> Vec<u8> {
    let blob = crate::store(ws)
        .put_bytes(Kind::Blob, b"x")
        .unwrap()
        .to_hex();
    let mut child = format!("dv-tree 1 1 1\nf {blob} 1 f\0").into_bytes();
    for level in 1..=depth {
        let id = Hash::of(&child);
        crate::store(ws).put_bytes(Kind::Tree, &child).unwrap();
        let files: u64 = if honest { 1 << level } else { 2 };
        let bytes: u64 = 1 << level;
        let half = bytes / 2;
        child = format!(
            "dv-tree 1 {files} {bytes}\nd {id} {half} a\0d {id} {half} b\0",
            id = id.to_hex()
        )
        .into_bytes();
    }
    child
}

#[test]
fn a_tree_whose_totals_lie_is_refused_before_it_is_walked() {
    let (temp, ws) = crate::workspace();
    let bomb = fan_out_bomb(&ws, 40, false);
    let id = hostile_version(&ws, &bomb);
    let version = crate::index(&ws).version(&id).unwrap().unwrap();
    let started = std::time::Instant::now();
    let err = dv::object::tree::flatten(&crate::store(&ws), &version.tree)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is corrupt: it declares 2 files but its entries hold 4"),
        "{err}"
    );
    let request = CheckoutRequest {
        id,
        to: Some(temp.path().join("bomb")),
        force: false,
    };
    let err = checkout(&ws, &request, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("declares 2 files"), "{err}");
    // 2^40 files would take years; refusing takes a few tree reads.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_directory_entry_whose_size_differs_from_its_tree_is_refused() {
    let (_temp, ws) = crate::workspace();
    let blob = crate::store(&ws)
        .put_bytes(Kind::Blob, b"hello")
        .unwrap()
        .to_hex();
    let leaf = format!("dv-tree 1 1 5\nf {blob} 5 f\0").into_bytes();
    let leaf_id = crate::store(&ws)
        .put_bytes(Kind::Tree, &leaf)
        .unwrap()
        .to_hex();
    // The parent says the subtree holds 1 byte; it holds 5.
    let root = format!("dv-tree 1 1 1\nd {leaf_id} 1 dir\0").into_bytes();
    let root_id = dv::TreeId(crate::store(&ws).put_bytes(Kind::Tree, &root).unwrap());
    let err = dv::object::tree::flatten(&crate::store(&ws), &root_id)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("its entry \"dir\" declares 1 bytes but that tree holds 5"),
        "{err}"
    );
}

#[test]
fn a_version_whose_path_leaves_the_workspace_is_refused() {
    let (temp, ws) = crate::workspace();
    let blob = crate::store(&ws)
        .put_bytes(Kind::Blob, b"owned")
        .unwrap()
        .to_hex();
    let tree = format!("dv-tree 1 1 5\nf {blob} 5 f\0").into_bytes();
    for path in ["../escape", "/tmp/escape", ".dv/objects", "a//b", "a/./b"] {
        let id = hostile_version(&ws, &tree);
        // Rewrite the version with a hostile path, stored and indexed as a clone would.
        let mut version = crate::index(&ws).version(&id).unwrap().unwrap();
        version.path = path.into();
        let bytes = version.encode();
        let bad_id = VersionId(crate::store(&ws).put_bytes(Kind::Version, &bytes).unwrap());
        let err = Version::decode(&bytes, &bad_id).unwrap_err().to_string();
        assert!(err.contains("is not allowed"), "{path}: {err}");
        crate::index(&ws).insert_version(&bad_id, &version).unwrap();
        let request = CheckoutRequest {
            id: bad_id,
            to: None,
            force: true,
        };
        let err = checkout(&ws, &request, &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is corrupt"), "{path}: {err}");
    }
    assert!(!temp.path().join("..").join("escape").exists());
    assert!(!std::path::Path::new("/tmp/escape").exists());
}

#[test]
fn fsck_names_a_tree_whose_totals_lie_without_walking_its_expansion() {
    let (_temp, ws) = crate::workspace();
    let bomb = fan_out_bomb(&ws, 40, false);
    let id = hostile_version(&ws, &bomb);
    let root = crate::index(&ws).version(&id).unwrap().unwrap().tree;
    let report = dv::fsck::fsck(&ws, &NoProgress).unwrap();
    let lying: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == "tree")
        .map(|f| (f.reason.as_str(), f.affects.len()))
        .collect();
    // Every level above the first claims 2 files and holds 4 (or more): each is named once.
    assert_eq!(lying.len(), 39, "{lying:?}");
    assert!(
        lying
            .iter()
            .all(|(reason, _)| reason.starts_with("it declares 2 files but its entries hold 4"))
    );
    let top = report
        .findings
        .iter()
        .find(|f| f.id == root.to_hex())
        .expect("the root is named");
    assert_eq!(top.affects.len(), 1);
    assert_eq!(top.affects[0].path, "");
}
