use insta::assert_snapshot;

use crate::common::TestEnv;

/// The index is derived data: delete it, rebuild it, and every command answers as before.
#[test]
fn deleting_the_index_and_reindexing_changes_nothing() {
    let env = TestEnv::new();
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "v2\n");
    env.ok(&[
        "commit", "data", "-d", "penguins", "-s", "cleaned", "--from", &raw, "--param", "x=1",
    ]);
    env.ok(&["tag", &raw, "gold"]);
    let queries: [&[&str]; 5] = [
        &["log", "--json"],
        &["show", "gold", "--files", "--json"],
        &["show", "penguins@cleaned~1", "--json"],
        &["tag", "--list", "--json"],
        &["status", "--json"],
    ];
    let before: Vec<String> = queries.iter().map(|q| env.ok(q)).collect();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(env.root().join(format!(".dv/index.sqlite{suffix}")));
    }
    assert_snapshot!(env.dv(&["reindex"]), @"
    ------- stderr -------
    Rebuilt the index: 2 versions, 1 tag.
    ");
    let after: Vec<String> = queries.iter().map(|q| env.ok(q)).collect();
    assert_eq!(before, after);

    // Without an explicit reindex, a missing or damaged index is rebuilt on open.
    std::fs::write(env.root().join(".dv/index.sqlite"), "not a database").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(env.root().join(format!(".dv/index.sqlite{suffix}")));
    }
    let rebuilt: Vec<String> = queries.iter().map(|q| env.ok(q)).collect();
    assert_eq!(before, rebuilt);
}

#[test]
fn reindex_json_reports_counts() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    assert_eq!(
        env.dv(&["reindex", "--json"]).json(),
        serde_json::json!({"versions": 1, "tags": 0, "skipped": [], "damaged_tags": []})
    );
}
