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
    06f6a77d27a4 penguins@training-ready  python code/split.py
    │            seed=7 -dropna -min_rows
    ├─ a164b7279c41 penguins@labeled  python code/label.py  model=resnet
    │  └─ 179db096387b penguins@cleaned  python code/clean.py
    │     │            dropna=true min_rows=1
    │     └─ 12d78d37f4dc penguins@raw
    └─ 10b130aeefbf islands@raw
    ");
}

#[test]
fn lineage_down_as_text() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_snapshot!(env.dv(&["lineage", "penguins@raw", "--down"]), @"
    12d78d37f4dc penguins@raw
    └─ 179db096387b penguins@cleaned  python code/clean.py  dropna=true min_rows=1
       └─ a164b7279c41 penguins@labeled  python code/label.py  model=resnet
          └─ 06f6a77d27a4 penguins@training-ready  python code/split.py
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
          "from": "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64",
          "to": "06f6a77d27a4b1fd758f7f2913855fcf7fc36f4e8218a4f226b281350a1ac245"
        },
        {
          "from": "10b130aeefbf91dea04d617be1a2c9c08986e65bb65a68125ad1e5aa0781f1af",
          "to": "06f6a77d27a4b1fd758f7f2913855fcf7fc36f4e8218a4f226b281350a1ac245"
        },
        {
          "from": "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e",
          "to": "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64"
        },
        {
          "from": "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9",
          "to": "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e"
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
          "format": 4,
          "host": "testhost",
          "id": "06f6a77d27a4b1fd758f7f2913855fcf7fc36f4e8218a4f226b281350a1ac245",
          "inputs": [
            "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64",
            "10b130aeefbf91dea04d617be1a2c9c08986e65bb65a68125ad1e5aa0781f1af"
          ],
          "message": null,
          "params": {
            "model": "resnet",
            "seed": 7
          },
          "path": "data",
          "profile": {
            "blob": "bbc9d42812a02f0d60d8cae1418dfc6dd09852708fb0ad0119baea63a5c2eeb3",
            "size": 326
          },
          "profile_tables": "d20a281a82881ef9a7da4f137a222b4e0df8102f4b085a66e68fdca5d894fa4a",
          "single_file": false,
          "stage": "training-ready",
          "transform": "python code/split.py",
          "tree": "76d9eca5864746193fccc04ef383a63b786a1d08b3630965963ffc4b9cf3f65f"
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
          "format": 4,
          "host": "testhost",
          "id": "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64",
          "inputs": [
            "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1,
            "model": "resnet"
          },
          "path": "data",
          "profile": {
            "blob": "426fddb145141bc277304c279ba4efc347ab5adae73437c71e6079aae73f3add",
            "size": 298
          },
          "profile_tables": "d20a281a82881ef9a7da4f137a222b4e0df8102f4b085a66e68fdca5d894fa4a",
          "single_file": false,
          "stage": "labeled",
          "transform": "python code/label.py",
          "tree": "8b8e0c4a09dffe6cc5627062af673d703c46eb89266e6e583dae26d664596b8d"
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
          "format": 4,
          "host": "testhost",
          "id": "10b130aeefbf91dea04d617be1a2c9c08986e65bb65a68125ad1e5aa0781f1af",
          "inputs": [],
          "message": "island areas",
          "params": {},
          "path": "islands",
          "profile": {
            "blob": "70fcb6d2e7360086b13ff8d2b2cbee101bdb7e41bd7ea39a30eee875d08b737e",
            "size": 209
          },
          "profile_tables": "afc052f1144ddb293335b034ff0e7627199f8ea8134baa0802f5f020a90f666d",
          "single_file": false,
          "stage": "raw",
          "transform": null,
          "tree": "b9e8569c48dfe591586edeea2846810ad22e1e72eeff9e897b6f2ff4ba5fb1ca"
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
          "format": 4,
          "host": "testhost",
          "id": "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e",
          "inputs": [
            "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1
          },
          "path": "data",
          "profile": {
            "blob": "f2bb7195bd2897940b0508f5903826d6a3bfd50b7060f2be8163fd05643c7bda",
            "size": 297
          },
          "profile_tables": "fbafa09ccb758f447eaba79fe745d99fbd2434b9335e2f25eac52712e10a3712",
          "single_file": false,
          "stage": "cleaned",
          "transform": "python code/clean.py",
          "tree": "8402d2b6c305dc281f56c8f74a70713ebdc934468b58c174406760303911d8a2"
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
          "format": 4,
          "host": "testhost",
          "id": "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9",
          "inputs": [],
          "message": "field data",
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
      ],
      "start": "06f6a77d27a4b1fd758f7f2913855fcf7fc36f4e8218a4f226b281350a1ac245"
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
          "from": "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9",
          "to": "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e"
        },
        {
          "from": "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e",
          "to": "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64"
        },
        {
          "from": "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64",
          "to": "06f6a77d27a4b1fd758f7f2913855fcf7fc36f4e8218a4f226b281350a1ac245"
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
          "format": 4,
          "host": "testhost",
          "id": "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9",
          "inputs": [],
          "message": "field data",
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
          "format": 4,
          "host": "testhost",
          "id": "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e",
          "inputs": [
            "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1
          },
          "path": "data",
          "profile": {
            "blob": "f2bb7195bd2897940b0508f5903826d6a3bfd50b7060f2be8163fd05643c7bda",
            "size": 297
          },
          "profile_tables": "fbafa09ccb758f447eaba79fe745d99fbd2434b9335e2f25eac52712e10a3712",
          "single_file": false,
          "stage": "cleaned",
          "transform": "python code/clean.py",
          "tree": "8402d2b6c305dc281f56c8f74a70713ebdc934468b58c174406760303911d8a2"
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
          "format": 4,
          "host": "testhost",
          "id": "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64",
          "inputs": [
            "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e"
          ],
          "message": null,
          "params": {
            "dropna": true,
            "min_rows": 1,
            "model": "resnet"
          },
          "path": "data",
          "profile": {
            "blob": "426fddb145141bc277304c279ba4efc347ab5adae73437c71e6079aae73f3add",
            "size": 298
          },
          "profile_tables": "d20a281a82881ef9a7da4f137a222b4e0df8102f4b085a66e68fdca5d894fa4a",
          "single_file": false,
          "stage": "labeled",
          "transform": "python code/label.py",
          "tree": "8b8e0c4a09dffe6cc5627062af673d703c46eb89266e6e583dae26d664596b8d"
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
          "format": 4,
          "host": "testhost",
          "id": "06f6a77d27a4b1fd758f7f2913855fcf7fc36f4e8218a4f226b281350a1ac245",
          "inputs": [
            "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64",
            "10b130aeefbf91dea04d617be1a2c9c08986e65bb65a68125ad1e5aa0781f1af"
          ],
          "message": null,
          "params": {
            "model": "resnet",
            "seed": 7
          },
          "path": "data",
          "profile": {
            "blob": "bbc9d42812a02f0d60d8cae1418dfc6dd09852708fb0ad0119baea63a5c2eeb3",
            "size": 326
          },
          "profile_tables": "d20a281a82881ef9a7da4f137a222b4e0df8102f4b085a66e68fdca5d894fa4a",
          "single_file": false,
          "stage": "training-ready",
          "transform": "python code/split.py",
          "tree": "76d9eca5864746193fccc04ef383a63b786a1d08b3630965963ffc4b9cf3f65f"
        }
      ],
      "start": "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9"
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
      "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64" [label="a164b7279c41\npenguins@labeled\npython code/label.py\nmodel=resnet", fillcolor="#d8f3dc"];
      "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e" [label="179db096387b\npenguins@cleaned\npython code/clean.py\ndropna=true min_rows=1", fillcolor="#fff1c1"];
      "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9" [label="12d78d37f4dc\npenguins@raw", fillcolor="#fde2e4"];
      "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e" -> "a164b7279c4177ad916308d1821294eacba4f6cc76709927697c2d441c658e64";
      "12d78d37f4dc0061914fab85055c275fbb295f901d6ca58f864493f77e946ba9" -> "179db096387b55ee88b39b60cdd5594d4e594cede0fa516e816b7172b04a7b3e";
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
    // Outside the workspace, a code file is named by its path in its repository.
    assert_eq!(clean["code"][0]["path"], "clean.py");
    assert_eq!(clean["code"][0]["base"], "repository");

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
