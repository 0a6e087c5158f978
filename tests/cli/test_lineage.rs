use insta::{assert_json_snapshot, assert_snapshot};

use crate::common::TestEnv;

/// raw → cleaned → labeled → training-ready, the last also joined with a second dataset.
pub fn pipeline(env: &TestEnv) {
    env.penguins();
    env.write("code/clean.py", "# drop rows with missing values\n");
    env.write("code/label.py", "# label with a model\n");
    env.write("code/split.py", "# split train/val\n");
    env.write("islands/islands.csv", "island,area\nBiscoe,10\n");
    env.ok(&[
        "commit",
        "islands",
        "-d",
        "islands",
        "-s",
        "raw",
        "-m",
        "island areas",
    ]);
    env.ok(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "raw",
        "-m",
        "field data",
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
        "python code/clean.py",
        "--code",
        "code/clean.py",
        "--param",
        "dropna=true",
        "--param",
        "min_rows=1",
    ]);
    env.write("data/labels.csv", "row,label\n1,adult\n");
    env.ok(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "labeled",
        "--from",
        "penguins@cleaned",
        "--transform",
        "python code/label.py",
        "--code",
        "code/label.py",
        "--param",
        "dropna=true",
        "--param",
        "min_rows=1",
        "--param",
        "model=resnet",
    ]);
    env.write("data/split.txt", "train 1\n");
    env.ok(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "training-ready",
        "--from",
        "penguins@labeled",
        "--from",
        "islands",
        "--transform",
        "python code/split.py",
        "--code",
        "code/split.py",
        "--param",
        "seed=7",
        "--param",
        "model=resnet",
    ]);
}

#[test]
fn lineage_up_as_text() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_snapshot!(env.dv(&["lineage", "penguins@training-ready"]), @"
    b3c8d430cf4f penguins@training-ready  python code/split.py
    │            seed=7 -dropna -min_rows
    ├─ d8531d5564e6 penguins@labeled  python code/label.py  model=resnet
    │  └─ 13dae304654b penguins@cleaned  python code/clean.py
    │     │            dropna=true min_rows=1
    │     └─ 06605c66b7c5 penguins@raw
    └─ a2d842f37c48 islands@raw
    ");
}

#[test]
fn lineage_down_as_text() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_snapshot!(env.dv(&["lineage", "penguins@raw", "--down"]), @"
    06605c66b7c5 penguins@raw
    └─ 13dae304654b penguins@cleaned  python code/clean.py  dropna=true min_rows=1
       └─ d8531d5564e6 penguins@labeled  python code/label.py  model=resnet
          └─ b3c8d430cf4f penguins@training-ready  python code/split.py
                          seed=7 -dropna -min_rows
    ");
}

