//! Bad input: a clear message, a hint where one helps, exit code 1 (2 for bad usage), never a
//! panic, and nothing written.

use insta::assert_snapshot;

use crate::common::TestEnv;

#[test]
fn missing_path() {
    let env = TestEnv::new();
    assert_snapshot!(env.dv(&["commit", "nope", "-d", "x", "-s", "raw"]), @"
    ------- stderr -------
    error: Path nope does not exist
    hint: Check the path for typos.
    [exit status: 1]
    ");
}

#[test]
fn path_outside_the_workspace() {
    let env = TestEnv::new();
    std::fs::create_dir(env.base().join("outside")).unwrap();
    assert_snapshot!(env.dv(&["commit", "../outside", "-d", "x", "-s", "raw"]), @"
    ------- stderr -------
    error: Path ../outside is outside the workspace at $TEST_ENV/ws
    hint: Data must live inside the workspace: move it there, or run `dv init` in a directory that contains it.
    [exit status: 1]
    ");
}

#[test]
fn unknown_stage_lists_the_valid_ones() {
    let env = TestEnv::new();
    env.penguins();
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "labled"]), @r#"
    ------- stderr -------
    error: Unknown stage "labled"
    hint: Valid stages are: raw, cleaned, labeled, training-ready.
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["log", "--stage", "labled"]), @r#"
    ------- stderr -------
    error: Unknown stage "labled"
    hint: Valid stages are: raw, cleaned, labeled, training-ready.
    [exit status: 1]
    "#);
}

#[test]
fn invalid_dataset_name() {
    let env = TestEnv::new();
    env.penguins();
    assert_snapshot!(env.dv(&["commit", "data", "-d", "my data", "-s", "raw"]), @r#"
    ------- stderr -------
    error: Invalid dataset name "my data": only letters, digits, '.', '_' and '-' are allowed
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["commit", "data", "-d", "a@b", "-s", "raw"]), @r#"
    ------- stderr -------
    error: Invalid dataset name "a@b": only letters, digits, '.', '_' and '-' are allowed
    [exit status: 1]
    "#);
}

#[test]
fn invalid_param_syntax() {
    let env = TestEnv::new();
    env.penguins();
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "raw", "--param", "lr"]), @r#"
    ------- stderr -------
    error: Invalid --param "lr": expected KEY=VALUE
    hint: Write parameters as KEY=VALUE, for example --param lr=0.001.
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "raw", "--param", "=3"]), @r#"
    ------- stderr -------
    error: Invalid --param "=3": expected KEY=VALUE
    hint: Write parameters as KEY=VALUE, for example --param lr=0.001.
    [exit status: 1]
    "#);
}

#[test]
fn invalid_params_file() {
    let env = TestEnv::new();
    env.penguins();
    env.write("p.json", "{\n  \"a\": 1,\n  \"b\": \n}\n");
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "raw", "--params-file", "p.json"]), @"
    ------- stderr -------
    error: Invalid JSON in params file p.json at line 4, column 1: expected value
    [exit status: 1]
    ");
    env.write("q.json", "[1, 2]");
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "raw", "--params-file", "q.json"]), @"
    ------- stderr -------
    error: Params file q.json must hold a JSON object, found an array
    [exit status: 1]
    ");
}

#[test]
fn unknown_input_revision() {
    let env = TestEnv::new();
    env.penguins();
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "raw", "--from", "ghost"]), @r#"
    ------- stderr -------
    error: Revision "ghost" doesn't exist
    hint: There are no versions yet; make one with `dv commit`.
    [exit status: 1]
    "#);
}

