//! Tree decoding: any bytes either decode to a tree that re-encodes to the same bytes, or fail.
#![no_main]
use dv::object::Tree;
use dv::{Hash, TreeId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = TreeId(Hash::of(data));
    if let Ok(tree) = Tree::decode(data, &id) {
        assert_eq!(
            tree.encode(),
            data,
            "a decoded tree re-encodes to its bytes"
        );
    }
});
