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

    // Left out and named; the rest of the remote still arrives.
    let fetch = env.dv(&["fetch"]);
    assert_eq!(fetch.code, 0, "{fetch}");
    assert!(
        fetch.stderr.contains(&format!(
            "  {}: Remote origin: the version {bomb_id} it sent is damaged, so it was not stored",
            &bomb_id[..12]
        )) && fetch.stderr.contains(&format!(
            "its header claims {} bytes, more than any such object may hold",
            bomb.len()
        )),
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

/// The pack files (`.pack`) a directory remote holds.
fn packs(remote: &Path) -> Vec<std::path::PathBuf> {
    let mut packs: Vec<_> = std::fs::read_dir(remote.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect();
    packs.sort();
    packs
}

#[test]
fn a_damaged_object_costs_only_its_version_and_a_failed_clone_leaves_nothing() {
    let env = TestEnv::new();
    let good = pushed(&env);
    let remote = env.base().join("remote");
    let before = packs(&remote);
    env.write("data/b.csv", "u,v\n3,4\n");
    let bad = env.id(&["commit", "data", "-d", "d", "-s", "cleaned"]);
    env.ok(&["push"]);
    let new_pack = packs(&remote)
        .into_iter()
        .find(|p| !before.contains(p))
        .expect("the second push wrote a pack");
    let mut bytes = std::fs::read(&new_pack).unwrap();
    for i in (16..bytes.len()).step_by(32) {
        bytes[i] ^= 0x5a;
    }
    std::fs::write(&new_pack, bytes).unwrap();
    // A record that is not one, under a well-formed name.
    let garbage = blake3::hash(b"not a record").to_hex().to_string();
    std::fs::write(remote.join("versions").join(&garbage), b"not a record").unwrap();

    let out = env.dv_in(
        env.base(),
        &["clone", remote.to_str().unwrap(), "copy", "--json"],
    );
    assert_eq!(out.code, 0, "{out}");
    let mut unavailable: Vec<String> = out.json()["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["version"].as_str().unwrap().to_string())
        .collect();
    unavailable.sort();
    let mut expected = vec![bad.clone(), garbage.clone()];
    expected.sort();
    assert_eq!(unavailable, expected, "{out}");
    assert!(
        out.stderr.contains(
            "warning: 2 versions could not be brought from origin and are not usable here:\n"
        ),
        "{out}"
    );
    let copy = env.base().join("copy");
    let checkout = env.dv_in(&copy, &["checkout", &good, "--to", "../good"]);
    assert_eq!(checkout.code, 0, "{checkout}");
    assert_eq!(
        std::fs::read(env.base().join("good/a.csv")).unwrap(),
        b"x,y\n1,2\n"
    );

    // A remote where nothing can be had: the clone fails and leaves no directory behind.
    std::fs::remove_file(remote.join("versions").join(&good)).unwrap();
    for pack in &before {
        std::fs::remove_file(pack).unwrap();
        std::fs::remove_file(pack.with_extension("idx")).unwrap();
    }
    let out = env.dv_in(env.base(), &["clone", remote.to_str().unwrap(), "none"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("is damaged, so it was not stored"),
        "{out}"
    );
    assert!(!env.base().join("none").exists(), "{out}");
}

#[test]
fn a_directory_remote_holds_only_plain_files_and_directories() {
    let env = TestEnv::new();
    pushed(&env);
    let remote = env.base().join("remote");

    // A garbage lock, fresh and well named, and an oversized one: neither blocks a push.
    let locks = remote.join("locks");
    std::fs::create_dir_all(&locks).unwrap();
    std::fs::write(locks.join(blake3::hash(b"1").to_hex().as_str()), b"garbage").unwrap();
    std::fs::write(
        locks.join(blake3::hash(b"2").to_hex().as_str()),
        vec![b'{'; 100_000],
    )
    .unwrap();
    env.write("data/b.csv", "u,v\n3,4\n");
    env.ok(&["commit", "data", "-d", "d", "-s", "cleaned"]);
    env.ok(&["push"]);

    // `versions` made a link to elsewhere: push refuses instead of writing through it.
    let elsewhere = env.base().join("elsewhere");
    std::fs::rename(remote.join("versions"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, remote.join("versions")).unwrap();
    let listed = || std::fs::read_dir(&elsewhere).unwrap().count();
    let before = listed();
    env.write("data/c.csv", "w\n5\n");
    env.ok(&["commit", "data", "-d", "d", "-s", "labeled"]);
    let out = env.dv(&["push"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "error: Remote origin: versions is a symlink; a directory remote holds only plain \
             files and directories, so nothing was read or written through it. Remove it from \
             the remote"
        ),
        "{out}"
    );
    assert_eq!(listed(), before, "nothing was written through the link");
    std::fs::remove_file(remote.join("versions")).unwrap();
    std::fs::rename(&elsewhere, remote.join("versions")).unwrap();

    // A marker naming no stages clones with the default ones.
    std::fs::write(remote.join("dv-remote.json"), r#"{"format":1,"stages":[]}"#).unwrap();
    let out = env.dv_in(env.base(), &["clone", remote.to_str().unwrap(), "copy"]);
    assert_eq!(out.code, 0, "{out}");
    let copy = env.base().join("copy");
    env.write("../copy/data/z.csv", "z\n1\n");
    let commit = env.dv_in(&copy, &["commit", "data", "-d", "z", "-s", "raw"]);
    assert_eq!(commit.code, 0, "{commit}");

    // A FIFO as the marker fails at once, never waiting for a writer.
    std::fs::remove_file(remote.join("dv-remote.json")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(remote.join("dv-remote.json"))
        .status()
        .unwrap();
    assert!(status.success());
    for (dir, args) in [
        (env.base(), vec!["clone", remote.to_str().unwrap(), "fifo"]),
        (env.root().as_path(), vec!["fetch"]),
    ] {
        let out = env.finishes_in(dir, &args);
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr
                .contains("error: Remote origin: dv-remote.json is a named pipe;"),
            "{out}"
        );
    }
    assert!(!env.base().join("fifo").exists());
}

#[test]
fn ignore_files_and_rules_are_read_within_bounds() {
    let env = TestEnv::new();
    env.write("data/a.csv", "x\n1\n");
    let refused = |ignore: &[u8], message: &str| {
        env.write("data/.dvignore", ignore);
        let out = env.finishes(&["commit", "data", "-d", "d", "-s", "raw"]);
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr.contains(&format!(
                "error: Ignore file $TEST_ENV/ws/data/.dvignore: {message}\n"
            )),
            "{out}"
        );
    };
    let braces = format!("{}a{}\n", "{".repeat(2_000), "}".repeat(2_000));
    refused(braces.as_bytes(), "line 1: braces are nested deeper than 8");
    refused(&vec![b'#'; 2 << 20], "it is larger than 1048576 bytes");
    let many: String = (0..10_001).map(|i| format!("f{i}\n")).collect();
    refused(many.as_bytes(), "it holds more than 10000 patterns");
    // Within bounds, and ignoring what it says.
    env.write("data/.dvignore", "*.tmp\n{a,b}/**/*.{log,out}\n");
    env.write("data/junk.tmp", "junk");
    env.ok(&["commit", "data", "-d", "d", "-s", "raw"]);
    assert!(
        env.ok(&["show", "d@raw", "--files"])
            .ends_with("\nfile  27 B  .dvignore\nfile  4 B   a.csv\n")
    );

    // FIFOs where dv reads a file: an error at once, never a wait for a writer.
    let fifo = |path: &Path| {
        std::fs::remove_file(path).ok();
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    };
    fifo(&env.root().join("data/.dvignore"));
    let out = env.finishes(&["commit", "data", "-d", "d", "-s", "cleaned"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("error: $TEST_ENV/ws/data/.dvignore is a named pipe, not a regular file"),
        "{out}"
    );
    std::fs::remove_file(env.root().join("data/.dvignore")).unwrap();
    fifo(&env.root().join("code.py"));
    let out = env.finishes(&[
        "commit", "data", "-d", "d", "-s", "cleaned", "--code", "code.py",
    ]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("error: code.py is a named pipe, not a regular file"),
        "{out}"
    );
    fifo(&env.root().join("dv.toml"));
    for args in [
        vec!["rules"],
        vec!["check", "d@raw"],
        vec!["commit", "data", "-d", "d", "-s", "cleaned"],
    ] {
        let out = env.finishes(&args);
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr
                .contains("error: $TEST_ENV/ws/dv.toml is a named pipe, not a regular file"),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn terminal_controls_in_names_and_text_are_shown_as_escapes() {
    let env = TestEnv::new();
    // ESC (a colour and an OSC title), a C1 CSI, a carriage return and a bidi override: each
    // could rewrite or retitle the terminal it is printed on.
    let evil = "a\x1b[2J\x1b]0;pwned\x07b\u{9b}31mc\rd\u{202e}e";
    let shown = "a\\e[2J\\e]0;pwned\\x07b\\u{009b}31mc\\rd\\u{202e}e";
    env.write("data/x.csv", "x\n1\n");
    let base = env.id(&["commit", "data", "-d", "d", "-s", "raw"]);
    env.write(&format!("data/{evil}.csv"), format!("{evil},y\n1,2\n"));
    let id = env.id(&[
        "commit",
        "data",
        "-d",
        "d",
        "-s",
        "cleaned",
        "-m",
        evil,
        "--transform",
        evil,
        "--param",
        &format!("k={evil}"),
    ]);
    env.ok(&["deprecate", &id, "--reason", evil]);
    let outputs = [
        env.dv(&["log"]),
        env.dv(&["show", &id]),
        env.dv(&["show", &id, "--files"]),
        env.dv(&["show", &id, "--profile"]),
        env.dv(&["diff", &base, &id]),
        env.dv(&["diff", &base, &id, "--name-only"]),
        env.dv(&["which", &format!("data/{evil}.csv")]),
        env.dv(&["show", evil]),
    ];
    for out in &outputs {
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !text.contains(['\x1b', '\u{9b}', '\r', '\x07', '\u{202e}']),
            "a terminal control was printed raw:\n{out}"
        );
        assert!(text.contains(shown), "{out}");
    }
    // The error for a bad revision names it, made visible.
    assert_eq!(outputs[7].code, 1);
    // JSON carries the exact text, escaped only as JSON escapes it.
    let json = env.dv(&["show", &id, "--json"]).json();
    assert_eq!(json["message"], evil);
    assert_eq!(json["transform"], evil);
    assert_eq!(json["params"]["k"], evil);
}

/// Starts dv and returns the first line it prints on stdout (then stops it), failing the test
/// when none comes within 20 s.
fn first_line(env: &TestEnv, args: &[&str]) -> String {
    first_line_where(env, args, |_| true)
}

/// Starts dv and returns the first line it prints on stdout that `wanted` accepts (then stops
/// it), failing the test when none comes within 20 s.
fn first_line_where(env: &TestEnv, args: &[&str], wanted: fn(&str) -> bool) -> String {
    use std::io::BufRead;
    let mut child = env.spawn(args);
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && !wanted(&line) {
            line.clear();
        }
        let _ = send.send(line);
    });
    let line = receive.recv_timeout(std::time::Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    line.unwrap_or_else(|_| panic!("dv {args:?} printed nothing within 20 s"))
}

#[test]
fn an_honest_fan_out_streams_and_is_refused_by_checkout_before_a_byte_is_written() {
    let env = TestEnv::new();
    env.write("data/a.csv", "x,y\n1,2\n");
    let base = env.id(&["commit", "data", "-d", "d", "-s", "raw"]);
    // 2^26 (67,108,864) paths of 1 MiB each: 64 TiB declared, in 27 tree objects.
    let bomb = crate::crafted::plant_fan_out(&env.root(), "d", 26, 1 << 20).to_hex();
    let deepest = vec!["a"; 26].join("/") + "/f";

    // Checkout and materialize refuse before writing, naming both numbers.
    let out = env.finishes(&["checkout", &bomb, "--to", "../out"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "error: Version {bomb} declares 67108864 files and 70368744177664 bytes, but the \
             filesystem of $TEST_ENV/out has room for "
        )),
        "{out}"
    );
    assert!(!env.base().join("out").exists(), "nothing was written");

    // Listings start at once and stream.
    let first = first_line(&env, &["show", &bomb, "--files"]);
    assert!(first.starts_with("version ") && first.ends_with(&format!(" {bomb}\n")));
    assert_eq!(
        first_line_where(&env, &["show", &bomb, "--files"], |l| l.starts_with("file")),
        format!("file  1.0 MiB  {deepest}\n"),
    );
    let x = blake3::hash(b"x").to_hex().to_string();
    assert_eq!(
        first_line(&env, &["which", &x]),
        format!("{}  d@cleaned  1.0 MiB  {deepest}\n", &bomb[..12])
    );
    let by_path = env.finishes(&["which", &format!("bomb/{deepest}")]);
    assert_eq!(
        by_path.stdout,
        format!("{}  d@cleaned  1.0 MiB  {deepest}\n", &bomb[..12])
    );

    // Diff totals come from the declared totals; listings stream.
    let stat = env.finishes(&["diff", &base, &bomb, "--stat"]);
    assert_eq!(
        stat.stdout, "67108864 added, 1 removed; +64.0 TiB, -8 B\n",
        "{stat}"
    );
    let back = env.finishes(&["diff", &bomb, &base, "--stat"]);
    assert_eq!(back.stdout, "1 added, 67108864 removed; +8 B, -64.0 TiB\n");
    assert!(
        back.stderr
            .contains("note: more than 250000 files were removed, so renames were not looked for"),
        "{back}"
    );
    assert_eq!(
        first_line(&env, &["diff", &base, &bomb, "--name-only"]),
        format!("{deepest}\n")
    );
    let first = first_line_where(&env, &["diff", &base, &bomb], |l| l.starts_with("A "));
    assert_eq!(first, format!("A  {deepest}  +1.0 MiB\n"));
    assert_eq!(first_line(&env, &["diff", &base, &bomb, "--json"]), "{\n");

    // A version without a stored profile is profiled from each distinct tree once.
    let profile = env.finishes(&["show", &bomb, "--profile", "--json"]);
    assert_eq!(profile.code, 0, "{profile}");
    let profile = profile.json();
    assert_eq!(profile["files"], 67_108_864u64);
    assert_eq!(profile["bytes"], 70_368_744_177_664u64);
    assert_eq!(profile["directories"]["a/a"]["files"], 16_777_216u64);
    for args in [
        vec!["check", bomb.as_str()],
        vec!["diff", &base, &bomb, "--profile"],
        vec!["lineage", &bomb, "--format", "openlineage"],
        vec!["gc"],
    ] {
        let out = env.finishes(&args);
        assert_eq!(out.code, 0, "{args:?}: {out}");
    }
    // fsck names the lie the planted leaf tells (a 1-byte file declared as 1 MiB), once.
    let fsck = env.finishes(&["fsck", "--json"]);
    assert_eq!(fsck.code, 1, "{fsck}");
    let findings = fsck.json()["findings"].clone();
    assert_eq!(findings.as_array().unwrap().len(), 1, "{findings:#}");
    assert_eq!(findings[0]["kind"], "tree");
    assert_eq!(
        findings[0]["reason"],
        "its entry \"f\" declares 1048576 bytes but that file holds 1"
    );
    // Verifying a directory against it lists the first differences and counts the rest.
    std::fs::create_dir(env.base().join("empty")).unwrap();
    let out = env.finishes(&["verify", &bomb, "../empty", "--json"]);
    assert_eq!(out.code, 1, "{out}");
    let result = &out.json()["results"][0];
    assert_eq!(result["removed"].as_array().unwrap().len(), 10_000);
    assert_eq!(result["unlisted"], 67_108_864u64 - 10_000);
}
