use insta::{assert_json_snapshot, assert_snapshot};

use crate::common::TestEnv;

#[test]
fn commit_prints_the_id_and_a_summary() {
    let env = TestEnv::new();
    env.penguins();
    assert_snapshot!(env.dv(&["commit", "data", "--dataset", "penguins", "--stage", "raw", "-m", "first"]), @"
    4fe29be3a1e4fb70225a8308d0296dda9ad9a011d565d2a1842c00622c3af30c
    ------- stderr -------
    Committed penguins@raw 4fe29be3a1e4 (3 files, 106 B).
    ");
}

#[test]
fn commit_json_has_the_full_version() {
    let env = TestEnv::new();
    env.penguins();
    env.write("clean.py", "print('clean')\n");
    env.write(
        "params.json",
        r#"{"threshold": 0.5, "mode": "strict", "nested": {"b": 1, "a": [1, 2]}}"#,
    );
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    let out = env.dv(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        "penguins@raw",
        "--transform",
        "python clean.py --drop-nulls",
        "--code",
        "clean.py",
        "--params-file",
        "params.json",
        "--param",
        "mode=lenient",
        "--param",
        "seed=42",
        "--param",
        "flags=[1,2]",
        "--param",
        "when=2026-01-01",
        "-m",
        "drop nulls",
        "--json",
    ]);
    let json = out.json();
    assert_eq!(json["inputs"][0], raw.as_str());
    assert_json_snapshot!(json, @r#"
    {
      "author": "tester",
      "bytes": 106,
      "code": [
        {
          "blob": "729ff7b69f84bbb20da7db3c436a3c341a64c4a16d5d6b39405436f837396c66",
          "path": "clean.py",
          "size": 15
        }
      ],
      "code_revision": null,
      "created": true,
      "created_at": "2026-01-02T03:04:02.000000Z",
      "dataset": "penguins",
      "dv_version": "0.1.0",
      "files": 3,
      "format": 4,
      "host": "testhost",
      "id": "a160560b1a1d0a0ed33c15966e588823115dfb85c3a22ee70420a0c4596d6c8f",
      "inputs": [
        "c0c7a3aed35f265bff041888bb49a732e8ce14081c74ebedaad78ad8c50c5f4c"
      ],
      "message": "drop nulls",
      "params": {
        "flags": [
          1,
          2
        ],
        "mode": "lenient",
        "nested": {
          "a": [
            1,
            2
          ],
          "b": 1
        },
        "seed": 42,
        "threshold": 0.5,
        "when": "2026-01-01"
      },
      "path": "data",
      "profile": {
        "blob": "7c2f1861d2c6a1585ad63eaf1200de66913b8b2481fc085043cd55599a96a9de",
        "size": 298
      },
      "profile_tables": "65019ba7fc0bc590466d56761b3f0e4debe1f0118c3a9a36cb6b7263758952f1",
      "single_file": false,
      "stage": "cleaned",
      "tables_read": 0,
      "transform": "python clean.py --drop-nulls",
      "tree": "123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6"
    }
    "#);
}

#[test]
fn recommitting_an_unchanged_tree_reports_the_existing_version() {
    let env = TestEnv::new();
    env.penguins();
    let first = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    let out = env.dv(&[
        "commit", "data", "-d", "penguins", "-s", "raw", "-m", "again",
    ]);
    assert_eq!(out.stdout.trim(), first);
    assert_snapshot!(out.stderr, @"Nothing changed: penguins@raw is already c0c7a3aed35f with the same content and provenance.");
    let json = env
        .dv(&["commit", "data", "-d", "penguins", "-s", "raw", "--json"])
        .json();
    assert_eq!(json["created"], false);
    assert_eq!(json["id"], first.as_str());
    assert_eq!(
        env.dv(&["log", "--json"]).json().as_array().unwrap().len(),
        1
    );
}

#[test]
fn changed_params_make_a_new_version_of_the_same_tree() {
    let env = TestEnv::new();
    env.penguins();
    let a = env.id(&[
        "commit", "data", "-d", "penguins", "-s", "raw", "--param", "k=1",
    ]);
    let b = env.id(&[
        "commit", "data", "-d", "penguins", "-s", "raw", "--param", "k=2",
    ]);
    assert_ne!(a, b);
    let log = env.dv(&["log", "--json"]).json();
    assert_eq!(log[0]["tree"], log[1]["tree"]);
}

#[test]
fn a_single_file_can_be_committed_and_checked_out() {
    let env = TestEnv::new();
    env.write("shards/part-0.jsonl", "{\"a\":1}\n");
    env.write("shards/part-1.jsonl", "{\"a\":2}\n");
    let id = env.id(&["commit", "shards/part-0.jsonl", "-d", "part0", "-s", "raw"]);
    let show = env.dv(&["show", &id, "--files", "--json"]).json();
    assert_eq!(show["single_file"], true);
    assert_eq!(show["file_list"][0]["path"], "part-0.jsonl");
    env.write("shards/part-0.jsonl", "{\"a\":3}\n");
    assert_snapshot!(env.dv(&["status"]), @"
    shards/part-0.jsonl: changes since part0 609acb9701f5
      M part-0.jsonl
    ");
    env.ok(&["checkout", "part0", "--force"]);
    assert_eq!(env.read("shards/part-0.jsonl"), b"{\"a\":1}\n");
    assert_eq!(env.read("shards/part-1.jsonl"), b"{\"a\":2}\n");
}

#[test]
fn dvignore_and_the_dv_directory_are_never_snapshotted() {
    let env = TestEnv::new();
    env.penguins();
    env.write("data/.dvignore", "*.tmp\ncache/\n");
    env.write("data/scratch.tmp", "x");
    env.write("data/cache/blob", "x");
    let id = env.id(&["commit", ".", "-d", "all", "-s", "raw"]);
    let files = env.dv(&["show", &id, "--files", "--json"]).json();
    let paths: Vec<&str> = files["file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "data/.dvignore",
            "data/meta/README.md",
            "data/meta/columns.json",
            "data/penguins.csv"
        ]
    );
}

#[test]
fn a_deeper_dvignore_overrides_its_parents_and_patterns_anchor_to_their_file() {
    let env = TestEnv::new();
    env.write(".dvignore", "*.log\n");
    env.write("data/.dvignore", "*.tmp\n/top-only.csv\nbuild/\n");
    env.write("data/sub/.dvignore", "!keep.tmp\n!*.log\n");
    for path in [
        "data/a.csv",
        "data/a.tmp",
        "data/x.log",
        "data/top-only.csv",
        "data/build/out.csv",
        "data/sub/top-only.csv",
        "data/sub/b.tmp",
        "data/sub/keep.tmp",
        "data/sub/y.log",
        "data/sub/build/inner.csv",
    ] {
        env.write(path, "x\n");
    }
    let id = env.id(&["commit", "data", "-d", "d", "-s", "raw"]);
    let files = env.dv(&["show", &id, "--files", "--json"]).json();
    let paths: Vec<&str> = files["file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            ".dvignore",
            "a.csv",
            "sub/.dvignore",
            "sub/keep.tmp",
            "sub/top-only.csv",
            "sub/y.log"
        ]
    );
}

