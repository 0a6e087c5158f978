use insta::assert_snapshot;

use crate::common::TestEnv;

#[test]
fn init_makes_a_workspace_with_default_stages() {
    let env = TestEnv::bare();
    let out = env.dv(&["init"]);
    assert_snapshot!(out, @"
    ------- stderr -------
    Initialized an empty dv workspace in $TEST_ENV/ws/.dv
    ");
    let config = std::fs::read_to_string(env.root().join(".dv/config.json")).unwrap();
    assert_snapshot!(config, @r#"
    {
      "format": 3,
      "stages": [
        "raw",
        "cleaned",
        "labeled",
        "training-ready"
      ]
    }
    "#);
}

#[test]
fn init_in_a_new_directory_with_custom_stages_and_json() {
    let env = TestEnv::bare();
    let out = env.dv(&["init", "proj", "--stages", "ingest,train", "--json"]);
    assert_eq!(
        out.json(),
        serde_json::json!({"root": format!("$TEST_ENV/ws/proj"), "stages": ["ingest", "train"]})
    );
    env.write("proj/d/a.txt", "a");
    let out = env.dv_in(
        &env.root().join("proj"),
        &["commit", "d", "-d", "x", "-s", "raw"],
    );
    assert_snapshot!(out, @r#"
    ------- stderr -------
    error: Unknown stage "raw"
    hint: Valid stages are: ingest, train.
    [exit status: 1]
    "#);
}

#[test]
fn init_twice_is_an_error() {
    let env = TestEnv::new();
    assert_snapshot!(env.dv(&["init"]), @"
    ------- stderr -------
    error: A dv workspace already exists at $TEST_ENV/ws
    [exit status: 1]
    ");
}

#[test]
fn commands_outside_a_workspace_say_how_to_make_one() {
    let env = TestEnv::bare();
    assert_snapshot!(env.dv(&["log"]), @"
    ------- stderr -------
    error: Not inside a dv workspace (searched from $TEST_ENV/ws upwards)
    hint: Run `dv init` to make one here, or cd into an existing workspace.
    [exit status: 1]
    ");
}

#[test]
fn commands_find_the_workspace_from_a_subdirectory() {
    let env = TestEnv::new();
    env.penguins();
    let out = env.dv_in(
        &env.root().join("data/meta"),
        &["commit", ".", "-d", "meta", "-s", "raw"],
    );
    assert_eq!(out.code, 0, "{out}");
    let log = env
        .dv_in(&env.root().join("data"), &["log", "--json"])
        .json();
    assert_eq!(log[0]["path"], "data/meta");
    assert_eq!(log[0]["files"], 2);
}

#[test]
fn a_newer_workspace_format_is_refused() {
    let env = TestEnv::new();
    std::fs::write(
        env.root().join(".dv/config.json"),
        r#"{"format": 99, "stages": ["raw"]}"#,
    )
    .unwrap();
    assert_snapshot!(env.dv(&["log"]), @"
    ------- stderr -------
    error: This workspace uses format 99, but this dv only understands format 3 or older
    hint: Upgrade dv to work with this workspace.
    [exit status: 1]
    ");
}

#[test]
fn init_on_a_file_is_an_error() {
    let env = TestEnv::bare();
    env.write("afile", "x\n");
    assert_snapshot!(env.dv(&["init", "afile"]), @"
    ------- stderr -------
    error: Path $TEST_ENV/ws/afile is a file, expected a directory
    hint: Move it out of the way, or choose another directory.
    [exit status: 1]
    ");
    assert_eq!(env.read("afile"), b"x\n");
}

#[test]
fn a_format_1_workspace_is_upgraded_and_keeps_its_versions() {
    let env = TestEnv::new();
    env.penguins();
    let id = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    // Format 1 had no packs: every object was its own file.
    let config = env.root().join(".dv/config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"format\": 3", "\"format\": 1")).unwrap();
    std::fs::remove_dir_all(env.root().join(".dv/objects/pack")).unwrap();
    // A reader reads format 1 as it is and changes nothing; the next writer upgrades it.
    let out = env.dv(&["log"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("\"format\": 1")
    );
    env.ok(&["tag", &id, "before-upgrade"]);
    let upgraded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(upgraded["format"], 3);
    env.write("data/new.txt", "new\n");
    env.ok(&[
        "commit", "data", "-d", "penguins", "-s", "cleaned", "--from", &id,
    ]);
    env.ok(&["checkout", "penguins@cleaned", "--to", "out"]);
    assert_eq!(env.read("out/new.txt"), b"new\n");
}
