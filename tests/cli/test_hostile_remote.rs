//! Hostile input, round two: what a crafted remote, workspace or file tried to do to dv, each
//! case built from crafted bytes here and pinned.

use std::path::Path;

use crate::common::TestEnv;

/// A workspace with one version of `d@raw` pushed to a directory remote `origin` at
/// `<base>/remote`; returns the version id.
fn pushed(env: &TestEnv) -> String {
    env.write("data/a.csv", "x,y\n1,2\n");
    let id = env.id(&["commit", "data", "-d", "d", "-s", "raw"]);
    let remote = env.base().join("remote");
    env.ok(&["remote", "add", "origin", remote.to_str().unwrap()]);
    env.ok(&["push"]);
    id
}

/// Places a canonical lifecycle event for `version` on the directory remote at `remote`.
fn plant_event(remote: &Path, version: &str, event: &str) {
    let bytes = event.as_bytes();
    let id = blake3::hash(bytes).to_hex().to_string();
    let dir = remote.join("lifecycle").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(id), bytes).unwrap();
}

/// A retire event dated at the end of time, as a forger (or a broken clock) would write it.
fn far_future_retire(version: &str) -> String {
    // Fields in the canonical order dv writes them.
    format!(
        r#"{{"format":1,"version":"{version}","state":"retired","reason":"forged","use":null,"at":"9999-12-31T23:59:59.999999Z","author":"mallory"}}"#
    )
}

#[test]
fn a_far_future_lifecycle_event_cannot_pin_a_state() {
    let env = TestEnv::new();
    let id = pushed(&env);
    let remote = env.base().join("remote");
    plant_event(&remote, &id, &far_future_retire(&id));
    env.ok(&["fetch"]);
    assert!(
        env.ok(&["log"]).contains("[retired]"),
        "the forged event arrived"
    );

    // Unretiring supersedes the forged event: the state really changes, and gc keeps the data.
    env.ok(&["unretire", &id]);
    assert!(!env.ok(&["log"]).contains("[retired]"));
    assert_eq!(
        env.dv(&["show", &id, "--json"]).json()["lifecycle"],
        serde_json::Value::Null
    );
    env.ok(&["gc", "--prune"]);
    env.ok(&["checkout", &id, "--to", "../out"]);
    assert_eq!(
        std::fs::read(env.base().join("out/a.csv")).unwrap(),
        b"x,y\n1,2\n"
    );
    env.ok(&["push"]);

    // A fresh clone of a remote holding only the forged retirement: the version is retired
    // there, and unretiring fetches its data instead of leaving it stuck.
    let forged_only = env.base().join("forged");
    let other = TestEnv::new();
    other.write("data/a.csv", "x,y\n1,2\n");
    let same = other.id(&["commit", "data", "-d", "d", "-s", "raw"]);
    other.ok(&["remote", "add", "origin", forged_only.to_str().unwrap()]);
    other.ok(&["push"]);
    plant_event(&forged_only, &same, &far_future_retire(&same));
    let clone = env.dv_in(
        env.base(),
        &["clone", forged_only.to_str().unwrap(), "fresh"],
    );
    assert_eq!(clone.code, 0, "{clone}");
    let fresh = env.base().join("fresh");
    let pull = env.dv_in(&fresh, &["pull", &same]);
    assert_eq!(pull.code, 1, "{pull}");
    assert!(pull.stderr.contains("is retired"), "{pull}");
    let unretire = env.dv_in(&fresh, &["unretire", &same]);
    assert_eq!(unretire.code, 0, "{unretire}");
    let checkout = env.dv_in(&fresh, &["checkout", &same, "--to", "../fresh-out"]);
    assert_eq!(checkout.code, 0, "{checkout}");
    assert_eq!(
        std::fs::read(env.base().join("fresh-out/a.csv")).unwrap(),
        b"x,y\n1,2\n"
    );
}
