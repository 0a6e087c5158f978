//! `dv diff`: every kind of file change, provenance and parameter changes, output modes.

use insta::{assert_json_snapshot, assert_snapshot};

use crate::common::TestEnv;

/// Two versions of one dataset differing in every way a file can.
fn changed_pair(env: &TestEnv) {
    env.write("data/keep.csv", "a,b\n1,2\n");
    env.write("data/edit.csv", "a,b\n1,2\n");
    env.write("data/gone.txt", "bye\n");
    env.write("data/old-name.bin", "same bytes, new name\n");
    env.write("data/run.sh", "#!/bin/sh\n");
    env.write("data/deep/a/b/c/leaf.txt", "leaf v1\n");
    env.write("data/deep/a/b/untouched.txt", "same\n");
    env.write("data/swap", "a file that becomes a symlink\n");
    env.ok(&[
        "commit",
        "data",
        "-d",
        "d",
        "-s",
        "raw",
        "--transform",
        "fetch",
        "--param",
        "rows=2",
        "--param",
        "seed=1",
    ]);
    env.write("data/edit.csv", "a,b\n1,2\n3,4\n");
    std::fs::remove_file(env.root().join("data/gone.txt")).unwrap();
    std::fs::rename(
        env.root().join("data/old-name.bin"),
        env.root().join("data/new-name.bin"),
    )
    .unwrap();
    env.chmod_x("data/run.sh");
    env.write("data/deep/a/b/c/leaf.txt", "leaf v2\n");
    env.write("data/added.json", "{}\n");
    std::fs::remove_file(env.root().join("data/swap")).unwrap();
    std::os::unix::fs::symlink("keep.csv", env.root().join("data/swap")).unwrap();
    env.write("code/clean.py", "# clean\n");
    env.ok(&[
        "commit",
        "data",
        "-d",
        "d",
        "-s",
        "cleaned",
        "--from",
        "d@raw",
        "--transform",
        "clean",
        "--code",
        "code/clean.py",
        "--param",
        "rows=3",
        "--param",
        "dropna=true",
    ]);
}

