use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use dv::Hash;
use dv::store::{Kind, Store};

fn store() -> (tempfile::TempDir, Store) {
    let temp = tempfile::tempdir().unwrap();
    Store::create(temp.path()).unwrap();
    let store = Store::at(temp.path().to_path_buf());
    (temp, store)
}

fn damage(path: &std::path::Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    edit(&mut bytes);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn blob_ids_equal_b3sum_of_the_content() {
    let (temp, store) = store();
    let content = b"species,island\nAdelie,Torgersen\n".repeat(1000);
    let file = temp.path().join("input.csv");
    std::fs::write(&file, &content).unwrap();
    let stored = store.put_file(&file).unwrap();
    assert_eq!(stored.id.to_hex(), blake3::hash(&content).to_hex().as_str());
    assert_eq!(stored.size, content.len() as u64);
    let mut back = Vec::new();
    store
        .read(Kind::Blob, &stored.id)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, content);
    // Compressible content is stored compressed; objects are read-only.
    let path = store.object_path(Kind::Blob, &stored.id);
    assert!(std::fs::metadata(&path).unwrap().len() < content.len() as u64 / 10);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o222,
        0
    );
}

#[test]
fn large_files_stream_and_incompressible_data_is_stored_raw() {
    let (temp, store) = store();
    // 5 MiB of pseudo-random bytes: crosses the streaming threshold and does not compress.
    let mut state = 0x9e3779b97f4a7c15u64;
    let content: Vec<u8> = (0..5 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let file = temp.path().join("random.bin");
    std::fs::write(&file, &content).unwrap();
    let stored = store.put_file(&file).unwrap();
    assert_eq!(stored.id, Hash::from(blake3::hash(&content)));
    let on_disk = std::fs::metadata(store.object_path(Kind::Blob, &stored.id))
        .unwrap()
        .len();
    assert_eq!(
        on_disk,
        content.len() as u64 + 16,
        "raw payload plus the 16-byte header"
    );
    let mut back = Vec::new();
    store
        .read(Kind::Blob, &stored.id)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back == content);
    // Storing it again is a no-op with the same id.
    assert_eq!(store.put_file(&file).unwrap().id, stored.id);
    assert_eq!(store.list(Kind::Blob).unwrap(), vec![stored.id]);
}

/// One way of damaging an object file's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn every_kind_of_damage_is_detected_on_read() {
    let (_temp, store) = store();
    let content = b"0123456789abcdef".repeat(64);
    let raw_content: Vec<u8> = (0..200u8).collect();
    for payload in [&content[..], &raw_content[..]] {
        let id = store.put_bytes(Kind::Blob, payload).unwrap();
        let path = store.object_path(Kind::Blob, &id);
        let original = std::fs::read(&path).unwrap();
        let cases: Vec<(&str, Damage)> = vec![
            (
                "flipped payload byte",
                Box::new(|b: &mut Vec<u8>| *b.last_mut().unwrap() ^= 1),
            ),
            (
                "truncated",
                Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 5)),
            ),
            (
                "extra bytes",
                Box::new(|b: &mut Vec<u8>| b.extend_from_slice(b"junk")),
            ),
            ("bad magic", Box::new(|b: &mut Vec<u8>| b[0] = b'X')),
            ("newer format", Box::new(|b: &mut Vec<u8>| b[4] = 9)),
            ("wrong size", Box::new(|b: &mut Vec<u8>| b[8] ^= 1)),
            ("empty file", Box::new(|b: &mut Vec<u8>| b.clear())),
        ];
        for (what, edit) in cases {
            damage(&path, |b| {
                *b = original.clone();
                edit(b);
            });
            let result = store.get_bytes(Kind::Blob, &id);
            let err = result.expect_err(what).to_string();
            assert!(
                err.starts_with(&format!("blob object {id} is corrupt")),
                "{what}: {err}"
            );
        }
        damage(&path, |b| *b = original.clone());
        assert_eq!(store.get_bytes(Kind::Blob, &id).unwrap(), payload);
    }
}

#[test]
fn a_missing_object_is_reported_by_kind_and_id() {
    let (_temp, store) = store();
    let id = Hash::of(b"never stored");
    let err = store.get_bytes(Kind::Tree, &id).unwrap_err().to_string();
    assert_eq!(err, format!("tree object {id} is missing from the store"));
}