#[test]
fn unreadable_file_names_the_path_and_commits_nothing() {
    let env = TestEnv::new();
    env.penguins();
    let path = env.root().join("data/penguins.csv");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    assert_snapshot!(env.dv_unprivileged(&["commit", "data", "-d", "x", "-s", "raw"]), @"
    ------- stderr -------
    error: Cannot access $TEST_ENV/ws/data/penguins.csv: Permission denied (os error 13)
    hint: Fix the permissions, or exclude the path with a .dvignore file.
    [exit status: 1]
    ");
    assert_eq!(env.dv(&["log", "--json"]).json(), serde_json::json!([]));
}

#[test]
fn unreadable_directory_names_the_path_and_commits_nothing() {
    let env = TestEnv::new();
    env.penguins();
    let dir = env.root().join("data/meta");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let out = env.dv_unprivileged(&["commit", "data", "-d", "x", "-s", "raw"]);
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_snapshot!(out, @"
    ------- stderr -------
    error: Cannot access $TEST_ENV/ws/data/meta: Permission denied (os error 13)
    hint: Fix the permissions, or exclude the path with a .dvignore file.
    [exit status: 1]
    ");
    assert_eq!(env.dv(&["log", "--json"]).json(), serde_json::json!([]));
}

#[test]
fn a_fifo_is_refused_with_a_hint() {
    let env = TestEnv::new();
    env.penguins();
    let status = std::process::Command::new("mkfifo")
        .arg(env.root().join("data/pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_snapshot!(env.dv(&["commit", "data", "-d", "x", "-s", "raw"]), @"
    ------- stderr -------
    error: Cannot snapshot $TEST_ENV/ws/data/pipe: it is a named pipe, and only files, directories and symlinks can be stored
    hint: Exclude it with a .dvignore file.
    [exit status: 1]
    ");
}

#[test]
fn bad_usage_exits_2() {
    let env = TestEnv::new();
    let out = env.dv(&["commit", "data"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--dataset <DATASET>"), "{out}");
    assert_eq!(env.dv(&["frobnicate"]).code, 2);
}

#[test]
fn invalid_timestamp_override() {
    let env = TestEnv::new();
    env.penguins();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dv"))
        .args(["commit", "data", "-d", "x", "-s", "raw"])
        .current_dir(env.root())
        .env("DV_TIMESTAMP", "yesterday")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_snapshot!(String::from_utf8_lossy(&out.stderr), @r#"error: Invalid DV_TIMESTAMP="yesterday": expected an RFC 3339 time such as 2026-11-22T07:08:34Z (premature end of input)"#);
}

#[test]
fn non_utf8_file_names_are_stored_faithfully() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::create_dir(env.root().join("data")).unwrap();
    std::fs::write(env.root().join("data").join(name), "latin-1 name").unwrap();
    let id = env.id(&["commit", "data", "-d", "x", "-s", "raw"]);
    env.ok(&["checkout", &id, "--to", "out"]);
    assert_eq!(
        std::fs::read(env.root().join("out").join(name)).unwrap(),
        b"latin-1 name"
    );
    let files = env.dv(&["show", &id, "--files", "--json"]).json();
    assert_eq!(files["file_list"][0]["path"], "caf\u{fffd}.txt");
}

#[test]
fn a_file_where_a_directory_is_expected() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("target.txt", "not a directory\n");
    assert_snapshot!(env.dv(&["checkout", "penguins", "--to", "target.txt"]), @"
    ------- stderr -------
    error: Path $TEST_ENV/ws/target.txt is a file, expected a directory
    hint: Move it out of the way, or choose another directory.
    [exit status: 1]
    ");
    assert_eq!(env.read("target.txt"), b"not a directory\n");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let env = TestEnv::new();
    for i in 0..30 {
        env.write("data/a.txt", format!("{i}"));
        env.ok(&["commit", "data", "-d", "d", "-s", "raw"]);
    }
    let script = format!(
        "set -o pipefail; '{}' log | head -n 1 > /dev/null",
        env!("CARGO_BIN_EXE_dv")
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(env.root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn directories_nested_deeper_than_the_limit_are_refused_at_commit() {
    let env = TestEnv::new();
    let deep = vec!["d"; 300].join("/");
    env.write(&format!("data/{deep}/f.txt"), "deep");
    let out = env.dv(&["commit", "data", "-d", "x", "-s", "raw"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("is nested deeper than 256 directories"),
        "{out}"
    );
    assert_eq!(env.dv(&["log", "--json"]).json(), serde_json::json!([]));
    // A chain of empty directories far deeper than the limit is refused the same way, not
    // walked to the end.
    std::fs::remove_dir_all(env.root().join("data")).unwrap();
    std::fs::create_dir_all(env.root().join("data").join(vec!["e"; 1500].join("/"))).unwrap();
    let out = env.dv(&["commit", "data", "-d", "x", "-s", "raw"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("is nested deeper than 256 directories"),
        "{out}"
    );
}

#[test]
fn a_remote_failure_shows_what_caused_it() {
    // A port nothing listens on: the transport's own error says "error sending request", and
    // only its causes say why.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = TestEnv::new();
    env.write("a.txt", "a\n");
    env.ok(&["commit", "a.txt", "-d", "a", "-s", "raw"]);
    let endpoint = format!("http://127.0.0.1:{port}");
    env.ok(&[
        "remote",
        "add",
        "s3",
        "s3://bucket/p",
        "--endpoint",
        &endpoint,
        "--allow-http",
    ]);
    let out = env.dv_env(
        &[("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")],
        &["push", "s3"],
    );
    assert_eq!(out.code, 1);
    let stderr = out.stderr;
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: Remote s3: reading dv-remote.json failed: "),
        "{stderr}"
    );
    assert!(
        lines.contains(&"  caused by: Connection refused (os error 111)"),
        "{stderr}"
    );
    assert_eq!(
        lines.last(),
        Some(
            &"hint: Check the remote's address and credentials (`dv remote list`), then run the command again: what was already transferred and verified is kept."
        ),
        "{stderr}"
    );
}
