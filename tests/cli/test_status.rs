use insta::{assert_json_snapshot, assert_snapshot};

use crate::common::TestEnv;

#[test]
fn status_reports_each_kind_of_change() {
    let env = TestEnv::new();
    env.penguins();
    env.write("data/tool.sh", "#!/bin/sh\n");
    std::os::unix::fs::symlink("penguins.csv", env.root().join("data/latest")).unwrap();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    assert_snapshot!(env.dv(&["status"]), @"data: no changes since penguins 4c13c1174f6e");
    env.write("data/penguins.csv", "changed\n");
    env.write("data/new/file.txt", "new\n");
    std::fs::remove_file(env.root().join("data/meta/README.md")).unwrap();
    env.chmod_x("data/tool.sh");
    std::fs::remove_file(env.root().join("data/latest")).unwrap();
    env.write("data/latest", "now a file\n");
    assert_snapshot!(env.dv(&["status"]), @"
    data: changes since penguins 4c13c1174f6e
      T latest
      D meta/README.md
      A new/file.txt
      M penguins.csv
      X tool.sh
    ");
    assert_json_snapshot!(env.dv(&["status", "data", "--json"]).json(), @r#"
    [
      {
        "added": [
          "new/file.txt"
        ],
        "base": "4c13c1174f6ed44a7ad47b63816b1a45ecd5f84dddc1a9451a0672cc233d8076",
        "clean": false,
        "dataset": "penguins",
        "mode_changed": [
          "tool.sh"
        ],
        "modified": [
          "penguins.csv"
        ],
        "path": "data",
        "removed": [
          "meta/README.md"
        ],
        "type_changed": [
          "latest"
        ]
      }
    ]
    "#);
}

#[test]
fn status_of_a_path_inside_a_tracked_directory_is_limited_to_it() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "changed\n");
    env.write("data/meta/README.md", "changed\n");
    assert_snapshot!(env.dv(&["status", "data/meta"]), @"
    data: changes since penguins c0c7a3aed35f
      M meta/README.md
    ");
}

#[test]
fn status_of_an_untracked_path_is_an_error() {
    let env = TestEnv::new();
    env.penguins();
    assert_snapshot!(env.dv(&["status", "data"]), @"
    ------- stderr -------
    error: Nothing tracked at data
    hint: Commit it with `dv commit PATH --dataset NAME --stage STAGE`, or check a version out there.
    [exit status: 1]
    ");
    assert_snapshot!(env.dv(&["status"]), @"
    ------- stderr -------
    Nothing is tracked yet: commit a directory with `dv commit`.
    ");
}

/// A file rewritten right after a commit, with the same size, must not hide behind the stat
/// cache (the racy-timestamp case).
#[test]
fn a_same_size_rewrite_right_after_commit_is_detected() {
    let env = TestEnv::new();
    env.write("data/a.txt", "aaaa");
    env.ok(&["commit", "data", "-d", "a", "-s", "raw"]);
    env.write("data/a.txt", "bbbb");
    let status = env.dv(&["status", "--json"]).json();
    assert_eq!(status[0]["modified"], serde_json::json!(["a.txt"]));
}
