//! Pinning versions in lock files, materializing them, and verifying the data a run trains on.

use insta::assert_snapshot;

use crate::common::TestEnv;

/// penguins@raw and penguins@cleaned, with the raw one tagged `gold`; returns (raw, cleaned).
fn two_versions(env: &TestEnv) -> (String, String) {
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "species\nAdelie\n");
    std::os::unix::fs::symlink("penguins.csv", env.root().join("data/latest.csv")).unwrap();
    env.write("data/tool.sh", "#!/bin/sh\n");
    env.chmod_x("data/tool.sh");
    let cleaned = env.id(&[
        "commit", "data", "-d", "penguins", "-s", "cleaned", "--from", &raw,
    ]);
    env.ok(&["tag", &raw, "gold"]);
    (raw, cleaned)
}

fn lock_json(env: &TestEnv, file: &str) -> serde_json::Value {
    serde_json::from_slice(&env.read(file)).unwrap()
}

#[test]
fn every_revision_form_pins_the_same_full_id() {
    let env = TestEnv::new();
    let (raw, _) = two_versions(&env);
    for (rev, lock) in [
        ("gold", "a.lock"),
        ("penguins@raw", "b.lock"),
        (&raw[..6], "c.lock"),
        (&format!("dv://penguins@{}", &raw[..8]), "d.lock"),
    ] {
        env.ok(&[
            "pin",
            rev,
            "--as",
            "train",
            "--path",
            "train/penguins",
            "--lock",
            lock,
        ]);
        assert_eq!(
            lock_json(&env, lock)["pins"][0]["id"],
            raw.as_str(),
            "{rev}"
        );
    }
    assert_eq!(env.read("a.lock"), env.read("b.lock"));
    assert_eq!(env.read("a.lock"), env.read("c.lock"));
    assert_eq!(env.read("a.lock"), env.read("d.lock"));
}

