//! Pack entries: a crafted pack file is scanned into an index, and every object it claims to
//! hold is read through the store, which must verify it or fail, never panic.
#![no_main]
#[path = "support.rs"]
mod support;

use dv::store::{Kind, PackIndex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (temp, _) = support::workspace(|_, _| {});
    let pack_dir = temp.path().join(".dv/objects/pack");
    let path = pack_dir.join("fuzz.pack");
    std::fs::write(&path, data).unwrap();
    if let Ok(index) = PackIndex::scan(&path) {
        // Read every claimed object through a fresh store that finds this pack.
        let name = index.pack_id().to_hex();
        let pack = pack_dir.join(format!("{name}.pack"));
        std::fs::rename(&path, &pack).unwrap();
        let store = dv::store::Store::at(temp.path().join(".dv/objects"));
        for record in index.records() {
            for kind in Kind::ALL {
                let _ = store.get_bytes(kind, &record.id);
            }
        }
        let _ = std::fs::remove_file(&pack);
        let _ = std::fs::remove_file(pack_dir.join(format!("{name}.idx")));
    }
});
