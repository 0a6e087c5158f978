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
    7bf3a9f3452b  other@raw         2026-01-02 03:04  1 file   1 B
    ca82db7e4dd3  penguins@cleaned  2026-01-02 03:04  3 files  87 B   dropna
    2695470b84df  penguins@raw      2026-01-02 03:04  3 files  106 B  from the field
    ");
    assert_snapshot!(env.dv(&["log", "--dataset", "penguins", "--stage", "raw"]), @"2695470b84df  penguins@raw  2026-01-02 03:04  3 files  106 B  from the field");
    assert_snapshot!(env.dv(&["log", "-n", "1"]), @"7bf3a9f3452b  other@raw  2026-01-02 03:04  1 file  1 B");
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
        "format": 4,
        "host": "testhost",
        "id": "ca82db7e4dd3affc383331ac3396b3e0e9842b7804538fe3cf278a963d5fbb25",
        "inputs": [
          "2695470b84df6d60f740f9647e94d71a4fb98a56eb4d383c13cde3cf30e49542"
        ],
        "message": null,
        "params": {
          "min": 1
        },
        "path": "data",
        "profile": {
          "blob": "f2bb7195bd2897940b0508f5903826d6a3bfd50b7060f2be8163fd05643c7bda",
          "size": 297
        },
        "profile_tables": "fbafa09ccb758f447eaba79fe745d99fbd2434b9335e2f25eac52712e10a3712",
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
        "format": 4,
        "host": "testhost",
        "id": "2695470b84df6d60f740f9647e94d71a4fb98a56eb4d383c13cde3cf30e49542",
        "inputs": [],
        "message": "from the field",
        "params": {},
        "path": "data",
        "profile": {
          "blob": "7c2f1861d2c6a1585ad63eaf1200de66913b8b2481fc085043cd55599a96a9de",
          "size": 298
        },
        "profile_tables": "65019ba7fc0bc590466d56761b3f0e4debe1f0118c3a9a36cb6b7263758952f1",
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
    version    ca82db7e4dd3affc383331ac3396b3e0e9842b7804538fe3cf278a963d5fbb25
    dataset    penguins@cleaned
    path       data
    tree       8402d2b6c305dc281f56c8f74a70713ebdc934468b58c174406760303911d8a2
    contents   3 files, 87 B
    inputs     2695470b84df (penguins@raw)
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
      "format": 4,
      "host": "testhost",
      "id": "2695470b84df6d60f740f9647e94d71a4fb98a56eb4d383c13cde3cf30e49542",
      "inputs": [],
      "message": "from the field",
      "params": {},
      "path": "data",
      "profile": {
        "blob": "7c2f1861d2c6a1585ad63eaf1200de66913b8b2481fc085043cd55599a96a9de",
        "size": 298
      },
      "profile_tables": "65019ba7fc0bc590466d56761b3f0e4debe1f0118c3a9a36cb6b7263758952f1",
      "single_file": false,
      "stage": "raw",
      "transform": null,
      "tree": "123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6"
    }
    "#);
}
