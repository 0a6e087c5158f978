//! Promise 4: `dv fsck` re-hashes every object and reports each damaged or missing one by id
//! and by the versions and paths it affects. One damaged workspace per failure mode.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dv::Hash;
use dv::store::{Kind, Location};
use insta::assert_snapshot;

use crate::common::TestEnv;

/// Two versions sharing `meta/README.md`; returns the object path of a blob by its content.
fn workspace_with_history(env: &TestEnv) {
    env.penguins();
    env.write("code/clean.py", "# clean\n");
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "species\nAdelie\n");
    env.ok(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--code",
        "code/clean.py",
    ]);
}

fn blob(content: &[u8]) -> Hash {
    Hash::of(content)
}

/// The pack a commit wrote its small objects to.
fn pack_holding(env: &TestEnv, kind: Kind, id: &Hash) -> PathBuf {
    match env.store().locate(kind, id) {
        Some(Location::Packed { pack, .. }) => pack,
        other => panic!("{id} is not packed: {other:?}"),
    }
}

fn writable(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_healthy_workspace_passes_and_stray_temp_files_do_not_matter() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    env.write(
        ".dv/objects/tmp/obj-leftover",
        "half-written by a killed commit",
    );
    assert_snapshot!(env.dv(&["fsck"]), @"
    ------- stderr -------
    Checked 10 objects (1.5 KiB) holding 2 versions.
    ");
}

#[test]
fn a_flipped_byte_in_a_shared_file_names_every_version_and_path() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    env.damage_object(Kind::Blob, &blob(b"# penguins\n"), 1);
    assert_snapshot!(env.dv(&["fsck"]), @"
    corrupt blob e791811acfd97ba0b1958b29e2b218265077f68542002b8f4a0268b41a41a7bb: its content hashes to aa6d066f7d5b0f04a3c39864dc246351dabe3d24f3fad648f1eceb24ae8af70b
      in a816d75717bc penguins@raw: meta/README.md
      in f1951d938657 penguins@cleaned: meta/README.md
    ------- stderr -------
    Checked 10 objects (1.4 KiB) holding 2 versions.
    error: The workspace has 1 problem
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
}

#[test]
fn a_missing_code_file_and_a_deleted_pack() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    let Some(Location::Loose(code)) = env.store().locate(Kind::Blob, &blob(b"# clean\n")) else {
        panic!("code files are stored as loose objects");
    };
    std::fs::remove_file(code).unwrap();
    let pack = pack_holding(&env, Kind::Blob, &blob(b"species\nAdelie\n"));
    std::fs::remove_file(&pack).unwrap();
    std::fs::remove_file(pack.with_extension("idx")).unwrap();
    let json = env.dv(&["fsck", "--json"]);
    assert_eq!(json.code, 1);
    assert_snapshot!(json.stdout, @r#"
    {
      "objects": 7,
      "bytes": 1296,
      "versions": 2,
      "findings": [
        {
          "problem": "missing",
          "kind": "blob",
          "id": "ad1a0596f06eebbf53ccc1abf9983c7dda92f5a563f15fe4af7442ebb412904e",
          "reason": "it is not in the store",
          "affects": [
            {
              "version": "f1951d938657645ec0946f2fb17d181a8d8a908d55ff472d64453991affb00fd",
              "dataset": "penguins",
              "stage": "cleaned",
              "path": "code:code/clean.py"
            }
          ]
        },
        {
          "problem": "missing",
          "kind": "tree",
          "id": "365ae28c7a1f451cfb64895dcda9bb2475643c281f70a391c96fa662eb617946",
          "reason": "it is not in the store",
          "affects": [
            {
              "version": "f1951d938657645ec0946f2fb17d181a8d8a908d55ff472d64453991affb00fd",
              "dataset": "penguins",
              "stage": "cleaned",
              "path": ""
            }
          ]
        }
      ],
      "dangling_tags": [],
      "damaged_tags": [],
      "broken_packs": []
    }
    "#);
}

#[test]
fn a_damaged_tree_and_a_dangling_tag() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    env.ok(&["tag", "penguins@raw", "gold"]);
    let raw = env.dv(&["show", "penguins@raw", "--json"]).json();
    let tree = raw["tree"].as_str().unwrap();
    env.damage_object(Kind::Tree, &Hash::from_hex(tree).unwrap(), 1);
    env.write(".dv/refs/tags/ghost", format!("{}\n", "ab".repeat(32)));
    assert_snapshot!(env.dv(&["fsck"]), @"
    corrupt tree 8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987: its compressed payload is damaged (Src size is incorrect)
      in a816d75717bc penguins@raw: (root)
    dangling tag ghost -> abababababababababababababababababababababababababababababababab
    ------- stderr -------
    Checked 10 objects (1.3 KiB) holding 2 versions.
    error: The workspace has 2 problems
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
}

#[test]
fn a_truncated_pack_is_reported_and_a_checkout_from_it_fails_cleanly() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    let raw = env.dv(&["show", "penguins@raw", "--json"]).json();
    let root = Hash::from_hex(raw["tree"].as_str().unwrap()).unwrap();
    // A commit appends its root tree last, so cutting the pack short damages only that tree.
    let pack = pack_holding(&env, Kind::Tree, &root);
    writable(&pack);
    let file = std::fs::OpenOptions::new().write(true).open(&pack).unwrap();
    file.set_len(file.metadata().unwrap().len() - 4).unwrap();
    assert_snapshot!(env.dv(&["fsck"]), @"
    corrupt tree 8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987: its pack file is shorter than its index says
      in a816d75717bc penguins@raw: (root)
    ------- stderr -------
    Checked 10 objects (1.3 KiB) holding 2 versions.
    error: The workspace has 1 problem
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
    assert_snapshot!(env.dv(&["checkout", "penguins@raw", "--to", "out"]), @"
    ------- stderr -------
    error: tree object 8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987 is corrupt: its pack file is shorter than its index says
    hint: The object store is damaged; restore .dv/objects from a backup or a remote copy.
    [exit status: 1]
    ");
    assert!(!env.root().join("out").exists());
}

#[test]
fn a_damaged_pack_index_is_rebuilt_from_its_pack() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    let pack = pack_holding(&env, Kind::Blob, &blob(b"# penguins\n"));
    let index = pack.with_extension("idx");
    let original = std::fs::read(&index).unwrap();
    writable(&index);
    let mut damaged = original.clone();
    damaged[60] ^= 1;
    std::fs::write(&index, damaged).unwrap();
    assert_snapshot!(env.dv(&["fsck"]), @"
    ------- stderr -------
    Checked 10 objects (1.5 KiB) holding 2 versions.
    ");
    assert_eq!(
        std::fs::read(&index).unwrap(),
        original,
        "index written back"
    );
    std::fs::remove_file(&index).unwrap();
    env.ok(&["checkout", "penguins@raw", "--to", "out"]);
    assert_eq!(env.read("out/meta/README.md"), b"# penguins\n");
    assert_eq!(
        std::fs::read(&index).unwrap(),
        original,
        "missing index rebuilt"
    );
}

#[test]
fn an_unreadable_pack_is_named_and_its_objects_are_missing() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    let pack = pack_holding(&env, Kind::Blob, &blob(b"species\nAdelie\n"));
    std::fs::remove_file(pack.with_extension("idx")).unwrap();
    writable(&pack);
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[0] = b'X';
    std::fs::write(&pack, bytes).unwrap();
    let name = pack.file_name().unwrap().to_str().unwrap().to_string();
    let out = env.dv(&["fsck"]).to_string().replace(&name, "<pack>");
    assert_snapshot!(out, @"
    missing tree 365ae28c7a1f451cfb64895dcda9bb2475643c281f70a391c96fa662eb617946: it is not in the store
      in f1951d938657 penguins@cleaned: (root)
    unreadable pack .dv/objects/pack/<pack>: it does not start with the dv pack header
    ------- stderr -------
    Checked 8 objects (1.3 KiB) holding 2 versions.
    error: The workspace has 2 problems
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
}
