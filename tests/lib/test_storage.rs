//! Chunked files and deltas: every stored version reads back byte for byte, chains stay
//! bounded, and damage to a chunk or a base is caught.

use std::io::Read;

use dv::Hash;
use dv::store::chunks::{CHUNKED_FILE, MAX_CHUNK};
use dv::store::delta::{MAX_DEPTH, depth_at};
use dv::store::{Kind, Location, Store};
use proptest::prelude::*;

fn store() -> (tempfile::TempDir, Store) {
    let temp = tempfile::tempdir().unwrap();
    Store::create(temp.path()).unwrap();
    let store = Store::at(temp.path().to_path_buf());
    (temp, store)
}

fn read_all(store: &Store, kind: Kind, id: &Hash) -> dv::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut reader = store.read(kind, id)?;
    reader
        .read_to_end(&mut out)
        .map_err(|e| dv::Error::io("read", e))?;
    Ok(out)
}

/// Stores `content` as the file that follows `previous`, in a batch of its own.
fn commit_file(
    store: &Store,
    dir: &std::path::Path,
    content: &[u8],
    previous: Option<&Hash>,
) -> Hash {
    let path = dir.join("file");
    std::fs::write(&path, content).unwrap();
    let batch = store.batch();
    let stored = batch.put_file(&path, previous).unwrap();
    batch.finish().unwrap();
    assert_eq!(stored.id, Hash::of(content));
    assert_eq!(stored.size, content.len() as u64);
    stored.id
}

/// Text-like content (compressible, with structure for the chunker) from a seed.
fn rows(seed: u64, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for row in 0..count {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        out.extend_from_slice(format!("{row},{},{:x}\n", state >> 40, state >> 13).as_bytes());
    }
    out
}

#[derive(Clone, Debug)]
enum Edit {
    /// Overwrite bytes at a fraction of the length.
    Change {
        at: f64,
        bytes: Vec<u8>,
    },
    Insert {
        at: f64,
        bytes: Vec<u8>,
    },
    Delete {
        at: f64,
        len: usize,
    },
    Append(Vec<u8>),
    /// Cut the file to a fraction of its length (below the chunking threshold, or to nothing).
    Truncate(f64),
    /// Repeat a slice, so one file holds identical chunks.
    Repeat {
        at: f64,
        len: usize,
        times: usize,
    },
}