#[test]
fn lineage_up_as_json_has_every_node_once_with_full_provenance() {
    let env = TestEnv::new();
    pipeline(&env);
    let json = env.dv(&["lineage", "penguins", "--format", "json"]).json();
    assert_eq!(json["nodes"].as_array().unwrap().len(), 5);
    assert_json_snapshot!(json, @r#"
    {
      "consumers": [],
      "direction": "up",
      "edges": [
        {
          "from": "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa",
          "to": "b3c8d430cf4fb68c7f1cab7e740181f98a207c29197a2ea4ff0f4b712db174cf"
        },
        {
          "from": "a2d842f37c48334c0273dc47d84b8d58cf41ed66c430797051b6126e36111ebd",
          "to": "b3c8d430cf4fb68c7f1cab7e740181f98a207c29197a2ea4ff0f4b712db174cf"
        },
        {
          "from": "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38",
          "to": "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa"
        },
        {
          "from": "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f",
          "to": "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38"
        }
      ],
      "nodes": [
        {
          "author": "tester",
          "bytes": 113,
          "code": [
            {
              "blob": "4e41f6a3b35ab8130a6ade26dce543d508bd9dcddc7fd154374c40c1f7024171",
              "path": "code/split.py",
              "size": 18
            }
          ],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:05.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 5,
          "format": 1,
          "host": "testhost",
          "id": "b3c8d430cf4fb68c7f1cab7e740181f98a207c29197a2ea4ff0f4b712db174cf",
          "inputs": [
            "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa",
            "a2d842f37c48334c0273dc47d84b8d58cf41ed66c430797051b6126e36111ebd"
          ],
          "message": null,
          "params": {
            "model": "resnet",
            "seed": 7
          },
          "path": "data",
          "single_file": false,
          "stage": "training-ready",
          "transform": "python code/split.py",
          "tree": "b1e37fb16ac8a3a71f192f5c09f4ec02bed614fedd4dc50a22c7b1acb875fbf5"
        },
        {
          "author": "tester",
          "bytes": 105,
          "code": [
            {
              "blob": "fd22e622e142620ac390bd04df91059000913529dcde70556f776ab49275d606",
              "path": "code/label.py",
              "size": 21
            }
          ],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:04.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 4,
          "format": 1,
          "host": "testhost",
          "id": "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa",
          "inputs": [
            "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1,
            "model": "resnet"
          },
          "path": "data",
          "single_file": false,
          "stage": "labeled",
          "transform": "python code/label.py",
          "tree": "1bb9d16521dc4f279364e4629dcf7cf09f803774ec771d84b771ab45291faaa8"
        },
        {
          "author": "tester",
          "bytes": 22,
          "code": [],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:01.000000Z",
          "dataset": "islands",
          "dv_version": "0.1.0",
          "files": 1,
          "format": 1,
          "host": "testhost",
          "id": "a2d842f37c48334c0273dc47d84b8d58cf41ed66c430797051b6126e36111ebd",
          "inputs": [],
          "message": "island areas",
          "params": {},
          "path": "islands",
          "single_file": false,
          "stage": "raw",
          "transform": null,
          "tree": "227c98b17a54b59d3004e333195d865530c7ced977fb314cda86fbe8605686ab"
        },
        {
          "author": "tester",
          "bytes": 87,
          "code": [
            {
              "blob": "3f1902284fa1553c2762e795843ffa2b59507305c2c4ffcee640d07f7a28d776",
              "path": "code/clean.py",
              "size": 32
            }
          ],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:03.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 3,
          "format": 1,
          "host": "testhost",
          "id": "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38",
          "inputs": [
            "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1
          },
          "path": "data",
          "single_file": false,
          "stage": "cleaned",
          "transform": "python code/clean.py",
          "tree": "99d008ac5aee065ed326e1986c4cab62c59c9f956db810452895c74a6f8d315d"
        },
        {
          "author": "tester",
          "bytes": 106,
          "code": [],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:02.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 3,
          "format": 1,
          "host": "testhost",
          "id": "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f",
          "inputs": [],
          "message": "field data",
          "params": {},
          "path": "data",
          "single_file": false,
          "stage": "raw",
          "transform": null,
          "tree": "8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987"
        }
      ],
      "start": "b3c8d430cf4fb68c7f1cab7e740181f98a207c29197a2ea4ff0f4b712db174cf"
    }
    "#);
}

#[test]
fn lineage_down_from_raw_as_json_is_exact() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_json_snapshot!(env.dv(&["lineage", "penguins@raw", "--down", "--json"]).json(), @r#"
    {
      "consumers": [],
      "direction": "down",
      "edges": [
        {
          "from": "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f",
          "to": "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38"
        },
        {
          "from": "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38",
          "to": "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa"
        },
        {
          "from": "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa",
          "to": "b3c8d430cf4fb68c7f1cab7e740181f98a207c29197a2ea4ff0f4b712db174cf"
        }
      ],
      "nodes": [
        {
          "author": "tester",
          "bytes": 106,
          "code": [],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:02.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 3,
          "format": 1,
          "host": "testhost",
          "id": "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f",
          "inputs": [],
          "message": "field data",
          "params": {},
          "path": "data",
          "single_file": false,
          "stage": "raw",
          "transform": null,
          "tree": "8b078def5c78169a126d653817eb59f61d9b9039d1b39dcf65beb6c16caea987"
        },
        {
          "author": "tester",
          "bytes": 87,
          "code": [
            {
              "blob": "3f1902284fa1553c2762e795843ffa2b59507305c2c4ffcee640d07f7a28d776",
              "path": "code/clean.py",
              "size": 32
            }
          ],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:03.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 3,
          "format": 1,
          "host": "testhost",
          "id": "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38",
          "inputs": [
            "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1
          },
          "path": "data",
          "single_file": false,
          "stage": "cleaned",
          "transform": "python code/clean.py",
          "tree": "99d008ac5aee065ed326e1986c4cab62c59c9f956db810452895c74a6f8d315d"
        },
        {
          "author": "tester",
          "bytes": 105,
          "code": [
            {
              "blob": "fd22e622e142620ac390bd04df91059000913529dcde70556f776ab49275d606",
              "path": "code/label.py",
              "size": 21
            }
          ],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:04.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 4,
          "format": 1,
          "host": "testhost",
          "id": "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa",
          "inputs": [
            "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1,
            "model": "resnet"
          },
          "path": "data",
          "single_file": false,
          "stage": "labeled",
          "transform": "python code/label.py",
          "tree": "1bb9d16521dc4f279364e4629dcf7cf09f803774ec771d84b771ab45291faaa8"
        },
        {
          "author": "tester",
          "bytes": 113,
          "code": [
            {
              "blob": "4e41f6a3b35ab8130a6ade26dce543d508bd9dcddc7fd154374c40c1f7024171",
              "path": "code/split.py",
              "size": 18
            }
          ],
          "code_revision": null,
          "created_at": "2026-01-02T03:04:05.000000Z",
          "dataset": "penguins",
          "dv_version": "0.1.0",
          "files": 5,
          "format": 1,
          "host": "testhost",
          "id": "b3c8d430cf4fb68c7f1cab7e740181f98a207c29197a2ea4ff0f4b712db174cf",
          "inputs": [
            "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa",
            "a2d842f37c48334c0273dc47d84b8d58cf41ed66c430797051b6126e36111ebd"
          ],
          "message": null,
          "params": {
            "model": "resnet",
            "seed": 7
          },
          "path": "data",
          "single_file": false,
          "stage": "training-ready",
          "transform": "python code/split.py",
          "tree": "b1e37fb16ac8a3a71f192f5c09f4ec02bed614fedd4dc50a22c7b1acb875fbf5"
        }
      ],
      "start": "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f"
    }
    "#);
}

#[test]
fn lineage_down_as_json() {
    let env = TestEnv::new();
    pipeline(&env);
    let json = env.dv(&["lineage", "islands", "--down", "--json"]).json();
    let names: Vec<String> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{}@{}",
                n["dataset"].as_str().unwrap(),
                n["stage"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["islands@raw", "penguins@training-ready"]);
    assert_eq!(
        json["edges"],
        serde_json::json!([{"from": json["nodes"][0]["id"], "to": json["nodes"][1]["id"]}])
    );
    assert_eq!(json["direction"], "down");
}

#[test]
fn a_two_input_version_shows_both_parents() {
    let env = TestEnv::new();
    pipeline(&env);
    let json = env
        .dv(&[
            "lineage",
            "penguins@training-ready",
            "--depth",
            "1",
            "--json",
        ])
        .json();
    let start = json["start"].clone();
    let nodes = json["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "the version and its two inputs");
    let parents: Vec<&serde_json::Value> = json["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == start)
        .map(|e| &e["from"])
        .collect();
    assert_eq!(parents, [&nodes[0]["inputs"][0], &nodes[0]["inputs"][1]]);
}

#[test]
fn depth_cuts_the_walk() {
    let env = TestEnv::new();
    pipeline(&env);
    let count = |depth: &str| {
        env.dv(&["lineage", "penguins", "--depth", depth, "--json"])
            .json()["nodes"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("0"), 1);
    assert_eq!(count("1"), 3);
    assert_eq!(count("2"), 4);
    assert_eq!(count("3"), 5);
    assert_eq!(count("9"), 5);
    let down = env
        .dv(&[
            "lineage",
            "penguins@raw",
            "--down",
            "--depth",
            "2",
            "--json",
        ])
        .json();
    assert_eq!(down["nodes"].as_array().unwrap().len(), 3);
}

#[test]
fn lineage_as_dot() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_snapshot!(env.dv(&["lineage", "penguins@labeled", "--format", "dot"]), @r##"
    digraph lineage {
      rankdir=LR;
      node [shape=box, style="rounded,filled", fontname="monospace"];
      "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa" [label="d8531d5564e6\npenguins@labeled\npython code/label.py\nmodel=resnet", fillcolor="#d8f3dc"];
      "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38" [label="13dae304654b\npenguins@cleaned\npython code/clean.py\ndropna=true min_rows=1", fillcolor="#fff1c1"];
      "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f" [label="06605c66b7c5\npenguins@raw", fillcolor="#fde2e4"];
      "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38" -> "d8531d5564e61d7388a10a205719e8ff92def8918922c8ba12ff0b26053ef3fa";
      "06605c66b7c5d85d18fdedaf741bf820506b7877086a7753bf9f0afb4fda697f" -> "13dae304654b2a43a68e1967b9412e4d044c1a796b0632c3d5ba1c0956d26a38";
    }
    "##);
}

#[test]
fn lineage_svg_is_valid_xml_with_one_node_per_version() {
    let env = TestEnv::new();
    pipeline(&env);
    let out = env.dv(&["lineage", "penguins", "--format", "svg"]);
    assert_eq!(out.code, 0, "{out}");
    let doc = roxmltree::Document::parse(&out.stdout).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("version"))
        .filter_map(|n| n.attribute("id"))
        .collect();
    let json = env.dv(&["lineage", "penguins", "--json"]).json();
    let mut expected: Vec<String> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("v{}", n["id"].as_str().unwrap()))
        .collect();
    let mut ids: Vec<String> = ids.into_iter().map(String::from).collect();
    expected.sort();
    ids.sort();
    assert_eq!(ids, expected);
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_code_revision_is_read_from_the_real_git_repository() {
    let env = TestEnv::new();
    env.penguins();
    let repo = env.base().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("clean.py"), "print('v1')\n").unwrap();
    git(&repo, &["add", "clean.py"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let code = repo.join("clean.py");
    let code = code.to_str().unwrap();
    let clean = env
        .dv(&[
            "commit", "data", "-d", "p", "-s", "raw", "--code", code, "--json",
        ])
        .json();
    assert_eq!(
        clean["code_revision"],
        serde_json::json!({"commit": head, "branch": "main", "dirty": false})
    );
    assert_eq!(clean["code"][0]["path"], "$TEST_ENV/repo/clean.py");

    std::fs::write(repo.join("clean.py"), "print('v2')\n").unwrap();
    let dirty = env
        .dv(&[
            "commit", "data", "-d", "p", "-s", "cleaned", "--code", code, "--json",
        ])
        .json();
    assert_eq!(
        dirty["code_revision"],
        serde_json::json!({"commit": head, "branch": "main", "dirty": true})
    );

    // Outside any git repository the revision is simply absent.
    let none = env
        .dv(&["commit", "data", "-d", "p", "-s", "labeled", "--json"])
        .json();
    assert_eq!(none["code_revision"], serde_json::Value::Null);
}
