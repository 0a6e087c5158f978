//! Pack index decoding: never panics; what decodes re-encodes to the same bytes.
#![no_main]
use dv::store::PackIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = PackIndex::decode(data) {
        assert_eq!(index.encode(), data);
        for record in index.records() {
            assert_eq!(index.find(record.kind, &record.id), Some(record.slot));
        }
    }
});
