//! Promise 2, proven at every step of publishing: dv is made to die (abort, as `kill -9` or a
//! power cut would leave it) at each named crash point, and the workspace must then be
//! consistent: fsck clean, every listed version checks out exactly, the next command works, and
//! leftover temporary files are cleaned. A point that was not reached fails the test, so no
//! case passes by luck. Also: disk full (ENOSPC) and I/O errors at the same points.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

use dv::failpoint::POINTS;

use crate::common::TestEnv;
use crate::describe::describe;

type Tree = BTreeMap<Vec<u8>, (char, Vec<u8>, bool)>;

/// Data with a chunked large file, packed small files, a symlink and an executable; for the
/// point after a batch's loose objects are renamed also a directory listing too large to pack
/// (slow to make, so only there).
fn dataset(env: &TestEnv, seed: u8, point: &str) {
    if point.starts_with("batch.loose") {
        wide_directory(env, seed);
    }
    let big: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect();
    env.write("data/big.bin", big);
    for i in 0..20 {
        env.write(
            &format!("data/small/{i}.txt"),
            format!("row {i} seed {seed}\n"),
        );
    }
    env.write("data/run.sh", format!("#!/bin/sh\necho {seed}\n"));
    env.chmod_x("data/run.sh");
    let link = env.root().join("data/latest");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("small/0.txt", link).unwrap();
}

/// 3,800 files with long names of arbitrary bytes and distinct contents: a tree of over
/// 1 MiB that zstd cannot shrink, stored loose. A file named by the seed makes each
/// dataset's tree differ.
fn wide_directory(env: &TestEnv, seed: u8) {
    let wide = env.root().join("data/wide");
    let _ = std::fs::remove_dir_all(&wide);
    std::fs::create_dir_all(&wide).unwrap();
    let mut state = 0x2545f4914f6cdd1du64;
    for i in 0..3800 {
        let name: Vec<u8> = (0..250)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match (state >> 24) as u8 {
                    0 | b'/' => b'_',
                    byte => byte,
                }
            })
            .collect();
        std::fs::write(wide.join(std::ffi::OsStr::from_bytes(&name)), i.to_string()).unwrap();
    }
    std::fs::write(wide.join(format!("seed-{seed}")), b"").unwrap();
}

/// Which command passes a crash point.
fn scenario(point: &str) -> &'static str {
    match point.split('.').next().unwrap() {
        "checkout" => "checkout",
        "tag" => "tag",
        "lock-file" | "consumers" => "pin",
        _ => "commit",
    }
}

/// Asserts the workspace is consistent: fsck clean, each listed version checks out to exactly
/// one of the expected trees, and returns the ids listed.
fn assert_consistent(env: &TestEnv, point: &str, expected: &[&Tree]) -> Vec<String> {
    let fsck = env.dv(&["fsck"]);
    assert_eq!(fsck.code, 0, "fsck after a crash at {point}:\n{fsck}");
    let log = env.dv(&["log", "--json"]);
    assert_eq!(log.code, 0, "log after a crash at {point}:\n{log}");
    let ids: Vec<String> = log
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        let out_dir = env.base().join("verify");
        let _ = std::fs::remove_dir_all(&out_dir);
        let out = env.dv(&["checkout", id, "--to", "../verify"]);
        assert_eq!(out.code, 0, "checkout after a crash at {point}:\n{out}");
        let got = describe(&out_dir);
        assert!(
            expected.contains(&&got),
            "version {id} after a crash at {point} is not one that was committed"
        );
    }
    ids
}

/// Ages every temporary file dv may have left, so the next write may clean it.
fn age_leftovers(env: &TestEnv) -> Vec<std::path::PathBuf> {
    let mut left = Vec::new();
    for dir in [".dv/objects/tmp", ".dv", ".dv/refs/tags"] {
        for entry in std::fs::read_dir(env.root().join(dir)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let temp = dir == ".dv/objects/tmp" || name.starts_with(".dv-tmp-");
            if temp && entry.file_type().unwrap().is_file() {
                let file = std::fs::File::options()
                    .write(true)
                    .open(entry.path())
                    .unwrap();
                file.set_modified(SystemTime::now() - Duration::from_secs(3 * 24 * 3600))
                    .unwrap();
                left.push(entry.path());
            }
        }
    }
    left
}

