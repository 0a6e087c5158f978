//! Tree decoding: any bytes either decode to a tree that re-encodes to the same bytes (in the
//! format they are in: format-1 trees are still read), or fail.
#![no_main]
use dv::object::Tree;
use dv::{Hash, TreeId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = TreeId(Hash::of(data));
    if let Ok(tree) = Tree::decode(data, &id) {
        let encoded = if dv::object::tree::is_format_1(data) {
            tree.encode_format_1()
        } else {
            tree.encode()
        };
        assert_eq!(encoded, data, "a decoded tree re-encodes to its bytes");
    }
});
