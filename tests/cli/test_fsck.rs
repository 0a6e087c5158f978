//! Promise 4: `dv fsck` re-hashes every object and reports each damaged or missing one by id
//! and by the versions and paths it affects. One damaged workspace per failure mode.

use std::os::unix::fs::PermissionsExt;

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

fn object(env: &TestEnv, kind: &str, content: &[u8]) -> std::path::PathBuf {
    let hash = blake3::hash(content).to_hex().to_string();
    env.root()
        .join(".dv/objects")
        .join(kind)
        .join(&hash[..2])
        .join(&hash[2..])
}

fn damage(path: &std::path::Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
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
    damage(&object(&env, "blob", b"# penguins\n"));
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
fn a_missing_file_and_a_missing_code_file() {
    let env = TestEnv::new();
    workspace_with_history(&env);
    std::fs::remove_file(object(&env, "blob", b"species\nAdelie\n")).unwrap();
    std::fs::remove_file(object(&env, "blob", b"# clean\n")).unwrap();
    let json = env.dv(&["fsck", "--json"]);
    assert_eq!(json.code, 1);
    assert_snapshot!(json.stdout, @r#"
    {
      "objects": 8,
      "bytes": 1469,
      "versions": 2,
      "findings": [
        {
          "problem": "missing",
          "kind": "blob",
          "id": "1ff32383b71f3d2ce653a5f84dadd8ba2da4af3f4dc0b16a4eca79e53b96fbff",
          "reason": "it is not in the store",
          "affects": [
            {
              "version": "f1951d938657645ec0946f2fb17d181a8d8a908d55ff472d64453991affb00fd",
              "dataset": "penguins",
              "stage": "cleaned",
              "path": "penguins.csv"
            }
          ]
        },
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
        }
      ],
      "dangling_tags": []
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
    damage(
        &env.root()
            .join(".dv/objects/tree")
            .join(&tree[..2])
            .join(&tree[2..]),
    );
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