#[test]
fn empty_directories_are_not_kept() {
    let env = TestEnv::new();
    env.penguins();
    std::fs::create_dir_all(env.root().join("data/empty/deeper")).unwrap();
    let with_empty = env
        .dv(&["commit", "data", "-d", "a", "-s", "raw", "--json"])
        .json();
    std::fs::remove_dir_all(env.root().join("data/empty")).unwrap();
    let without = env
        .dv(&["commit", "data", "-d", "b", "-s", "raw", "--json"])
        .json();
    assert_eq!(with_empty["tree"], without["tree"]);
}

#[test]
fn a_symlinked_data_directory_is_followed_at_the_root_only() {
    let env = TestEnv::new();
    let real = env.base().join("bigdisk/penguins");
    std::fs::create_dir_all(real.join("meta")).unwrap();
    std::fs::write(real.join("penguins.csv"), "species\nAdelie\n").unwrap();
    std::os::unix::fs::symlink("penguins.csv", real.join("latest.csv")).unwrap();
    std::os::unix::fs::symlink(&real, env.root().join("data")).unwrap();
    let id = env.id(&["commit", "data", "-d", "p", "-s", "raw"]);
    let files = env.dv(&["show", &id, "--files", "--json"]).json();
    let listed: Vec<(&str, &str)> = files["file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [("latest.csv", "symlink"), ("penguins.csv", "file")]
    );
    assert_snapshot!(env.dv(&["status"]), @"data: no changes since p a7654ae2fb3f");
    std::fs::write(real.join("penguins.csv"), "changed\n").unwrap();
    env.ok(&["checkout", "p", "--force"]);
    assert_eq!(
        std::fs::read(real.join("penguins.csv")).unwrap(),
        b"species\nAdelie\n"
    );
    assert!(
        std::fs::symlink_metadata(env.root().join("data"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_dvignore_at_the_workspace_root_applies_to_every_dataset() {
    let env = TestEnv::new();
    env.write(".dvignore", "*.tmp\n");
    env.write("datasets/a/keep.csv", "x\n");
    env.write("datasets/a/scratch.tmp", "x\n");
    let id = env.id(&["commit", "datasets/a", "-d", "a", "-s", "raw"]);
    let files = env.dv(&["show", &id, "--files", "--json"]).json();
    assert_eq!(files["file_list"].as_array().unwrap().len(), 1);
    assert_eq!(files["file_list"][0]["path"], "keep.csv");
}

#[test]
fn a_nested_workspace_is_not_data() {
    let env = TestEnv::new();
    env.write("project/data.csv", "x\n");
    env.dv_in(&env.root().join("project"), &["init"]);
    assert!(env.root().join("project/.dv/config.json").exists());
    let id = env.id(&["commit", "project", "-d", "p", "-s", "raw"]);
    let files = env.dv(&["show", &id, "--files", "--json"]).json();
    assert_eq!(files["file_list"].as_array().unwrap().len(), 1, "{files}");
}
