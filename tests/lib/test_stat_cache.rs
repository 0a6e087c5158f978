//! The stat cache file: entries survive a round trip, loads are limited to a path, and a
//! damaged file is an empty cache (files are hashed again), never a wrong one.

use std::os::unix::fs::PermissionsExt;

use dv::Hash;
use dv::index::CacheEntry;
use dv::index::stat_cache::CacheView;

fn entry(n: u8, stored: bool) -> CacheEntry {
    CacheEntry {
        size: u64::from(n) * 1000,
        mtime_ns: -5,
        ctime_ns: 1_700_000_000_000_000_000 + i64::from(n),
        ino: u64::MAX - u64::from(n),
        mode: 0o100644,
        hash: Hash([n; 32]),
        cached_at_ns: 42,
        stored,
    }
}

/// The paths of a loaded view, in the order it yields them (which must be sorted).
fn paths(view: &CacheView) -> Vec<String> {
    let paths: Vec<String> = view
        .iter()
        .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert!(paths.is_sorted(), "{paths:?}");
    paths
}

fn get(view: &CacheView, rel: &[u8]) -> CacheEntry {
    view.iter().find(|(p, _)| *p == rel).unwrap().1
}

#[test]
fn entries_round_trip_and_loads_stay_below_their_path() {
    let (_temp, ws) = crate::workspace();
    let cache = crate::index(&ws).stat_cache();
    assert!(cache.load(b"").unwrap().is_empty(), "no file yet");
    let upserts: Vec<(Vec<u8>, CacheEntry)> = [
        ("data/a.csv", 1),
        ("data/sub/b.csv", 2),
        ("data-other/c.csv", 3),
        ("dataset.csv", 4),
        ("data", 5),
    ]
    .iter()
    .map(|(p, n)| (p.as_bytes().to_vec(), entry(*n, *n % 2 == 0)))
    .collect();
    cache.apply(&upserts, &[]).unwrap();
    let all = cache.load(b"").unwrap();
    assert_eq!(all.len(), 5);
    for (path, e) in &upserts {
        assert_eq!(get(&all, path), *e);
    }
    // Keys are relative to the loaded path; the path itself is "".
    assert_eq!(
        paths(&cache.load(b"data").unwrap()),
        ["", "a.csv", "sub/b.csv"]
    );
    assert_eq!(paths(&cache.load(b"data/sub").unwrap()), ["b.csv"]);
    assert_eq!(paths(&cache.load(b"dataset.csv").unwrap()), [""]);

    cache
        .apply(
            &[(b"data/a.csv".to_vec(), entry(9, true))],
            &[b"data/sub/b.csv".to_vec()],
        )
        .unwrap();
    let data = cache.load(b"data").unwrap();
    assert_eq!(paths(&data), ["", "a.csv"]);
    assert_eq!(get(&data, b"a.csv"), entry(9, true));

    // Removing and re-adding one path in one call keeps the new entry; removing a path that
    // is not there, or adding before the first and after the last, keeps the order.
    cache
        .apply(
            &[
                (b"zzz.csv".to_vec(), entry(7, true)),
                (b"a.csv".to_vec(), entry(6, false)),
                (b"data/a.csv".to_vec(), entry(8, false)),
            ],
            &[b"data/a.csv".to_vec(), b"nowhere".to_vec()],
        )
        .unwrap();
    let all = cache.load(b"").unwrap();
    assert_eq!(
        paths(&all),
        [
            "a.csv",
            "data",
            "data-other/c.csv",
            "data/a.csv",
            "dataset.csv",
            "zzz.csv"
        ]
    );
    assert_eq!(get(&all, b"data/a.csv"), entry(8, false));
}

#[test]
fn a_damaged_or_truncated_cache_file_is_an_empty_cache() {
    let (temp, ws) = crate::workspace();
    let cache = crate::index(&ws).stat_cache();
    cache
        .apply(&[(b"data/a.csv".to_vec(), entry(1, true))], &[])
        .unwrap();
    let file = temp.path().join(".dv/stat-cache");
    let original = std::fs::read(&file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for damage in [
        |b: &mut Vec<u8>| b[30] ^= 1,
        |b: &mut Vec<u8>| b.truncate(b.len() - 1),
        |b: &mut Vec<u8>| b[4] = 9,
        |b: &mut Vec<u8>| b.clear(),
    ] {
        let mut bytes = original.clone();
        damage(&mut bytes);
        std::fs::write(&file, bytes).unwrap();
        assert!(cache.load(b"").unwrap().is_empty());
    }
    // Writing over a damaged file starts a fresh one.
    cache
        .apply(&[(b"data/b.csv".to_vec(), entry(2, false))], &[])
        .unwrap();
    assert_eq!(paths(&cache.load(b"").unwrap()), ["data/b.csv"]);
}

/// The racy-clean rule, directly: a file rewritten with the same size within the same clock
/// tick as the stat behind its entry has identical metadata, so only the timestamp margin keeps
/// the cache from vouching for stale content. (On a nanosecond filesystem the CLI cannot
/// produce such a rewrite on purpose, so the rule is tested here.)
#[test]
fn an_entry_taken_in_the_same_tick_as_the_files_mtime_never_vouches() {
    use dv::index::FileStat;
    use dv::index::stat_cache::RACY_MARGIN_NS;
    let tick = 1_700_000_000_000_000_000i64;
    let stat = FileStat {
        size: 10,
        mtime_ns: tick,
        ctime_ns: tick,
        ino: 42,
        mode: 0o100644,
    };
    let hash = dv::Hash::of(b"old content");
    // Taken in the very tick the file was written: the same-size rewrite that follows in that
    // tick leaves `stat` unchanged, so the entry must not be believed.
    let same_tick = CacheEntry::new(&stat, hash, tick, true);
    assert!(!same_tick.vouches_for(&stat));
    // Still racy right up to the margin.
    let at_margin = CacheEntry::new(&stat, hash, tick + RACY_MARGIN_NS, true);
    assert!(!at_margin.vouches_for(&stat));
    // Taken well after the last write: trusted while nothing about the file changes...
    let settled = CacheEntry::new(&stat, hash, tick + RACY_MARGIN_NS + 1, true);
    assert!(settled.vouches_for(&stat));
    // ...and not once any of size, mtime, ctime, inode or mode differs.
    for changed in [
        FileStat { size: 11, ..stat },
        FileStat {
            mtime_ns: tick + 1,
            ..stat
        },
        FileStat {
            ctime_ns: tick + 1,
            ..stat
        },
        FileStat { ino: 43, ..stat },
        FileStat {
            mode: 0o100755,
            ..stat
        },
    ] {
        assert!(!settled.vouches_for(&changed), "{changed:?}");
    }
}
