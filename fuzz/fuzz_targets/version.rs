//! Version decoding: never panics, and what decodes passes the same validation as a commit.
#![no_main]
use dv::object::Version;
use dv::{Hash, VersionId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = VersionId(Hash::of(data));
    if let Ok(version) = Version::decode(data, &id) {
        assert!(!version.path.starts_with('/'));
        assert!(!version.path.split('/').any(|part| part == ".."));
        let again = version.encode();
        let reread = Version::decode(&again, &version.id()).expect("a re-encoded version decodes");
        assert_eq!(reread, version);
    }
});
