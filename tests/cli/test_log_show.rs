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
    505512169c17  other@raw         2026-01-02 03:04  1 file   1 B
    bea5b77979e1  penguins@cleaned  2026-01-02 03:04  3 files  87 B   dropna
    bea91c52dda3  penguins@raw      2026-01-02 03:04  3 files  106 B  from the field
    ");
    assert_snapshot!(env.dv(&["log", "--dataset", "penguins", "--stage", "raw"]), @"bea91c52dda3  penguins@raw  2026-01-02 03:04  3 files  106 B  from the field");
    assert_snapshot!(env.dv(&["log", "-n", "1"]), @"505512169c17  other@raw  2026-01-02 03:04  1 file  1 B");
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
        "format": 1,
        "host": "testhost",
        "id": "bea5b77979e16d0dd5f15602b2dadacae3da6de07b0b1cf7757e66ddb2f8c946",
        "inputs": [
          "bea91c52dda3668f5bf244b52d3da02c17e080df2229d3a0ea6f1403453bce6f"
        ],
        "message": null,
        "params": {
          "min": 1
        },
        "path": "data",
        "single_file": false,
        "stage": "cleaned",
        "transform": "dropna",
        "tree": "99d008ac5aee065ed326e1986c4cab62c59c9f956db810452895c74a6f8d315d"
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
        "format": 1,
        "host": "testhost",
        "id": "bea91c52dda3668f5bf244b52d3da02c17e080df2229d3a0ea6f1403453bce6f",
        "inputs": [],
        "message": "from the field",
        "params": {},
        "path": "data",
        "single_file": false,
        "stage": "raw",
        "transform": null,
        "tree": "8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987"
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
    version    bea5b77979e16d0dd5f15602b2dadacae3da6de07b0b1cf7757e66ddb2f8c946
    dataset    penguins@cleaned
    path       data
    tree       99d008ac5aee065ed326e1986c4cab62c59c9f956db810452895c74a6f8d315d
    contents   3 files, 87 B
    inputs     bea91c52dda3 (penguins@raw)
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
      "format": 1,
      "host": "testhost",
      "id": "bea91c52dda3668f5bf244b52d3da02c17e080df2229d3a0ea6f1403453bce6f",
      "inputs": [],
      "message": "from the field",
      "params": {},
      "path": "data",
      "single_file": false,
      "stage": "raw",
      "transform": null,
      "tree": "8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987"
    }
    "#);
}
