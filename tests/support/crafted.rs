//! Objects as a crafted remote or a copied `.dv` could carry them, planted straight into a
//! store: a version record naming any tree, and an honest fan-out. Shared by the hostile-input
//! tests and `benches/fan_out.rs`.

use std::path::Path;

use dv::object::Version;
use dv::object::version::VERSION_FORMAT_PLAIN;
use dv::store::{Kind, Store};
use dv::{TreeId, VersionId};

/// A version record by "mallory" of `dataset@stage` naming `tree`, declaring `files` and
/// `bytes`, with no provenance.
#[allow(dead_code)] // each including crate uses part of this module
pub fn crafted_version(
    dataset: &str,
    stage: &str,
    tree: TreeId,
    files: u64,
    bytes: u64,
) -> Version {
    Version {
        format: VERSION_FORMAT_PLAIN,
        dataset: dataset.into(),
        stage: stage.into(),
        tree,
        path: "bomb".into(),
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
        files,
        bytes,
        run: None,
        profile: None,
        failed_rules: Vec::new(),
        profile_tables: None,
    }
}

/// An honest fan-out: `depth` levels each naming the same subtree twice, so `depth + 1` tree
/// objects declare 2^depth files of `leaf_size` bytes each (all the one-byte blob "x"), every
/// level's totals true.
///
/// Plants the fan-out as version `dataset@cleaned` of the workspace at `root` (written into its
/// store and index directly); returns its id.
#[allow(dead_code)] // each including crate uses part of this module
pub fn plant_fan_out(root: &Path, dataset: &str, depth: u32, leaf_size: u64) -> VersionId {
    let store = Store::at(root.join(".dv/objects"));
    let blob = store.put_bytes(Kind::Blob, b"x").unwrap().to_hex();
    let mut tree = format!("dv-tree 1 1 {leaf_size}\nf {blob} {leaf_size} f\0").into_bytes();
    for level in 1..=depth {
        let child = store.put_bytes(Kind::Tree, &tree).unwrap().to_hex();
        let half = leaf_size << (level - 1);
        tree = format!(
            "dv-tree 1 {} {}\nd {child} {half} a\0d {child} {half} b\0",
            1u64 << level,
            half * 2
        )
        .into_bytes();
    }
    let tree = TreeId(store.put_bytes(Kind::Tree, &tree).unwrap());
    let version = crafted_version(dataset, "cleaned", tree, 1 << depth, leaf_size << depth);
    let id = VersionId(store.put_bytes(Kind::Version, &version.encode()).unwrap());
    let (index, _) = dv::index::Index::open(&root.join(".dv/index.sqlite"), store).unwrap();
    index.insert_version(&id, &version).unwrap();
    id
}