#[test]
fn diff_between_two_versions() {
    let env = TestEnv::new();
    changed_pair(&env);
    assert_snapshot!(env.dv(&["diff", "d@raw", "d@cleaned"]), @"
    code       (none) → code/clean.py (ad1a0596f06e)
    inputs     (none) → f7d8bc598cec
    stage      raw → cleaned
    transform  fetch → clean
    params     + dropna = true
               ~ rows: 2 → 3
               - seed (was 1)

    A  added.json                   +3 B
    M  deep/a/b/c/leaf.txt          8 B → 8 B
    M  edit.csv                     8 B → 12 B
    D  gone.txt                     -4 B
    R  old-name.bin → new-name.bin  21 B
    X  run.sh                       (now executable)
    T  swap                         (file → symlink)
    ");
}

#[test]
fn diff_json_has_every_field() {
    let env = TestEnv::new();
    changed_pair(&env);
    assert_json_snapshot!(env.dv(&["diff", "d@raw", "d@cleaned", "--json"]).json(), @r#"
    {
      "added": [
        {
          "hash": "a7c4d54776fcb179f048728766a52d75dc450cc2a5072b7e2c238aa9b2cff3b6",
          "kind": "file",
          "path": "added.json",
          "size": 3
        }
      ],
      "mode_changed": [
        {
          "new_hash": "bc1f407a11c9377c8b9b13f956b279c8462775105eb958fc9ae3c40de87cc96e",
          "new_kind": "executable",
          "new_size": 10,
          "old_hash": "bc1f407a11c9377c8b9b13f956b279c8462775105eb958fc9ae3c40de87cc96e",
          "old_kind": "file",
          "old_size": 10,
          "path": "run.sh"
        }
      ],
      "modified": [
        {
          "new_hash": "689e0b9acba6950eecf5efd29ded43810d166afe4a78d4b3d94cc47bd13b20ee",
          "new_kind": "file",
          "new_size": 8,
          "old_hash": "08f54a2c6cee3aadf4504713ddae029002851beab46c565ee05362f8df27647f",
          "old_kind": "file",
          "old_size": 8,
          "path": "deep/a/b/c/leaf.txt"
        },
        {
          "new_hash": "b93a8ab35ac76b150c7da7ecd7c248d69281d5279276b76f5411f44088291dcd",
          "new_kind": "file",
          "new_size": 12,
          "old_hash": "c42223f1fbf292f60491e1d0666e49af4b7eb75a63385041b98391acecf68562",
          "old_kind": "file",
          "old_size": 8,
          "path": "edit.csv"
        }
      ],
      "new": "5badb5e6f0d72d1db3582070d739048df6687d161a60000adbfe76a4a2edca01",
      "old": "f7d8bc598cecc2d7fa045404c4c5e43a5bd73e0455b014c98be3e767c7385a5b",
      "params": {
        "added": {
          "dropna": true
        },
        "changed": {
          "rows": {
            "new": 3,
            "old": 2
          }
        },
        "removed": {
          "seed": 1
        }
      },
      "provenance": {
        "code": {
          "new": [
            {
              "blob": "ad1a0596f06eebbf53ccc1abf9983c7dda92f5a563f15fe4af7442ebb412904e",
              "path": "code/clean.py",
              "size": 8
            }
          ],
          "old": []
        },
        "inputs": {
          "new": [
            "f7d8bc598cecc2d7fa045404c4c5e43a5bd73e0455b014c98be3e767c7385a5b"
          ],
          "old": []
        },
        "stage": {
          "new": "cleaned",
          "old": "raw"
        },
        "transform": {
          "new": "clean",
          "old": "fetch"
        }
      },
      "removed": [
        {
          "hash": "cb0fa91be247ee0f636bd06a2b417b59968e666f22e96c34d486e7f64c657ade",
          "kind": "file",
          "path": "gone.txt",
          "size": 4
        }
      ],
      "renamed": [
        {
          "from": "old-name.bin",
          "hash": "8b6535cf5e35d538aba0ffc007929d6fbd823b97f58885436af1867f08b5e530",
          "size": 21,
          "to": "new-name.bin"
        }
      ],
      "stat": {
        "added": 1,
        "bytes_added": 7,
        "bytes_removed": 4,
        "mode_changed": 1,
        "modified": 2,
        "removed": 1,
        "renamed": 1,
        "type_changed": 1
      },
      "type_changed": [
        {
          "new_hash": "37ef4a958664df50918338074bd99c638fc5a6ec474e6c13d35cfcb8f731b154",
          "new_kind": "symlink",
          "new_size": 8,
          "old_hash": "0730c0a8b1f56b530653f24f1b46fb5193bb377fbe21e76d14bb1ca0e9b4f0b5",
          "old_kind": "file",
          "old_size": 30,
          "path": "swap"
        }
      ]
    }
    "#);
}

#[test]
fn diff_stat_name_only_and_paths() {
    let env = TestEnv::new();
    changed_pair(&env);
    assert_snapshot!(env.dv(&["diff", "d@raw", "d@cleaned", "--stat"]), @"1 added, 1 removed, 2 modified, 1 renamed, 1 mode changed, 1 type changed; +7 B, -4 B");
    assert_snapshot!(env.dv(&["diff", "d@raw", "d@cleaned", "--name-only"]), @"
    added.json
    deep/a/b/c/leaf.txt
    edit.csv
    gone.txt
    new-name.bin
    run.sh
    swap
    ");
    assert_snapshot!(env.dv(&["diff", "d@raw", "d@cleaned", "--name-only", "--", "deep", "run.sh"]), @"
    deep/a/b/c/leaf.txt
    run.sh
    ");
}

#[test]
fn a_modified_rename_is_removed_plus_added() {
    let env = TestEnv::new();
    env.write("data/a.txt", "content\n");
    env.ok(&["commit", "data", "-d", "d", "-s", "raw"]);
    std::fs::remove_file(env.root().join("data/a.txt")).unwrap();
    env.write("data/b.txt", "content, edited\n");
    env.ok(&["commit", "data", "-d", "d", "-s", "cleaned"]);
    assert_snapshot!(env.dv(&["diff", "d@raw", "d@cleaned"]), @"
    stage  raw → cleaned

    D  a.txt  -8 B
    A  b.txt  +16 B
    ");
}

#[test]
fn diff_against_the_working_directory_and_exit_codes() {
    let env = TestEnv::new();
    changed_pair(&env);
    assert_snapshot!(env.dv(&["diff", "d@cleaned", "--exit-code"]), @"no file changes");
    env.write("data/keep.csv", "a,b\n9,9\n");
    assert_snapshot!(env.dv(&["diff", "d@cleaned", "--exit-code"]), @"
    M  keep.csv  8 B → 8 B
    [exit status: 1]
    ");
    assert_eq!(
        env.dv(&["diff", "d@cleaned"]).code,
        0,
        "without --exit-code a diff is not a failure"
    );
    env.ok(&["checkout", "d@raw", "--to", "../old"]);
    assert_snapshot!(env.dv(&["diff", "d@raw", "--path", "../old", "--exit-code"]), @"no file changes");
    assert_eq!(
        env.dv(&["diff", "d@raw", "d@cleaned", "--exit-code"]).code,
        1
    );
    assert_eq!(env.dv(&["diff", "d@raw", "d@raw", "--exit-code"]).code, 0);
}
