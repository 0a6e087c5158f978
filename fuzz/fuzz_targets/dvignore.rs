//! `.dvignore` files: any content is read without panicking, and the walk never lists the
//! ignore file's own temporary files or anything under `.dv`.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn root() -> &'static tempfile::TempDir {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let temp = tempfile::tempdir().unwrap();
        for rel in ["a.csv", "b/c.txt", "b/d/e.bin", ".dv/objects/x", "z z"] {
            let path = temp.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, rel).unwrap();
        }
        temp
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root().path();
    std::fs::write(root.join(".dvignore"), data).unwrap();
    std::fs::write(root.join("b/.dvignore"), data).unwrap();
    if let Ok(dv::walk::Walked { found, .. }) = dv::walk::walk(root, &[], &root.join(".dv")) {
        assert!(found.iter().all(|f| !f.rel.starts_with(b".dv/")));
        assert!(found.windows(2).all(|w| w[0].rel < w[1].rel));
    }
});
