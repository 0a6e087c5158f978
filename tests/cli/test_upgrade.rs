//! A workspace written by the previous release (format 2: whole files, trees with hex
//! hashes) is read as it is, checks out byte for byte, and grows in the new format.
//!
//! `tests/fixtures/format2-workspace` is the `.dv` of a workspace made by dv at commit 8067560
//! (`DV_AUTHOR=fixture DV_HOST=fixture-host`): `data/` as `big_csv(40_000)`, `a.txt` "alpha",
//! `b.txt` "bravo", committed as fixture@raw and tagged `first`; then `big_csv(41_000)` and
//! `a.txt` "alpha beta" committed again.

use std::path::Path;

use crate::common::TestEnv;
use crate::describe::describe;

const FIRST: &str = "bff3dd4af272c78e49798abc045e060f3dde0958ccc6cfb1fb14fa4a80719cec";
const SECOND: &str = "47b00e971930fbcf7e4f1bd1c80da3fb70bd91a0befe6c952c8e7fbc44390aa9";

/// The fixture's large file: over 1 MiB, so the old format stored it as one loose object.
fn big_csv(rows: usize) -> Vec<u8> {
    (0..rows)
        .flat_map(|i| format!("{i:08},alpha,beta,gamma,delta\n").into_bytes())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A workspace holding the fixture's `.dv` as the old release left it (git keeps no empty
/// directories, so the ones it created are made here).
fn old_workspace() -> TestEnv {
    let env = TestEnv::bare();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format2-workspace");
    let dv_dir = env.root().join(".dv");
    copy_dir(&fixture, &dv_dir);
    for dir in ["blob", "tree", "version", "pack", "tmp"] {
        std::fs::create_dir_all(dv_dir.join("objects").join(dir)).unwrap();
    }
    env
}

fn expected(rows: usize, a: &str) -> std::collections::BTreeMap<Vec<u8>, (char, Vec<u8>, bool)> {
    let env = TestEnv::bare();
    env.write("x/big.csv", big_csv(rows));
    env.write("x/small/a.txt", a);
    env.write("x/small/b.txt", "bravo\n");
    describe(&env.root().join("x"))
}

#[test]
fn a_format_2_workspace_is_read_as_it_is_and_upgraded_by_the_first_write() {
    let env = old_workspace();
    let config = env.root().join(".dv/config.json");
    let log = env.dv(&["log", "--json"]);
    assert_eq!(log.code, 0, "{log}");
    let ids: Vec<&str> = log
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .map(|id| if id == FIRST { FIRST } else { SECOND })
        .collect();
    assert_eq!(ids, [SECOND, FIRST]);
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("\"format\": 2")
    );

    let fsck = env.dv(&["fsck"]);
    assert_eq!(fsck.code, 0, "{fsck}");
    env.ok(&["checkout", "first", "--to", "../one"]);
    assert_eq!(
        describe(&env.base().join("one")),
        expected(40_000, "alpha\n")
    );
    env.ok(&["checkout", SECOND, "--to", "data"]);
    assert_eq!(
        describe(&env.root().join("data")),
        expected(41_000, "alpha beta\n")
    );

    // The same content committed again is the same version, although the new tree format
    // gives its tree another id.
    let again = env.dv(&["commit", "data", "-d", "fixture", "-s", "raw", "--json"]);
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(again.json()["id"], SECOND);
    let upgraded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(upgraded["format"], 3);

    // New versions are written in the new format on top of the old objects.
    env.write("data/big.csv", big_csv(42_000));
    env.write("data/small/a.txt", "alpha beta gamma\n");
    let third = env.id(&["commit", "data", "-d", "fixture", "-s", "raw"]);
    let store = env.store();
    let big = dv::Hash::of(&big_csv(42_000));
    assert!(
        store.chunk_list(&big).unwrap().is_some(),
        "the new version is chunked"
    );
    let a = dv::Hash::of(b"alpha beta gamma\n");
    assert!(store.has(dv::store::Kind::Blob, &a));
    env.write("data/big.csv", big_csv(43_000));
    let fourth = env.id(&["commit", "data", "-d", "fixture", "-s", "raw"]);
    let fsck = env.dv(&["fsck"]);
    assert_eq!(fsck.code, 0, "{fsck}");
    for (id, rows, a) in [
        (FIRST, 40_000, "alpha\n"),
        (SECOND, 41_000, "alpha beta\n"),
        (third.as_str(), 42_000, "alpha beta gamma\n"),
        (fourth.as_str(), 43_000, "alpha beta gamma\n"),
    ] {
        let out = env.base().join("out");
        let _ = std::fs::remove_dir_all(&out);
        env.ok(&["checkout", id, "--to", "../out"]);
        assert_eq!(describe(&out), expected(rows, a), "{id}");
    }
    let diff = env.dv(&["diff", FIRST, &fourth]);
    assert_eq!(diff.code, 0, "{diff}");
    assert_eq!(
        diff.stdout,
        "M  big.csv      1.2 MiB → 1.3 MiB\nM  small/a.txt  6 B → 17 B\n"
    );
}

#[test]
fn an_upgrade_that_cannot_be_written_is_reported_and_reading_still_works() {
    let env = old_workspace();
    // The disk fails while the upgraded config is written.
    let failing = [("DV_FAILPOINT", "config.synced=eio")];
    let write = env.dv_env(&failing, &["tag", FIRST, "again"]);
    assert_eq!(write.code, 1, "{write}");
    assert!(
        write.stderr.contains(
            "error: Invalid workspace config $TEST_ENV/ws/.dv/config.json: upgrading the \
             workspace from format 2 to 3 failed: "
        ),
        "{write}"
    );
    // Nothing was tagged, the config still says format 2, and reading works as before.
    let config: serde_json::Value = serde_json::from_slice(&env.read(".dv/config.json")).unwrap();
    assert_eq!(config["format"], 2);
    let read = env.dv_env(&failing, &["log", "--json"]);
    assert_eq!(read.code, 0, "{read}");
    assert_eq!(read.json().as_array().unwrap().len(), 2, "{read}");
    assert!(!env.root().join(".dv/refs/tags/again").exists());
}