fn apply(content: &mut Vec<u8>, edit: &Edit) {
    let at = |f: f64, len: usize| ((len as f64) * f) as usize;
    match edit {
        Edit::Change { at: f, bytes } => {
            let start = at(*f, content.len());
            for (i, b) in bytes.iter().enumerate() {
                if let Some(slot) = content.get_mut(start + i) {
                    *slot = *b;
                }
            }
        }
        Edit::Insert { at: f, bytes } => {
            let start = at(*f, content.len());
            content.splice(start..start, bytes.iter().copied());
        }
        Edit::Delete { at: f, len } => {
            let start = at(*f, content.len());
            let end = (start + len).min(content.len());
            content.drain(start..end);
        }
        Edit::Append(bytes) => content.extend_from_slice(bytes),
        Edit::Truncate(f) => content.truncate(at(*f, content.len())),
        Edit::Repeat { at: f, len, times } => {
            let start = at(*f, content.len());
            let end = (start + len).min(content.len());
            let piece = content[start..end].to_vec();
            for _ in 0..*times {
                content.extend_from_slice(&piece);
            }
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let bytes = prop::collection::vec(any::<u8>(), 1..300);
    prop_oneof![
        4 => (0.0..1.0, bytes.clone()).prop_map(|(at, bytes)| Edit::Change { at, bytes }),
        2 => (0.0..1.0, bytes.clone()).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        2 => (0.0..1.0, 1..5000usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        2 => (1u64..1000, 1..20_000usize).prop_map(|(seed, n)| Edit::Append(rows(seed, n))),
        1 => (0.0..0.6).prop_map(Edit::Truncate),
        1 => (0.0..1.0, 1..400_000usize, 1..4usize)
            .prop_map(|(at, len, times)| Edit::Repeat { at, len, times }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// A line of versions, each stored against the one before: every version reads back
    /// exactly, small and large, growing, shrinking below the threshold and back, or empty.
    #[test]
    fn every_version_of_an_edited_file_reads_back(
        seed in 0u64..1000,
        rows_at_start in prop_oneof![Just(0usize), 1..2000usize, 40_000..90_000usize],
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let (temp, store) = store();
        let mut content = rows(seed, rows_at_start);
        let mut versions = vec![(commit_file(&store, temp.path(), &content, None), content.clone())];
        for edit in &edits {
            apply(&mut content, edit);
            let previous = versions.last().map(|(id, _)| *id);
            let id = commit_file(&store, temp.path(), &content, previous.as_ref());
            versions.push((id, content.clone()));
        }
        for (id, expected) in &versions {
            prop_assert_eq!(&read_all(&store, Kind::Blob, id).unwrap(), expected);
            let chunked = store.chunk_list(id).unwrap().is_some();
            prop_assert_eq!(chunked, expected.len() as u64 >= CHUNKED_FILE);
            for (kind, dependency) in store.dependencies(Kind::Blob, id).unwrap() {
                prop_assert!(store.has(kind, &dependency));
            }
        }
    }
}

#[test]
fn identical_chunks_inside_one_file_are_stored_once() {
    let (temp, store) = store();
    let block = rows(7, 40_000);
    let content = [&block[..], &block[..], &block[..]].concat();
    let id = commit_file(&store, temp.path(), &content, None);
    let list = store
        .chunk_list(&id)
        .unwrap()
        .expect("a large file is chunked");
    let unique: std::collections::HashSet<_> = list.iter().map(|c| c.id).collect();
    assert!(
        unique.len() * 2 < list.len() + 4,
        "{} chunks, {} distinct",
        list.len(),
        unique.len()
    );
    assert!(list.iter().all(|c| c.size as usize <= MAX_CHUNK));
    assert_eq!(read_all(&store, Kind::Blob, &id).unwrap(), content);
}

#[test]
fn an_append_stores_only_the_last_chunks() {
    let (temp, store) = store();
    let mut content = rows(1, 200_000);
    let first = commit_file(&store, temp.path(), &content, None);
    let packed = || -> u64 {
        std::fs::read_dir(temp.path().join("pack"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    };
    let before = packed();
    content.extend_from_slice(&rows(2, 2_000));
    let second = commit_file(&store, temp.path(), &content, Some(&first));
    let added = packed() - before;
    let old = store.chunk_list(&first).unwrap().unwrap();
    let new = store.chunk_list(&second).unwrap().unwrap();
    let shared = new.iter().filter(|c| old.contains(c)).count();
    assert!(
        shared + 2 >= old.len(),
        "{shared} of {} chunks shared",
        old.len()
    );
    // The list itself (36 bytes a chunk) and about one chunk's worth of new rows.
    assert!(added < before / 10, "added {added} bytes to {before}");
    assert_eq!(read_all(&store, Kind::Blob, &second).unwrap(), content);
}

#[test]
fn a_long_line_of_versions_keeps_every_chain_within_the_bound() {
    let (_temp, store) = store();
    let mut content = rows(3, 3000);
    let mut previous: Option<Hash> = None;
    let mut versions = Vec::new();
    for step in 0..300u32 {
        let at = (step as usize * 977) % (content.len() - 10);
        content[at..at + 6].copy_from_slice(format!("{step:06}").as_bytes());
        let batch = store.batch();
        let id = batch
            .put_bytes(Kind::Blob, &content, previous.as_ref())
            .unwrap();
        batch.finish().unwrap();
        let link = store.delta_link(Kind::Blob, &id).unwrap();
        if let Some(link) = link {
            assert!(link.depth <= MAX_DEPTH);
            // Runs of deltas, then skips: the depth follows from the position.
            assert_eq!(
                u32::from(link.depth),
                depth_at(link.seq),
                "at step {step}: {link:?}"
            );
        }
        previous = Some(id);
        versions.push((id, content.clone(), link));
    }
    let deltas = versions.iter().filter(|v| v.2.is_some()).count();
    assert!(deltas > 250, "only {deltas} of 300 versions are deltas");
    let deepest = versions.iter().filter_map(|v| v.2).map(|l| l.depth).max();
    assert!(deepest.unwrap() <= MAX_DEPTH, "{deepest:?}");
    for (id, expected, _) in &versions {
        assert_eq!(&read_all(&store, Kind::Blob, id).unwrap(), expected);
    }
}

#[test]
fn a_delta_that_is_not_clearly_smaller_is_not_kept() {
    let (_temp, store) = store();
    let base = rows(4, 3000);
    let unrelated = rows(5, 3000);
    let batch = store.batch();
    let first = batch.put_bytes(Kind::Blob, &base, None).unwrap();
    let second = batch
        .put_bytes(Kind::Blob, &unrelated, Some(&first))
        .unwrap();
    batch.finish().unwrap();
    assert_eq!(store.delta_link(Kind::Blob, &second).unwrap(), None);
}

/// Flips one byte in the middle of an object's stored payload.
fn damage(store: &Store, kind: Kind, id: &Hash) {
    use std::os::unix::fs::PermissionsExt;
    let Some(Location::Packed {
        pack,
        offset,
        length,
    }) = store.locate(kind, id)
    else {
        panic!("{kind:?} {id} is packed");
    };
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[(offset + 16 + (length - 16) / 2) as usize] ^= 0x55;
    std::fs::set_permissions(&pack, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&pack, bytes).unwrap();
}

#[test]
fn a_damaged_chunk_or_base_fails_every_read_that_needs_it() {
    let (temp, store) = store();
    let big = rows(6, 100_000);
    let big_id = commit_file(&store, temp.path(), &big, None);
    let small = rows(8, 2000);
    let small_id = commit_file(&store, temp.path(), &small, None);
    let mut edited = small.clone();
    edited[500..505].copy_from_slice(b"EDIT!");
    let edited_id = commit_file(&store, temp.path(), &edited, Some(&small_id));
    assert_eq!(
        store.dependencies(Kind::Blob, &edited_id).unwrap(),
        vec![(Kind::Blob, small_id)]
    );

    let chunk = store.chunk_list(&big_id).unwrap().unwrap()[3].id;
    damage(&store, Kind::Chunk, &chunk);
    damage(&store, Kind::Blob, &small_id);
    let store = Store::at(temp.path().to_path_buf());
    let err = read_all(&store, Kind::Blob, &big_id)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("its chunk {chunk}")), "{err}");
    let err = read_all(&store, Kind::Blob, &small_id)
        .unwrap_err()
        .to_string();
    assert!(err.contains("its content hashes to"), "{err}");
    let err = read_all(&store, Kind::Blob, &edited_id)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("its delta base {small_id} is damaged")),
        "{err}"
    );
}

/// A crafted pack entry (bytes that do not hash to the id it is filed under) can make a delta
/// name itself as its base; the read stops at the depth bound instead of recursing forever.
#[test]
fn a_delta_that_names_itself_stops_at_the_depth_bound() {
    use std::os::unix::fs::PermissionsExt;
    let (temp, store) = store();
    let content = rows(9, 200);
    let batch = store.batch();
    let id = batch.put_bytes(Kind::Blob, &content, None).unwrap();
    batch.finish().unwrap();
    let Some(Location::Packed {
        pack,
        offset,
        length,
    }) = store.locate(Kind::Blob, &id)
    else {
        panic!("packed");
    };
    let mut bytes = std::fs::read(&pack).unwrap();
    let object = &mut bytes[offset as usize..(offset + length) as usize];
    object[6] = 2; // encoding: delta
    object[16..48].copy_from_slice(&id.0); // base: itself
    object[48..52].copy_from_slice(&1u32.to_le_bytes()); // seq
    object[52] = 1; // depth
    std::fs::set_permissions(&pack, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&pack, bytes).unwrap();

    let store = Store::at(temp.path().to_path_buf());
    let err = read_all(&store, Kind::Blob, &id).unwrap_err().to_string();
    assert!(
        err.ends_with(&format!(
            "is corrupt: its delta base {id} is damaged: its delta chain is longer than {MAX_DEPTH} links"
        )),
        "{err}"
    );
}
