//! Library-level tests: faster than the CLI tests, used where the input space is large.
#![allow(clippy::disallowed_methods)] // tests build fixtures with plain writes

#[path = "../support/crafted.rs"]
mod crafted;
#[path = "../support/describe.rs"]
mod describe;
mod test_checkout_stream;
mod test_diff;
mod test_diff_prop;
mod test_fuzz_regressions;
mod test_gc;
mod test_hostile;
mod test_layering;
mod test_objects;
mod test_profile;
mod test_recovery;
mod test_revision;
mod test_roundtrip_prop;
mod test_rules;
mod test_stat_cache;
mod test_storage;
mod test_store;

use std::path::Path;

use dv::Workspace;

/// A fresh workspace in a temporary directory, with a fixed clock and identity.
pub fn workspace() -> (tempfile::TempDir, Workspace) {
    let temp = tempfile::tempdir().unwrap();
    let ws = Workspace::init(temp.path(), None).unwrap();
    (temp, ws)
}

/// The workspace's object store, opened directly as a crafted or copied `.dv` would be written
/// (the workspace keeps its own private).
pub fn store(ws: &Workspace) -> dv::store::Store {
    dv::store::Store::at(ws.dv_dir().join("objects"))
}

/// The workspace's index, opened directly (see [`store`]).
pub fn index(ws: &Workspace) -> dv::index::Index {
    dv::index::Index::open(&ws.dv_dir().join("index.sqlite"), store(ws))
        .unwrap()
        .0
}

/// Writes `content` at `rel` below `root`, creating directories.
pub fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}
