//! Promise 5 and the integrity chain: what a hostile or unlucky world does to a workspace, each
//! case found by trying it, fixed, and pinned here.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::common::TestEnv;

/// Sets a file's modification time `secs` seconds into the past.
fn age(path: &Path, secs: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn a_blob_missing_from_the_store_is_stored_again_not_assumed() {
    let env = TestEnv::new();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    env.write("data/big.bin", &big);
    // Old enough that the stat cache vouches for it on the next commit.
    age(&env.root().join("data/big.bin"), 60);
    env.ok(&["commit", "data", "-d", "big", "-s", "raw"]);
    let blob = dv::Hash::of(&big);
    // The file's chunk list and its chunks are packed with its tree.
    let pack = match env.store().locate(dv::store::Kind::Blob, &blob).unwrap() {
        dv::store::Location::Packed { pack, .. } => pack,
        other => panic!("a 3 MB blob is packed as chunks, found {other:?}"),
    };
    std::fs::remove_file(&pack).unwrap();
    std::fs::remove_file(pack.with_extension("idx")).unwrap();

    env.ok(&["commit", "data", "-d", "big", "-s", "cleaned"]);
    assert!(
        env.store().has(dv::store::Kind::Blob, &blob),
        "the second commit stored the blob again"
    );
    let fsck = env.dv(&["fsck", "--json"]);
    assert_eq!(fsck.code, 0, "{fsck}");
    env.ok(&["checkout", "big@cleaned", "--to", "../out"]);
    assert_eq!(std::fs::read(env.base().join("out/big.bin")).unwrap(), big);
}

#[test]
fn a_lock_file_that_never_ends_is_refused_at_once() {
    let env = TestEnv::new();
    std::os::unix::fs::symlink("/dev/zero", env.root().join("dv.lock")).unwrap();
    let out = env.finishes(&["pin", "--list"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "error: Invalid lock file $TEST_ENV/ws/dv.lock: it is a device, not a regular file\n"
        ),
        "{}",
        out.stderr
    );

    std::fs::remove_file(env.root().join("dv.lock")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(env.root().join("dv.lock"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let out = env.finishes(&["verify"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("it is a named pipe, not a regular file"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_huge_lock_file_is_refused_without_reading_it_all() {
    let env = TestEnv::new();
    let file = std::fs::File::create(env.root().join("dv.lock")).unwrap();
    file.set_len(17 << 20).unwrap();
    let out = env.dv(&["pin", "--list"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "error: Invalid lock file $TEST_ENV/ws/dv.lock: it is larger than 16777216 bytes, more than a lock file can be\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_damaged_tag_is_an_error_and_is_not_overwritten() {
    let env = TestEnv::new();
    env.penguins();
    let id = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.ok(&["tag", &id, "release"]);
    let tag_file = env.root().join(".dv/refs/tags/release");
    std::fs::write(&tag_file, "not an id\n").unwrap();
    let out = env.dv(&["tag", &id, "release"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        out.stderr,
        "error: Tag file $TEST_ENV/ws/.dv/refs/tags/release is damaged: it does not hold a version id\n\
         hint: Restore the file from a backup, or delete $TEST_ENV/ws/.dv/refs/tags/release to drop the tag.\n"
    );
    assert_eq!(std::fs::read_to_string(&tag_file).unwrap(), "not an id\n");
    let fsck = env.dv(&["fsck"]);
    assert_eq!(fsck.code, 1);
    assert_eq!(
        fsck.stdout,
        "damaged tag file $TEST_ENV/ws/.dv/refs/tags/release\n"
    );
    // Readers still work; the index keeps the last good value until the file is fixed.
    assert_eq!(env.dv(&["log", "--json"]).code, 0);
}

#[test]
fn dvignore_files_above_the_workspace_do_not_apply() {
    let env = TestEnv::bare();
    // A .dvignore outside the workspace (in the directory holding it) ignoring every CSV.
    std::fs::write(env.base().join(".dvignore"), "*.csv\n").unwrap();
    env.ok(&["init"]);
    env.penguins();
    env.write(".dvignore", "*.md\n");
    let out = env.dv(&["commit", "data", "-d", "penguins", "-s", "raw", "--json"]);
    assert_eq!(out.code, 0, "{out}");
    // penguins.csv and columns.json are kept; README.md is ignored by the workspace's file.
    assert_eq!(out.json()["files"], 2);
}

#[test]
fn integers_beyond_64_bits_are_kept_exact() {
    let env = TestEnv::new();
    env.penguins();
    let out = env.dv(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "raw",
        "--param",
        "seed=123456789012345678901234567890",
        "--param",
        "max=18446744073709551615",
        "--param",
        "min=-9223372036854775808",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stderr,
        "warning: --param seed=123456789012345678901234567890: 123456789012345678901234567890 does not fit in 64 bits, so the value is kept as a string\n"
    );
    let shown = env.dv(&["show", "penguins", "--json"]).json();
    assert_eq!(
        shown["params"],
        serde_json::json!({
            "max": 18446744073709551615u64,
            "min": -9223372036854775808i64,
            "seed": "123456789012345678901234567890"
        })
    );

    env.write("params.json", r#"{"ids": [1, 98765432109876543210]}"#);
    let out = env.dv(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--params-file",
        "params.json",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: Params file params.json holds the integer 98765432109876543210, which does not fit in 64 bits and would be stored inexactly\n\
         hint: Quote it to keep it exact as a string, for example \"12345678901234567890123\".\n"
    );
}

#[test]
fn an_invalid_lock_timeout_is_an_error() {
    let env = TestEnv::new();
    env.penguins();
    let out = env.dv_env(
        &[("DV_LOCK_TIMEOUT_MS", "soon")],
        &["commit", "data", "-d", "penguins", "-s", "raw"],
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: Invalid DV_LOCK_TIMEOUT_MS=\"soon\": expected a whole number of milliseconds\n"
    );
}

#[test]
fn a_held_lock_makes_writers_answer_busy_naming_the_holder() {
    let env = TestEnv::new();
    env.penguins();
    let lock_path = env.root().join(".dv/lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(&lock_path, "pid 4242: dv commit data -d\n").unwrap();
    let started = Instant::now();
    let out = env.dv_env(
        &[("DV_LOCK_TIMEOUT_MS", "300")],
        &["commit", "data", "-d", "penguins", "-s", "raw"],
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.code, 75, "{out}");
    assert_eq!(
        out.stderr,
        "error: The workspace is busy: another dv process (pid 4242: dv commit data -d) holds $TEST_ENV/ws/.dv/lock\n\
         hint: Another dv command is writing to this workspace; retry when it has finished.\n"
    );
    lock.unlock().unwrap();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
}

#[test]
fn temporary_files_left_by_killed_processes_are_cleaned_after_a_grace_period() {
    let env = TestEnv::new();
    env.penguins();
    let tmp = env.root().join(".dv/objects/tmp");
    let stale = [tmp.join("obj-stale"), env.root().join(".dv/.dv-tmp-stale")];
    let fresh = [tmp.join("obj-fresh"), env.root().join(".dv/.dv-tmp-fresh")];
    for path in stale.iter().chain(&fresh) {
        std::fs::write(path, "left behind").unwrap();
    }
    for path in &stale {
        age(path, 2 * 24 * 3600);
    }
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    for path in &stale {
        assert!(!path.exists(), "{} was cleaned", path.display());
    }
    for path in &fresh {
        assert!(path.exists(), "{} (maybe in use) was kept", path.display());
    }
}

#[test]
fn an_index_row_that_does_not_hash_to_its_id_is_not_believed() {
    let env = TestEnv::new();
    env.penguins();
    let id = env.id(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "raw",
        "-m",
        "the truth",
    ]);
    let conn = rusqlite::Connection::open(env.root().join(".dv/index.sqlite")).unwrap();
    let changed = conn
        .execute(
            "UPDATE versions SET json = replace(json, 'the truth', 'a lie') WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let shown = env.dv(&["show", &id, "--json"]).json();
    assert_eq!(shown["message"], "the truth");
    let log = env.dv(&["log", "--json"]).json();
    assert_eq!(log[0]["message"], "the truth");
    // Readers write nothing; the next writing command rewrites the row from the object.
    env.ok(&["tag", &id, "checked"]);
    let conn = rusqlite::Connection::open(env.root().join(".dv/index.sqlite")).unwrap();
    let json: String = conn
        .query_row("SELECT json FROM versions WHERE id = ?1", [&id], |row| {
            row.get(0)
        })
        .unwrap();
    assert!(json.contains("the truth"), "{json}");
}

#[test]
fn a_pin_path_through_a_symlink_that_data_made_is_refused() {
    let env = TestEnv::new();
    let outside = env.base().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // Data that holds a link pointing out of the workspace, checked out by a pin.
    env.write("evil/readme.txt", "harmless\n");
    std::os::unix::fs::symlink(&outside, env.root().join("evil/escape")).unwrap();
    let evil = env.id(&["commit", "evil", "-d", "evil", "-s", "raw"]);
    env.ok(&["pin", &evil, "--as", "first", "--path", "pinned"]);
    env.ok(&["materialize"]);
    assert!(
        std::fs::symlink_metadata(env.root().join("pinned/escape"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    env.penguins();
    let good = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    // A lock file (from elsewhere) pins data below that link.
    let mut lock: serde_json::Value = serde_json::from_slice(&env.read("dv.lock")).unwrap();
    let mut second = lock["pins"][0].clone();
    second["name"] = "second".into();
    second["dataset"] = "penguins".into();
    second["id"] = good.clone().into();
    second["tree"] = env.dv(&["show", &good, "--json"]).json()["tree"].clone();
    second["path"] = "pinned/escape/stolen".into();
    lock["pins"].as_array_mut().unwrap().push(second);
    std::fs::write(env.root().join("dv.lock"), lock.to_string()).unwrap();

    let out = env.dv(&["materialize", "second"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        out.stderr,
        "error: Path $TEST_ENV/ws/pinned/escape is a symlink, expected a directory\n\
         hint: Move it out of the way, or choose another directory.\n"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
}

/// Every file below `dir` with its bytes, for proving nothing was written.
fn contents(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn set_writable(dir: &Path, writable: bool) {
    let mode = if writable { "u+w" } else { "a-w" };
    let status = std::process::Command::new("chmod")
        .args(["-R", mode])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn readers_work_on_a_read_only_workspace_and_write_nothing() {
    let env = TestEnv::new();
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "species\nAdelie\n");
    env.ok(&[
        "commit", "data", "-d", "penguins", "-s", "cleaned", "--from", &raw,
    ]);
    env.ok(&["tag", &raw, "first"]);
    env.ok(&["pin", &raw, "--as", "train", "--path", "train"]);
    env.ok(&["materialize"]);
    let readers: [&[&str]; 9] = [
        &["log", "--json"],
        &["show", "first", "--files"],
        &["lineage", "penguins@cleaned"],
        &["diff", "penguins@raw", "penguins@cleaned"],
        &["diff", "penguins@raw"],
        &["status"],
        &["verify"],
        &["which", "data/meta/README.md"],
        &["resolve", "first"],
    ];
    // Three states: a current index; no index at all; a crash that left a version pending.
    for state in ["current", "no index", "pending"] {
        match state {
            "no index" => std::fs::remove_file(env.root().join(".dv/index.sqlite")).unwrap(),
            "pending" => {
                std::fs::write(env.root().join(".dv/pending-version"), format!("{raw}\n")).unwrap()
            }
            _ => {}
        }
        set_writable(&env.root(), false);
        let before = contents(&env.root());
        for args in readers {
            let out = env.dv_unprivileged(args);
            assert_eq!(
                out.code, 0,
                "dv {args:?} on a read-only workspace ({state}):\n{out}"
            );
        }
        assert_eq!(
            contents(&env.root()),
            before,
            "readers wrote nothing ({state})"
        );
        set_writable(&env.root(), true);
    }
    // The log a reader builds in memory equals the one the next writer rebuilds on disk.
    let from_memory = env.dv_unprivileged(&["log", "--json"]).json();
    env.ok(&["reindex"]);
    assert_eq!(env.dv(&["log", "--json"]).json(), from_memory);
    assert_eq!(from_memory.as_array().unwrap().len(), 2);
}