#[test]
fn every_crash_point_is_in_the_sources() {
    let mut sources = String::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                sources += &std::fs::read_to_string(path).unwrap();
            }
        }
    }
    for point in POINTS {
        let (what, step) = point.split_once('.').unwrap();
        let direct = format!("hit(\"{what}\", \"{step}\")");
        // Points of the publish primitives are named by the files they publish (and, for files
        // published together, by the step each file names).
        let published = format!("\"{what}\"");
        let own_step = format!("\"{step}\"");
        let via_publish = (["written", "synced", "renamed"].contains(&step)
            || sources.contains(&own_step))
            && sources.contains(&published);
        assert!(
            sources.contains(&direct) || via_publish,
            "crash point {point} is not passed anywhere"
        );
    }
}

#[test]
fn a_crash_at_any_point_leaves_a_consistent_workspace() {
    for point in POINTS {
        let env = TestEnv::new();
        dataset(&env, 1, point);
        let first = env.id(&["commit", "data", "-d", "bulk", "-s", "raw"]);
        let one = describe(&env.root().join("data"));
        dataset(&env, 2, point);
        let two = describe(&env.root().join("data"));
        let crash = [("DV_FAILPOINT", *point)];
        let out = match scenario(point) {
            "commit" => env.dv_env(&crash, &["commit", "data", "-d", "bulk", "-s", "cleaned"]),
            "tag" => env.dv_env(&crash, &["tag", &first, "release"]),
            "pin" => env.dv_env(
                &crash,
                &["pin", &first, "--as", "train", "--path", "pinned"],
            ),
            _ => {
                env.ok(&["commit", "data", "-d", "bulk", "-s", "cleaned"]);
                env.dv_env(&crash, &["checkout", &first])
            }
        };
        // -1: killed by a signal. Anything else means the point was never reached.
        assert_eq!(out.code, -1, "dv did not crash at {point}:\n{out}");

        let ids = assert_consistent(&env, point, &[&one, &two]);
        assert!(ids.contains(&first), "the earlier version survives {point}");
        let leftovers = age_leftovers(&env);
        // The interrupted command, run again, completes.
        match scenario(point) {
            "commit" => {
                env.ok(&["commit", "data", "-d", "bulk", "-s", "cleaned"]);
                env.ok(&["checkout", "bulk@cleaned", "--to", "../again"]);
                assert_eq!(describe(&env.base().join("again")), two, "{point}");
            }
            "tag" => {
                env.ok(&["tag", &first, "release"]);
                env.ok(&["checkout", "release", "--to", "../again"]);
                assert_eq!(describe(&env.base().join("again")), one, "{point}");
            }
            "pin" => {
                env.ok(&["pin", &first, "--as", "train", "--path", "pinned"]);
                env.ok(&["materialize"]);
                env.ok(&["verify"]);
            }
            _ => {
                env.ok(&["checkout", &first]);
                assert_eq!(describe(&env.root().join("data")), one, "{point}");
            }
        }
        env.ok(&["commit", "data", "-d", "bulk", "-s", "labeled"]);
        for path in leftovers {
            assert!(
                !path.exists(),
                "{} left by a crash at {point} was cleaned",
                path.display()
            );
        }
        assert_eq!(env.dv(&["fsck"]).code, 0, "final fsck after {point}");
    }
}

#[test]
fn a_full_or_failing_disk_fails_the_commit_cleanly() {
    let commit_points = POINTS.iter().filter(|p| scenario(p) == "commit");
    for point in commit_points {
        for error in ["enospc", "eio"] {
            let env = TestEnv::new();
            dataset(&env, 1, point);
            let first = env.id(&["commit", "data", "-d", "bulk", "-s", "raw"]);
            dataset(&env, 2, point);
            let spec = format!("{point}={error}");
            let out = env.dv_env(
                &[("DV_FAILPOINT", &spec)],
                &["commit", "data", "-d", "bulk", "-s", "cleaned"],
            );
            let message = if error == "enospc" {
                "No space left on device"
            } else {
                "Input/output error"
            };
            assert_eq!(out.code, 1, "{spec}: {out}");
            assert!(out.stderr.contains(message), "{spec}: {out}");
            let one = {
                env.ok(&["checkout", &first, "--to", "../first"]);
                describe(&env.base().join("first"))
            };
            let two = describe(&env.root().join("data"));
            let ids = assert_consistent(&env, &spec, &[&one, &two]);
            assert!(ids.contains(&first));
            // Nothing half-written stays: the failed command's temporary files are gone.
            let tmp: Vec<_> = std::fs::read_dir(env.root().join(".dv/objects/tmp"))
                .unwrap()
                .collect();
            assert!(tmp.is_empty(), "{spec} left {tmp:?}");
            env.ok(&["commit", "data", "-d", "bulk", "-s", "cleaned"]);
            assert_eq!(env.dv(&["fsck"]).code, 0);
        }
    }
}
