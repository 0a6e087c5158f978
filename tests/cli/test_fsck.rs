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
    Checked 16 objects (2.9 KiB) holding 2 versions.
    ");
}

#[test]
fn a_flipped_byte_in_a_shared_file_names_every_version_and_path() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    env.damage_object(Kind::Blob, &blob(b"# penguins\n"), 1);
    assert_snapshot!(env.dv(&["fsck"]), @"
    corrupt blob e791811acfd97ba0b1958b29e2b218265077f68542002b8f4a0268b41a41a7bb: its content hashes to aa6d066f7d5b0f04a3c39864dc246351dabe3d24f3fad648f1eceb24ae8af70b
      in 726fc6e304c3 penguins@cleaned: meta/README.md
      in c0c7a3aed35f penguins@raw: meta/README.md
    ------- stderr -------
    Checked 16 objects (2.9 KiB) holding 2 versions.
    error: The workspace has 1 problem
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
}

#[test]
fn a_missing_code_file_and_a_deleted_pack() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    // A commit's code files are packed together, apart from its data.
    let code = pack_holding(&env, Kind::Blob, &blob(b"# clean\n"));
    std::fs::remove_file(&code).unwrap();
    std::fs::remove_file(code.with_extension("idx")).unwrap();
    let pack = pack_holding(&env, Kind::Blob, &blob(b"species\nAdelie\n"));
    std::fs::remove_file(&pack).unwrap();
    std::fs::remove_file(pack.with_extension("idx")).unwrap();
    let json = env.dv(&["fsck", "--json"]);
    assert_eq!(json.code, 1);
    assert_snapshot!(json.stdout, @r#"
    {
      "objects": 13,
      "bytes": 2861,
      "versions": 2,
      "findings": [
        {
          "problem": "missing",
          "kind": "blob",
          "id": "ad1a0596f06eebbf53ccc1abf9983c7dda92f5a563f15fe4af7442ebb412904e",
          "reason": "it is not in the store",
          "affects": [
            {
              "version": "726fc6e304c30b7a35c8746e5d4a2cc1d09b35542df4ab5f5d22d955b35a78f9",
              "dataset": "penguins",
              "stage": "cleaned",
              "path": "code:code/clean.py"
            }
          ]
        },
        {
          "problem": "missing",
          "kind": "tree",
          "id": "06d72fb0be507fe0fe76c4d96f2a8ef33abc496e951ecc17e8da97245e61b053",
          "reason": "it is not in the store",
          "affects": [
            {
              "version": "726fc6e304c30b7a35c8746e5d4a2cc1d09b35542df4ab5f5d22d955b35a78f9",
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
    corrupt tree 123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6: its content hashes to 940f66e54fc6794566d54278482e1df7dab1ffa600c0b9d4528682658ae0bcf9
      in c0c7a3aed35f penguins@raw: (root)
    dangling tag ghost -> abababababababababababababababababababababababababababababababab
    ------- stderr -------
    Checked 16 objects (2.8 KiB) holding 2 versions.
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
    corrupt tree 123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6: its pack file is shorter than its index says
      in c0c7a3aed35f penguins@raw: (root)
    ------- stderr -------
    Checked 16 objects (2.8 KiB) holding 2 versions.
    error: The workspace has 1 problem
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
    assert_snapshot!(env.dv(&["checkout", "penguins@raw", "--to", "out"]), @"
    ------- stderr -------
    error: tree object 123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6 is corrupt: its pack file is shorter than its index says
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
    Checked 16 objects (2.9 KiB) holding 2 versions.
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
    missing tree 06d72fb0be507fe0fe76c4d96f2a8ef33abc496e951ecc17e8da97245e61b053: it is not in the store
      in 726fc6e304c3 penguins@cleaned: (root)
    unreadable pack .dv/objects/pack/<pack>: it does not start with the dv pack header
    ------- stderr -------
    Checked 14 objects (2.8 KiB) holding 2 versions.
    error: The workspace has 2 problems
    hint: Restore the damaged objects from a backup or a remote copy; data not listed above is intact.
    [exit status: 1]
    ");
}

/// Flips one byte in the middle of a packed object's payload.
fn damage_packed(env: &TestEnv, kind: Kind, id: &Hash) {
    let Some(Location::Packed {
        pack,
        offset,
        length,
    }) = env.store().locate(kind, id)
    else {
        panic!("{id} is not packed");
    };
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[(offset + 16 + (length - 16) / 2) as usize] ^= 0x55;
    writable(&pack);
    std::fs::write(&pack, bytes).unwrap();
}

fn csv_rows(from: usize, to: usize) -> Vec<u8> {
    (from..to)
        .flat_map(|i| format!("{i},{},{}\n", i * 7 % 13, i * 31 % 1009).into_bytes())
        .collect()
}

#[test]
fn a_damaged_chunk_or_delta_base_names_every_file_and_version_built_on_it() {
    let env = TestEnv::new();
    let big_one = csv_rows(0, 120_000);
    let small_one = csv_rows(0, 3000);
    env.write("data/big.csv", &big_one);
    env.write("data/small.csv", &small_one);
    let one = env.id(&["commit", "data", "-d", "sensors", "-s", "raw"]);
    // An append shares the big file's first chunks; an edit makes the small file a delta.
    let big_two = [&big_one[..], &csv_rows(120_000, 121_000)].concat();
    let mut small_two = small_one.clone();
    small_two[1000..1004].copy_from_slice(b"EDIT");
    env.write("data/big.csv", &big_two);
    env.write("data/small.csv", &small_two);
    let two = env.id(&["commit", "data", "-d", "sensors", "-s", "raw"]);
    let store = env.store();
    let (big_one_id, big_two_id) = (blob(&big_one), blob(&big_two));
    let first_chunk = store.chunk_list(&big_one_id).unwrap().unwrap()[0].id;
    assert_eq!(
        store.chunk_list(&big_two_id).unwrap().unwrap()[0].id,
        first_chunk
    );
    let (small_one_id, small_two_id) = (blob(&small_one), blob(&small_two));
    assert_eq!(
        store.dependencies(Kind::Blob, &small_two_id).unwrap(),
        vec![(Kind::Blob, small_one_id)]
    );
    damage_packed(&env, Kind::Chunk, &first_chunk);
    damage_packed(&env, Kind::Blob, &small_one_id);

    let json = env.dv(&["fsck", "--json"]);
    assert_eq!(json.code, 1, "{json}");
    let findings = json.json()["findings"].clone();
    let named = |kind: &str, id: &Hash| -> Vec<(String, String)> {
        let finding = findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind && f["id"] == id.to_hex().as_str())
            .unwrap_or_else(|| panic!("no finding for {kind} {id}: {findings:#}"));
        assert_eq!(finding["problem"], "corrupt");
        finding["affects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["version"].as_str().unwrap().to_string(),
                    a["path"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let at = |version: &str, path: &str| (version.to_string(), path.to_string());
    let mut both_big = vec![at(&one, "big.csv"), at(&two, "big.csv")];
    both_big.sort();
    let mut both_small = vec![at(&one, "small.csv"), at(&two, "small.csv")];
    both_small.sort();
    // The damaged chunk and base name every file built on them, in every version.
    assert_eq!(named("chunk", &first_chunk), both_big);
    assert_eq!(named("blob", &small_one_id), both_small);
    // So do the files themselves, each saying what broke it.
    assert_eq!(named("blob", &big_one_id), vec![at(&one, "big.csv")]);
    assert_eq!(named("blob", &big_two_id), vec![at(&two, "big.csv")]);
    assert_eq!(named("blob", &small_two_id), vec![at(&two, "small.csv")]);
    let reason = |id: &Hash| {
        findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id.to_hex().as_str())
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason(&big_two_id).starts_with(&format!("its chunk {first_chunk} is damaged")),
        "{findings:#}"
    );
    assert!(
        reason(&small_two_id).contains(&small_one_id.to_hex()),
        "{findings:#}"
    );
    assert_eq!(findings.as_array().unwrap().len(), 5, "{findings:#}");

    // A checkout of either version fails naming the damaged part, and writes nothing.
    let out = env.dv(&["checkout", &two, "--to", "../out"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(!env.base().join("out/big.csv").exists());
}

/// A table's stored profile is shared by the versions whose table has that content: damage to
/// it names each of them, at `profile:` and the table's path.
#[test]
fn a_damaged_table_profile_names_the_versions_sharing_it() {
    let env = TestEnv::new();
    env.write("data/a.csv", "id,x\n1,2\n");
    env.write("data/b.csv", "id,y\n1,2\n");
    let first = env.id(&["commit", "data", "-d", "t", "-s", "raw"]);
    env.write("data/b.csv", "id,y\n1,3\n");
    let second = env.id(&["commit", "data", "-d", "t", "-s", "raw"]);
    let shared = env.table_profile(&second, "a.csv");
    env.damage_object(Kind::Blob, &shared.id, 1);
    let out = env.dv(&["fsck"]);
    assert_eq!(out.code, 1, "{out}");
    for id in [&first, &second] {
        assert!(
            out.stdout
                .contains(&format!("  in {} t@raw: profile:a.csv\n", &id[..12])),
            "{out}"
        );
    }
    assert!(!out.stdout.contains("profile:b.csv"), "{out}");
}
