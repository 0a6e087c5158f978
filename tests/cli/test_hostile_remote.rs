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

#[test]
fn a_version_record_that_expands_past_its_bound_is_refused_before_it_is_parsed() {
    let env = TestEnv::new();
    let id = pushed(&env);
    let remote = env.base().join("remote");
    let stored = std::fs::read(remote.join("versions").join(&id)).unwrap();
    let json = zstd::decode_all(&stored[16..]).unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // 64 MiB of message in a frame of a few KB, under the id of its own bytes.
    record["message"] = serde_json::Value::String("A".repeat(64 << 20));
    let bomb = serde_json::to_vec(&record).unwrap();
    let bomb_id = blake3::hash(&bomb).to_hex().to_string();
    let mut object = b"dvob\x02v\x01\x00".to_vec();
    object.extend_from_slice(&(bomb.len() as u64).to_le_bytes());
    object.extend_from_slice(&zstd::encode_all(&bomb[..], 19).unwrap());
    assert!(
        object.len() < 64 << 10,
        "the bomb is small: {}",
        object.len()
    );
    std::fs::write(remote.join("versions").join(&bomb_id), &object).unwrap();

    let fetch = env.dv(&["fetch"]);
    assert_eq!(fetch.code, 1, "{fetch}");
    assert!(
        fetch.stderr.contains(&format!(
            "error: Remote origin: the version {bomb_id} it sent is damaged, so it was not stored"
        )) && fetch
            .stderr
            .contains("its header claims 67109314 bytes, more than any such object may hold"),
        "{fetch}"
    );
    assert_eq!(
        env.dv(&["log", "--json"]).json().as_array().unwrap().len(),
        1
    );

    // A message longer than a version may carry is refused at commit, not written.
    env.write("data/b.csv", "x\n");
    let long = "m".repeat(65 << 10);
    let commit = env.dv(&["commit", "data", "-d", "d", "-s", "raw", "-m", &long]);
    assert_eq!(commit.code, 1, "{commit}");
    assert_eq!(
        commit.stderr.lines().next().unwrap(),
        "error: The message is 66560 bytes; a version message is at most 65536 bytes"
    );
}

#[test]
fn fsck_checks_a_versions_profile_blob() {
    let env = TestEnv::new();
    env.write("data/a.csv", "x,y\n1,2\n");
    env.ok(&["commit", "data", "-d", "d", "-s", "raw"]);
    let show = env.dv(&["show", "d", "--json"]).json();
    let blob = dv::Hash::from_hex(show["profile"]["blob"].as_str().unwrap()).unwrap();
    env.ok(&["fsck"]);
    env.damage_object(dv::store::Kind::Blob, &blob, 1);
    let fsck = env.dv(&["fsck", "--json"]);
    assert_eq!(fsck.code, 1, "{fsck}");
    let report = fsck.json();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["kind"], "blob", "{report:#}");
    assert_eq!(findings[0]["id"], blob.to_hex(), "{report:#}");
    let affects = findings[0]["affects"].as_array().unwrap();
    assert_eq!(affects.len(), 1, "{report:#}");
    assert_eq!(affects[0]["path"], "profile", "{report:#}");
}
