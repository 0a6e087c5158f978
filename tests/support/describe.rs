//! What a directory holds, entry by entry, for comparing a checkout with its original.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Each file and symlink below `root`: (kind `f`/`l`, bytes or link target, executable).
pub fn describe(root: &Path) -> BTreeMap<Vec<u8>, (char, Vec<u8>, bool)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec();
                out.insert(rel, ('l', target, false));
            } else if meta.is_dir() {
                stack.push(path);
            } else {
                let executable = meta.permissions().mode() & 0o100 != 0;
                out.insert(rel, ('f', std::fs::read(&path).unwrap(), executable));
            }
        }
    }
    out
}
