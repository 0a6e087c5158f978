//! Every input the fuzzers ever crashed on (`tests/fuzz_regressions/TARGET/`) is replayed here
//! through the same property its fuzz target checks, so a fixed finding stays fixed.

use dv::object::{Tree, Version};
use dv::store::PackIndex;
use dv::{Hash, TreeId, VersionId};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn tree_findings_stay_fixed() {
    let found = inputs("tree");
    assert!(!found.is_empty(), "the tree target's finding is kept");
    for (name, data) in found {
        if let Ok(tree) = Tree::decode(&data, &TreeId(Hash::of(&data))) {
            // Format-1 trees are read too, and must be canonical in their own format.
            let encoded = if dv::object::tree::is_format_1(&data) {
                tree.encode_format_1()
            } else {
                tree.encode()
            };
            assert_eq!(
                encoded, data,
                "{name}: a decoded tree re-encodes to its bytes"
            );
        }
    }
}

#[test]
fn version_findings_stay_fixed() {
    for (name, data) in inputs("version") {
        if let Ok(version) = Version::decode(&data, &VersionId(Hash::of(&data))) {
            let again = version.encode();
            let reread = Version::decode(&again, &version.id());
            assert_eq!(reread.ok(), Some(version), "{name}");
        }
    }
}

#[test]
fn pack_index_findings_stay_fixed() {
    for (name, data) in inputs("pack_index") {
        if let Ok(index) = PackIndex::decode(&data) {
            assert_eq!(index.encode(), data, "{name}");
        }
    }
}