#[test]
fn the_lock_file_is_stable_and_moving_a_tag_does_not_change_it() {
    let env = TestEnv::new();
    let (raw, cleaned) = two_versions(&env);
    assert_snapshot!(env.dv(&["pin", "gold", "--as", "train"]), @"
    ------- stderr -------
    Pinned train to c0c7a3aed35f (penguins@raw) at data in $TEST_ENV/ws/dv.lock.
    ");
    env.ok(&[
        "pin",
        "penguins@cleaned",
        "--as",
        "eval",
        "--path",
        "eval/penguins",
    ]);
    let before = env.read("dv.lock");
    assert_snapshot!(String::from_utf8(before.clone()).unwrap(), @r#"
    {
      "format": 1,
      "pins": [
        {
          "name": "eval",
          "dataset": "penguins",
          "id": "7a96d66abbf698085dc5b3eafe025c926849b3efeb0af5bf4ef4934541d5d504",
          "tree": "21377bf9625136a8d1b817ffb808a4198ed966250657de47e5a9cd3df7260743",
          "stage": "cleaned",
          "path": "eval/penguins"
        },
        {
          "name": "train",
          "dataset": "penguins",
          "id": "c0c7a3aed35f265bff041888bb49a732e8ce14081c74ebedaad78ad8c50c5f4c",
          "tree": "123ebd73f838b0f3751f48bae5e7f8a2f60b60cf274ad06ce227d0439f3a31c6",
          "stage": "raw",
          "path": "data"
        }
      ]
    }
    "#);
    env.ok(&["tag", &cleaned, "gold", "--force"]);
    assert_eq!(
        env.read("dv.lock"),
        before,
        "moving the tag must not change what is pinned"
    );
    assert_snapshot!(env.dv(&["pin", "--list"]), @"
    eval   7a96d66abbf6  penguins@cleaned  eval/penguins
    train  c0c7a3aed35f  penguins@raw      data
    ");
    assert_snapshot!(env.dv(&["pin", "gold", "--as", "train"]), @"
    ------- stderr -------
    Moved pin train to 7a96d66abbf6 (penguins@cleaned) at data (was c0c7a3aed35f) in $TEST_ENV/ws/dv.lock.
    ");
    assert_eq!(
        lock_json(&env, "dv.lock")["pins"][1]["id"],
        cleaned.as_str()
    );
    assert_snapshot!(env.dv(&["pin", "--remove", "eval"]), @"
    ------- stderr -------
    Removed pin eval (was 7a96d66abbf6) from $TEST_ENV/ws/dv.lock.
    ");
    assert_snapshot!(env.dv(&["pin", "--remove", "eval"]), @r#"
    ------- stderr -------
    error: Lock file $TEST_ENV/ws/dv.lock has no pin named "eval"
    hint: Pinned names: train.
    [exit status: 1]
    "#);
    let _ = raw;
}

#[test]
fn resolve_prints_the_exact_version_of_a_uri() {
    let env = TestEnv::new();
    let (raw, cleaned) = two_versions(&env);
    let json = env.dv(&["resolve", "dv://gold", "--json"]).json();
    assert_eq!(json["id"], raw.as_str());
    assert_eq!(json["stage"], "raw");
    assert_eq!(json["uri"], format!("dv://penguins@{raw}"));
    assert_eq!(
        env.id(&["resolve", &format!("dv://penguins@{cleaned}")]),
        cleaned
    );
    assert_eq!(env.id(&["resolve", "dv://penguins@cleaned"]), cleaned);
    env.write("other/a.txt", "a");
    env.ok(&["commit", "other", "-d", "other", "-s", "raw"]);
    let wrong = format!("dv://other@{}", &raw[..10]);
    assert_snapshot!(env.dv(&["resolve", &wrong]).stderr.replace(&raw[..12], "<raw>"), @r#"error: Invalid dv URI "dv://other@c0c7a3aed3": version <raw> belongs to dataset "penguins", not "other""#);
}

#[test]
fn materialize_then_verify_succeeds_and_rerunning_writes_nothing() {
    let env = TestEnv::new();
    two_versions(&env);
    env.ok(&[
        "pin",
        "penguins@raw",
        "--as",
        "train",
        "--path",
        "train/penguins",
    ]);
    env.ok(&[
        "pin",
        "penguins@cleaned",
        "--as",
        "eval",
        "--path",
        "eval/penguins",
    ]);
    assert_snapshot!(env.dv(&["materialize"]), @"
    ------- stderr -------
    eval: 7a96d66abbf6 at eval/penguins: 5 files written (79 B), 0 removed, 0 already correct.
    train: c0c7a3aed35f at train/penguins: 3 files written (106 B), 0 removed, 0 already correct.
    ");
    assert_eq!(env.read("train/penguins/meta/README.md"), b"# penguins\n");
    assert_eq!(
        std::fs::read_link(env.root().join("eval/penguins/latest.csv")).unwrap(),
        std::path::Path::new("penguins.csv")
    );
    assert_snapshot!(env.dv(&["verify"]), @"
    ok      eval  7a96d66abbf6  eval/penguins  (5 files)
    ok      train  c0c7a3aed35f  train/penguins  (3 files)
    ");
    assert_snapshot!(env.dv(&["verify", "--fast", "train"]), @"ok      train  c0c7a3aed35f  train/penguins  (3 files)");
    assert_snapshot!(env.dv(&["materialize", "train"]), @"
    ------- stderr -------
    train: c0c7a3aed35f at train/penguins: 0 files written (0 B), 0 removed, 3 already correct.
    ");
    let json = env.dv(&["verify", "--json"]).json();
    assert_eq!(json["ok"], true);
}

/// One way of damaging a materialized directory.
type Tamper<'a> = &'a dyn Fn(&TestEnv);

#[test]
fn each_kind_of_tampering_fails_verify_naming_the_path() {
    let env = TestEnv::new();
    two_versions(&env);
    env.ok(&[
        "pin",
        "penguins@cleaned",
        "--as",
        "eval",
        "--path",
        "eval/penguins",
    ]);
    let tamper: [(&str, Tamper); 5] = [
        ("changed byte", &|env| {
            env.write("eval/penguins/penguins.csv", "species\nAdelif\n")
        }),
        ("extra file", &|env| {
            env.write("eval/penguins/extra.txt", "x")
        }),
        ("missing file", &|env| {
            std::fs::remove_file(env.root().join("eval/penguins/meta/README.md")).unwrap()
        }),
        ("chmod +x", &|env| env.chmod_x("eval/penguins/penguins.csv")),
        ("symlink swapped for a file", &|env| {
            std::fs::remove_file(env.root().join("eval/penguins/latest.csv")).unwrap();
            env.write("eval/penguins/latest.csv", "species\nAdelie\n");
        }),
    ];
    let mut outputs = String::new();
    for (what, damage) in tamper {
        env.ok(&["materialize", "--force"]);
        env.ok(&["verify"]);
        damage(&env);
        for fast in [false, true] {
            let out = if fast {
                env.dv(&["verify", "--fast"])
            } else {
                env.dv(&["verify"])
            };
            assert_eq!(out.code, 1, "{what}: {out}");
            if !fast {
                outputs.push_str(&format!("# {what}\n{out}"));
            }
        }
    }
    assert_snapshot!(outputs, @"
    # changed byte
    FAILED  eval  7a96d66abbf6  eval/penguins
      M penguins.csv  (content differs)
    ------- stderr -------
    error: The directory differs from the version
    [exit status: 1]
    # extra file
    FAILED  eval  7a96d66abbf6  eval/penguins
      A extra.txt  (not in the version)
    ------- stderr -------
    error: The directory differs from the version
    [exit status: 1]
    # missing file
    FAILED  eval  7a96d66abbf6  eval/penguins
      D meta/README.md  (missing)
    ------- stderr -------
    error: The directory differs from the version
    [exit status: 1]
    # chmod +x
    FAILED  eval  7a96d66abbf6  eval/penguins
      X penguins.csv  (executable bit differs)
    ------- stderr -------
    error: The directory differs from the version
    [exit status: 1]
    # symlink swapped for a file
    FAILED  eval  7a96d66abbf6  eval/penguins
      T latest.csv  (file and symlink swapped)
    ------- stderr -------
    error: The directory differs from the version
    [exit status: 1]
    ");
}

#[test]
fn verify_rev_dir_checks_any_directory() {
    let env = TestEnv::new();
    let (raw, _) = two_versions(&env);
    env.ok(&["checkout", &raw, "--to", "../copy"]);
    assert_eq!(env.dv(&["verify", "penguins@raw", "../copy"]).code, 0);
    std::fs::write(env.base().join("copy/penguins.csv"), "tampered").unwrap();
    assert_snapshot!(env.dv(&["verify", "penguins@raw", "../copy"]), @"
    FAILED  penguins@raw  c0c7a3aed35f  $TEST_ENV/copy
      M penguins.csv  (content differs)
    ------- stderr -------
    error: The directory differs from the version
    [exit status: 1]
    ");
}

#[test]
fn hostile_or_malformed_lock_files_are_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let (raw, _) = two_versions(&env);
    let tree = env.dv(&["show", &raw, "--json"]).json()["tree"]
        .as_str()
        .unwrap()
        .to_string();
    let entry = |path: &str, id: &str| {
        format!(
            r#"{{"format": 1, "pins": [{{"name": "train", "dataset": "penguins", "id": "{id}", "tree": "{tree}", "stage": "raw", "path": "{path}"}}]}}"#
        )
    };
    let ghost = "0".repeat(64);
    let outside = format!("{}/elsewhere", env.base().display());
    let cases = [
        ("bad JSON", "{\"format\": 1, \"pins\": [".to_string()),
        ("unknown format", r#"{"format": 7, "pins": []}"#.to_string()),
        ("dot-dot path", entry("../../etc", &raw)),
        ("absolute path outside", entry(&outside, &raw)),
        ("unknown id", entry("train/penguins", &ghost)),
    ];
    let mut outputs = String::new();
    for (what, text) in cases {
        env.write("hostile.lock", &text);
        let out = env.dv(&["materialize", "--lock", "hostile.lock"]);
        assert_eq!(out.code, 1, "{what}: {out}");
        outputs.push_str(&format!("# {what}\n{out}"));
        assert!(!env.root().join("train").exists(), "{what}: wrote data");
        assert!(
            !env.base().join("elsewhere").exists(),
            "{what}: wrote outside the workspace"
        );
        assert!(
            !env.base().join("etc").exists(),
            "{what}: wrote outside the workspace"
        );
        assert_eq!(
            env.read("hostile.lock"),
            text.as_bytes(),
            "{what}: the lock file changed"
        );
    }
    assert_snapshot!(outputs, @r#"
    # bad JSON
    ------- stderr -------
    error: Invalid lock file $TEST_ENV/ws/hostile.lock: invalid JSON at line 1, column 23
    hint: Nothing was written. Fix or regenerate the lock file with `dv pin`.
    [exit status: 1]
    # unknown format
    ------- stderr -------
    error: Invalid lock file $TEST_ENV/ws/hostile.lock: it uses lock format 7, newer than this dv understands (1); upgrade dv
    hint: Nothing was written. Fix or regenerate the lock file with `dv pin`.
    [exit status: 1]
    # dot-dot path
    ------- stderr -------
    error: Lock file $TEST_ENV/ws/hostile.lock pins "train" to "../../etc", which is not allowed: it contains ".."
    hint: Pin paths must be relative directories inside the workspace; fix the entry with `dv pin REV --as NAME --path DIR`.
    [exit status: 1]
    # absolute path outside
    ------- stderr -------
    error: Lock file $TEST_ENV/ws/hostile.lock pins "train" to "$TEST_ENV/elsewhere", which is not allowed: it is not a directory inside the workspace
    hint: Pin paths must be relative directories inside the workspace; fix the entry with `dv pin REV --as NAME --path DIR`.
    [exit status: 1]
    # unknown id
    ------- stderr -------
    error: Lock file $TEST_ENV/ws/hostile.lock pins "train" to version 0000000000000000000000000000000000000000000000000000000000000000, which is not in this workspace
    hint: Fetch it from the remote the lock file's data came from, or pin a version this workspace has.
    [exit status: 1]
    "#);
}

#[test]
fn show_and_lineage_list_the_lock_files_that_pin_a_version() {
    let env = TestEnv::new();
    let (raw, _) = two_versions(&env);
    env.ok(&["pin", &raw, "--as", "train", "--lock", "configs/exp1.lock"]);
    let show = env.dv(&["show", &raw, "--json"]).json();
    assert_eq!(
        show["consumers"],
        serde_json::json!([{"lock": "$TEST_ENV/ws/configs/exp1.lock", "name": "train", "id": raw}])
    );
    assert_snapshot!(env.dv(&["lineage", &raw, "--down"]), @"
    c0c7a3aed35f penguins@raw
    └─ 7a96d66abbf6 penguins@cleaned
    pinned: c0c7a3aed35f by configs/exp1.lock (train)
    ");
}

#[test]
fn pin_refuses_a_path_that_leaves_the_workspace_and_writes_nothing() {
    let env = TestEnv::new();
    two_versions(&env);
    env.ok(&[
        "pin",
        "penguins@raw",
        "--as",
        "train",
        "--path",
        "train/penguins",
    ]);
    let before = env.read("dv.lock");
    assert_snapshot!(env.dv(&["pin", "penguins@cleaned", "--as", "train", "--path", "../../outside"]), @r#"
    ------- stderr -------
    error: Lock file $TEST_ENV/ws/dv.lock pins "train" to "../../outside", which is not allowed: it contains ".."
    hint: Pin paths must be relative directories inside the workspace; fix the entry with `dv pin REV --as NAME --path DIR`.
    [exit status: 1]
    "#);
    assert_eq!(env.read("dv.lock"), before);
}
