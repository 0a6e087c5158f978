use insta::{assert_json_snapshot, assert_snapshot};

use crate::common::TestEnv;

fn pipeline(env: &TestEnv) {
    env.penguins();
    env.ok(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "raw",
        "-m",
        "from the field",
    ]);
    env.write(
        "data/penguins.csv",
        "species,island,bill_mm\nAdelie,Torgersen,39.1\n",
    );
    env.ok(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        "penguins@raw",
        "--transform",
        "dropna",
        "--param",
        "min=1",
    ]);
    env.write("other/a.txt", "a");
    env.ok(&["commit", "other", "-d", "other", "-s", "raw"]);
}

#[test]
fn log_lists_newest_first_aligned() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_snapshot!(env.dv(&["log"]), @"
    1a76d72b0dc6  other@raw         2026-01-02 03:04  1 file   1 B
    70aee3ff699c  penguins@cleaned  2026-01-02 03:04  3 files  87 B   dropna
    373f8398a423  penguins@raw      2026-01-02 03:04  3 files  106 B  from the field
    ");
    assert_snapshot!(env.dv(&["log", "--dataset", "penguins", "--stage", "raw"]), @"373f8398a423  penguins@raw  2026-01-02 03:04  3 files  106 B  from the field");
    assert_snapshot!(env.dv(&["log", "-n", "1"]), @"1a76d72b0dc6  other@raw  2026-01-02 03:04  1 file  1 B");
}

#[test]
fn log_json_is_an_array_of_versions() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_json_snapshot!(env.dv(&["log", "--json", "--dataset", "penguins"]).json(), @r#"
    [
      {
        "author": "tester",
        "bytes": 87,
        "code": [],
        "code_revision": null,
        "created_at": "2026-01-02T03:04:02.000000Z",
        "dataset": "penguins",
        "dv_version": "0.1.0",
        "files": 3,
        "format": 3,
        "host": "testhost",
        "id": "70aee3ff699c483729370a81706d9eb783985e52016bbcd7a17aafcf488f5285",
        "inputs": [
          "373f8398a423b8a3c7f370911502abc78591ee27b7717724c4a59d4cb0c3d066"
        ],
        "message": null,
        "params": {
          "min": 1
        },
        "path": "data",
        "profile": {
          "blob": "4a85f8ac6bc9fbb821c91f184a22a5436c0f4f416344f5a8b44cbc229bd2ad39",
          "size": 541
        },
        "single_file": false,
        "stage": "cleaned",
        "transform": "dropna",
        "tree": "8402d2b6c305dc281f56c8f74a70713ebdc934468b58c174406760303911d8a2"
      },
      {
        "author": "tester",
        "bytes": 106,
        "code": [],
        "code_revision": null,
        "created_at": "2026-01-02T03:04:01.000000Z",
        "dataset": "penguins",
        "dv_version": "0.1.0",
        "files": 3,
        "format": 3,
        "host": "testhost",
        "id": "373f8398a423b8a3c7f370911502abc78591ee27b7717724c4a59d4cb0c3d066",
        "inputs": [],
        "message": "from the field",
        "params": {},
        "path": "data",
        "profile": {
          "blob": "5e434426f63d7d05eef393d7e5afdaecd2b71b82045d9b00b03c3374a743baa5",
          "size": 542
        },
        "single_file": false,
        "stage": "raw",
        "transform": null,
        "tree": "123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6"
      }
    ]
    "#);
}

#[test]
fn log_of_an_empty_workspace() {
    let env = TestEnv::new();
    assert_snapshot!(env.dv(&["log"]), @"
    ------- stderr -------
    No versions yet.
    ");
    assert_eq!(env.dv(&["log", "--json"]).json(), serde_json::json!([]));
}

#[test]
fn show_prints_provenance_and_files() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_snapshot!(env.dv(&["show", "penguins", "--files"]), @"
    version    70aee3ff699c483729370a81706d9eb783985e52016bbcd7a17aafcf488f5285
    dataset    penguins@cleaned
    path       data
    tree       8402d2b6c305dc281f56c8f74a70713ebdc934468b58c174406760303911d8a2
    contents   3 files, 87 B
    inputs     373f8398a423 (penguins@raw)
    transform  dropna
    params     min = 1
    author     tester on testhost
    created    2026-01-02T03:04:02.000000Z

    file  11 B  meta/README.md
    file  31 B  meta/columns.json
    file  45 B  penguins.csv
    ");
}

#[test]
fn show_json_with_files() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_json_snapshot!(env.dv(&["show", "penguins@raw", "--files", "--json"]).json(), @r#"
    {
      "author": "tester",
      "bytes": 106,
      "code": [],
      "code_revision": null,
      "consumers": [],
      "created_at": "2026-01-02T03:04:01.000000Z",
      "dataset": "penguins",
      "dv_version": "0.1.0",
      "file_list": [
        {
          "hash": "e791811acfd97ba0b1958b29e2b218265077f68542002b8f4a0268b41a41a7bb",
          "kind": "file",
          "path": "meta/README.md",
          "size": 11
        },
        {
          "hash": "d94a56f0fde88c9ffa405e085120f3ceb843f46aa6f1764a731b1c376ad725d8",
          "kind": "file",
          "path": "meta/columns.json",
          "size": 31
        },
        {
          "hash": "9fc669ef4dd1ab3a2fdd057adbbb4ec0de06af69a1274f6023c24f19234b6876",
          "kind": "file",
          "path": "penguins.csv",
          "size": 64
        }
      ],
      "files": 3,
      "format": 3,
      "host": "testhost",
      "id": "373f8398a423b8a3c7f370911502abc78591ee27b7717724c4a59d4cb0c3d066",
      "inputs": [],
      "message": "from the field",
      "params": {},
      "path": "data",
      "profile": {
        "blob": "5e434426f63d7d05eef393d7e5afdaecd2b71b82045d9b00b03c3374a743baa5",
        "size": 542
      },
      "single_file": false,
      "stage": "raw",
      "transform": null,
      "tree": "123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6"
    }
    "#);
}
