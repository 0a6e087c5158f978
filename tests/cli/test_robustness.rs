//! Promises 2 and 3: a killed commit leaves a consistent workspace, and concurrent commits
//! into one workspace both succeed without corrupting anything.

use crate::common::TestEnv;
use crate::describe::describe;

/// 150 files of 64 KiB: enough work that a kill lands mid-commit.
fn bulky(env: &TestEnv, dir: &str, seed: u8) {
    for i in 0..150u32 {
        let bytes: Vec<u8> = (0..65_536u32)
            .map(|j| (j.wrapping_mul(i + 7) >> 3) as u8 ^ seed)
            .collect();
        env.write(&format!("{dir}/part-{:03}/{i}.bin", i % 10), bytes);
    }
}

#[test]
fn a_commit_killed_at_any_moment_leaves_a_working_workspace() {
    let env = TestEnv::new();
    bulky(&env, "data", 1);
    for delay_ms in [0u64, 5, 20, 60, 150] {
        let mut child = env.spawn(&[
            "commit",
            "data",
            "-d",
            "bulk",
            "-s",
            "raw",
            "-m",
            &format!("killed after {delay_ms} ms"),
        ]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The workspace still answers, and every version it lists is whole.
        let log = env.dv(&["log", "--json"]).json();
        for version in log.as_array().unwrap() {
            let id = version["id"].as_str().unwrap();
            let out = env.dv(&["checkout", id, "--to", "../verify", "--force"]);
            assert_eq!(out.code, 0, "{out}");
            assert_eq!(
                describe(&env.base().join("verify")),
                describe(&env.root().join("data"))
            );
            std::fs::remove_dir_all(env.base().join("verify")).unwrap();
        }
    }
    // And the next commit works.
    let out = env.dv(&[
        "commit",
        "data",
        "-d",
        "bulk",
        "-s",
        "raw",
        "-m",
        "after the kills",
    ]);
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn concurrent_commits_into_one_workspace_both_succeed() {
    let env = TestEnv::new();
    bulky(&env, "a", 1);
    bulky(&env, "b", 2);
    let first = env.spawn(&["commit", "a", "-d", "a", "-s", "raw"]);
    let second = env.spawn(&["commit", "b", "-d", "b", "-s", "raw"]);
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let log = env.dv(&["log", "--json"]).json();
    assert_eq!(log.as_array().unwrap().len(), 2);
    for dataset in ["a", "b"] {
        env.ok(&["checkout", dataset, "--to", &format!("../out-{dataset}")]);
        assert_eq!(
            describe(&env.base().join(format!("out-{dataset}"))),
            describe(&env.root().join(dataset))
        );
    }
    assert_eq!(
        env.dv(&["status", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A checkout killed midway leaves whole files; the next checkout finishes it without
/// `--force`, but still refuses to overwrite a change a user made in between.
#[test]
fn an_interrupted_checkout_is_finished_by_the_next_one() {
    let env = TestEnv::new();
    bulky(&env, "data", 1);
    let one = env.id(&["commit", "data", "-d", "bulk", "-s", "raw"]);
    std::fs::remove_dir_all(env.root().join("data")).unwrap();
    bulky(&env, "data", 2);
    let two = env.id(&["commit", "data", "-d", "bulk", "-s", "cleaned"]);
    let expected_one = {
        env.ok(&["checkout", &one, "--to", "../ref-one"]);
        describe(&env.base().join("ref-one"))
    };
    for delay_ms in [0u64, 10, 30, 80] {
        env.ok(&["checkout", &two, "--force"]);
        let mut child = env.spawn(&["checkout", &one]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = env.dv(&["checkout", &one]);
        assert_eq!(out.code, 0, "after a kill at {delay_ms} ms: {out}");
        assert_eq!(
            describe(&env.root().join("data")),
            expected_one,
            "after a kill at {delay_ms} ms"
        );
        assert_eq!(env.dv(&["status", "--json"]).json()[0]["clean"], true);
    }
    // A user's edit made after an interruption is protected.
    env.ok(&["checkout", &two, "--force"]);
    let mut worktrees: serde_json::Value =
        serde_json::from_slice(&env.read(".dv/worktrees.json")).unwrap();
    worktrees["data"]["checking_out"] = serde_json::json!(one);
    std::fs::write(env.root().join(".dv/worktrees.json"), worktrees.to_string()).unwrap();
    env.write("data/part-000/0.bin", "my edit");
    let status = env.dv(&["status"]);
    assert!(
        status
            .stdout
            .contains(&format!("a checkout of {} was interrupted", &one[..12])),
        "{status}"
    );
    let out = env.dv(&["checkout", &one]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("M part-000/0.bin"), "{out}");
    assert_eq!(env.read("data/part-000/0.bin"), b"my edit");
}
