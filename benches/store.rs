//! Micro-benchmarks of the pieces a commit is made of: hashing, packing small objects, reading
//! them back, and building trees; then a whole snapshot of many small files.
//!
//!     cargo bench --bench store
//!
//! Each case runs a few times and prints the best and the median run with a throughput. The
//! machine's limits for comparison: `b3sum` on one core and `zstd -3` are what hashing and
//! packing approach.
#![allow(clippy::disallowed_methods)] // fixtures are written with plain writes

use std::time::{Duration, Instant};

use dv::object::{Entry, EntryKind, Tree};
use dv::progress::NoProgress;
use dv::snapshot::{Mode, hash_file, snapshot};
use dv::store::{Kind, Store};
use dv::{Hash, Workspace};

/// Runs `case` `runs` times (after `setup` each time) and prints best and median.
fn bench<S>(
    name: &str,
    runs: usize,
    work: f64,
    unit: &str,
    mut setup: impl FnMut() -> S,
    mut case: impl FnMut(S),
) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let state = setup();
            let started = Instant::now();
            case(state);
            started.elapsed()
        })
        .collect();
    times.sort();
    let (best, median) = (times[0], times[runs / 2]);
    println!(
        "{name:<44} best {:>8.2} ms  median {:>8.2} ms  {:>10.1} {unit}",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        work / best.as_secs_f64()
    );
}

/// Deterministic text-like content (compresses like CSV) of `len` bytes.
fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(
            format!(
                "{},{},{:.3}\n",
                state % 1000,
                state % 7,
                (state % 100_000) as f64 / 7.0
            )
            .as_bytes(),
        );
    }
    out.truncate(len);
    out
}

fn main() {
    let temp = tempfile::tempdir().unwrap();

    // Hashing: blake3 over memory and over a file (what `b3sum` does).
    let big = text(1, 64 << 20);
    let mib = big.len() as f64 / (1 << 20) as f64;
    bench(
        "hash 64 MiB in memory",
        5,
        mib,
        "MiB/s",
        || (),
        |_| {
            std::hint::black_box(Hash::of(&big));
        },
    );
    let file = temp.path().join("big.csv");
    std::fs::write(&file, &big).unwrap();
    bench(
        "hash a 64 MiB file",
        5,
        mib,
        "MiB/s",
        || (),
        |_| {
            std::hint::black_box(hash_file(&file).unwrap());
        },
    );

    // Packing: 20,000 small compressible objects through one batch, then read back.
    let objects: Vec<Vec<u8>> = (0..20_000)
        .map(|i| text(i, 2_000 + (i as usize % 8) * 500))
        .collect();
    let packed_mib = objects.iter().map(Vec::len).sum::<usize>() as f64 / (1 << 20) as f64;
    let mut last_store = None;
    bench(
        "pack 20,000 small objects (one batch)",
        3,
        objects.len() as f64,
        "objects/s",
        || {
            let dir = tempfile::tempdir_in(temp.path()).unwrap();
            Store::create(dir.path()).unwrap();
            dir
        },
        |dir| {
            let store = Store::at(dir.path().to_path_buf());
            let batch = store.batch();
            std::thread::scope(|scope| {
                for half in objects.chunks(objects.len() / 2) {
                    let batch = &batch;
                    scope.spawn(move || {
                        for object in half {
                            batch.put_bytes(Kind::Blob, object, None).unwrap();
                        }
                    });
                }
            });
            batch.finish().unwrap();
            last_store = Some(dir);
        },
    );
    println!("{:<44} {packed_mib:.1} MiB of content", "");
    let dir = last_store.unwrap();
    let ids: Vec<Hash> = objects.iter().map(|o| Hash::of(o)).collect();
    bench(
        "read 20,000 packed objects back (verified)",
        3,
        ids.len() as f64,
        "objects/s",
        || Store::at(dir.path().to_path_buf()),
        |store| {
            for id in &ids {
                std::hint::black_box(store.get_bytes(Kind::Blob, id).unwrap());
            }
        },
    );

    // Tree building: 100 directories of 1,000 entries, sorted, encoded and hashed.
    let entries: Vec<Vec<Entry>> = (0..100u64)
        .map(|d| {
            (0..1_000u64)
                .rev()
                .map(|f| Entry {
                    name: format!("part-{d:03}-{f:05}.csv").into_bytes(),
                    kind: EntryKind::File,
                    id: Hash::of(&(d * 1_000 + f).to_le_bytes()),
                    size: f * 37,
                })
                .collect()
        })
        .collect();
    bench(
        "build 100 trees of 1,000 entries",
        5,
        100_000.0,
        "entries/s",
        || entries.clone(),
        |dirs| {
            for dir in dirs {
                let tree = Tree::new(dir, 0);
                std::hint::black_box(Hash::of(&tree.encode()));
            }
        },
    );

    // A whole snapshot: 20,000 small files in 40 directories, hashed (status of a new
    // directory), then again with the stat cache warm (status of an unchanged one).
    let ws_dir = temp.path().join("ws");
    let ws = Workspace::init(&ws_dir, None).unwrap();
    for i in 0..20_000u64 {
        let path = ws_dir.join(format!("data/d{:02}/f{i:05}.csv", i % 40));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text(i, 1_000)).unwrap();
    }
    let data = ws_dir.join("data");
    bench(
        "snapshot 20,000 files, outside the cache",
        3,
        20_000.0,
        "files/s",
        || (),
        |_| {
            std::hint::black_box(
                snapshot(&ws, &data, None, Mode::HashOnly, &[], &NoProgress).unwrap(),
            );
        },
    );
    // Let file times age past the stat cache's racy window, then fill the cache.
    std::thread::sleep(Duration::from_millis(2_100));
    snapshot(&ws, &data, Some("data"), Mode::HashOnly, &[], &NoProgress).unwrap();
    bench(
        "snapshot 20,000 unchanged files (warm cache)",
        5,
        20_000.0,
        "files/s",
        || (),
        |_| {
            std::hint::black_box(
                snapshot(&ws, &data, Some("data"), Mode::HashOnly, &[], &NoProgress).unwrap(),
            );
        },
    );
}
