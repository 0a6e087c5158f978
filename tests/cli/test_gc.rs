//! `dv gc`: removes what no live version needs, never anything else.

use crate::common::{TestEnv, noise};
use crate::describe::describe;

/// Two versions of one dataset sharing `shared.bin`; the first alone holds `old.bin`.
fn two_versions(env: &TestEnv) -> (String, String) {
    env.write("data/shared.bin", noise("shared", 200_000));
    env.write("data/old.bin", noise("old", 300_000));
    let first = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    std::fs::remove_file(env.root().join("data/old.bin")).unwrap();
    env.write("data/new.bin", noise("new", 100_000));
    let second = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    (first, second)
}

fn has_blob(env: &TestEnv, content: &[u8]) -> bool {
    env.store()
        .has(dv::store::Kind::Blob, &dv::Hash::of(content))
}

#[test]
fn gc_removes_only_what_retired_versions_alone_held_and_the_dry_run_says_exactly_that() {
    let env = TestEnv::new();
    let (first, second) = two_versions(&env);
    let kept = describe(&env.root().join("data"));
    // Nothing is garbage while every version is live.
    let none = env.dv(&["gc", "--grace", "0s", "--json"]).json();
    assert_eq!(none["garbage_objects"], 0, "{none}");
    env.ok(&["retire", &first, "--reason", "old survey"]);
    // Young objects are never removed.
    let young = env.dv(&["gc", "--json"]).json();
    assert_eq!(young["removed_objects"], 0, "{young}");
    assert_eq!(young["young_objects"], young["garbage_objects"], "{young}");
    let dry = env.dv(&["gc", "--grace", "0s", "--json"]).json();
    assert_eq!(dry["pruned"], false);
    // The old file and the first version's tree (its profile stays, like its record).
    assert_eq!(dry["removed_objects"], 2, "{dry}");
    assert!(dry["removed_bytes"].as_u64().unwrap() >= 300_000, "{dry}");
    assert!(
        has_blob(&env, &noise("old", 300_000)),
        "a dry run removes nothing"
    );
    let real = env.dv(&["gc", "--grace", "0s", "--prune", "--json"]).json();
    assert_eq!(real["removed_objects"], dry["removed_objects"], "{real}");
    assert_eq!(real["removed_bytes"], dry["removed_bytes"], "{real}");
    assert_eq!(real["pruned"], true);
    assert!(!has_blob(&env, &noise("old", 300_000)));
    assert!(has_blob(&env, &noise("shared", 200_000)));
    // The live version is intact; the retired one's record and lineage stay.
    env.ok(&["checkout", &second, "--to", "../out"]);
    assert_eq!(describe(&env.base().join("out")), kept);
    let show = env.ok(&["show", &first]);
    assert!(show.contains("retired since"), "{show}");
    let checkout = env.dv(&["checkout", &first, "--to", "../gone"]);
    assert_eq!(checkout.code, 1, "{checkout}");
    assert!(checkout.stderr.contains("is retired ("), "{checkout}");
    let fsck = env.dv(&["fsck"]);
    assert_eq!(fsck.code, 0, "{fsck}");
    assert!(fsck.stderr.contains("of retired versions w"), "{fsck}");
    // Its data is gone, so it cannot be made active again.
    let unretire = env.dv(&["unretire", &first]);
    assert_eq!(unretire.code, 1, "{unretire}");
    assert!(
        unretire.stderr.contains("cannot be made active again"),
        "{unretire}"
    );
    // A second gc finds nothing more.
    let again = env.dv(&["gc", "--grace", "0s", "--prune", "--json"]).json();
    assert_eq!(again["removed_objects"], 0, "{again}");
}

#[test]
fn tagged_or_pinned_versions_are_never_collected() {
    let env = TestEnv::new();
    let (first, _) = two_versions(&env);
    env.ok(&["tag", &first, "keep"]);
    env.ok(&["retire", &first, "--reason", "old"]);
    env.ok(&["gc", "--grace", "0s", "--prune"]);
    assert!(
        has_blob(&env, &noise("old", 300_000)),
        "a tagged version's data stays"
    );
    env.ok(&["tag", "--delete", "keep"]);
    env.ok(&["unretire", &first]);
    env.ok(&["pin", &first, "--as", "train", "--path", "train"]);
    env.ok(&["retire", &first, "--reason", "old", "--force"]);
    env.ok(&["gc", "--grace", "0s", "--prune"]);
    assert!(
        has_blob(&env, &noise("old", 300_000)),
        "a pinned version's data stays"
    );
    env.ok(&["unretire", &first]);
    env.ok(&["materialize"]);
    env.ok(&["verify"]);
}

#[test]
fn repacking_keeps_every_live_object_readable() {
    let env = TestEnv::new();
    // One pack mostly garbage: a large retired file beside a small live one.
    env.write("data/small.txt", "live\n");
    env.write("data/big.bin", noise("big", 900_000));
    let first = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["tag", &first, "unused"]);
    std::fs::remove_file(env.root().join("data/big.bin")).unwrap();
    let second = env.id(&["commit", "data", "-d", "d", "-s", "cleaned", "-q"]);
    env.ok(&["tag", "--delete", "unused"]);
    env.ok(&["retire", &first, "--reason", "old"]);
    let report = env.dv(&["gc", "--grace", "0s", "--prune", "--json"]).json();
    assert!(
        report["packs_rewritten"].as_u64().unwrap() + report["packs_removed"].as_u64().unwrap()
            >= 1,
        "{report}"
    );
    env.ok(&["checkout", &second, "--to", "../out"]);
    assert_eq!(
        std::fs::read(env.base().join("out/small.txt")).unwrap(),
        b"live\n"
    );
    assert_eq!(env.dv(&["fsck"]).code, 0);
}

#[test]
fn gc_killed_at_any_point_leaves_a_consistent_store() {
    for point in ["gc.repacked", "gc.pack-removed", "gc.loose-removed"] {
        let env = TestEnv::new();
        env.write("data/small.txt", "live\n");
        env.write("data/big.bin", noise("big", 900_000));
        let first = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
        if point == "gc.loose-removed" {
            // A loose object: a directory listing larger than a pack entry, even compressed
            // (40,000 names that do not compress much), held by a retired version alone once
            // the directory moves on.
            let wide = env.root().join("wide");
            std::fs::create_dir_all(&wide).unwrap();
            for i in 0..40_000u32 {
                let name = blake3::hash(&i.to_le_bytes()).to_hex();
                std::fs::write(wide.join(name.as_str()), b"").unwrap();
            }
            let wide_version = env.id(&["commit", "wide", "-d", "wide", "-s", "raw", "-q"]);
            std::fs::write(wide.join("one-more"), b"").unwrap();
            env.ok(&["commit", "wide", "-d", "wide", "-s", "raw", "-q"]);
            env.ok(&["retire", &wide_version, "--reason", "old"]);
        }
        std::fs::remove_file(env.root().join("data/big.bin")).unwrap();
        let second = env.id(&["commit", "data", "-d", "d", "-s", "cleaned", "-q"]);
        env.ok(&["retire", &first, "--reason", "old"]);
        let out = env.dv_env(
            &[("DV_FAILPOINT", point)],
            &["gc", "--grace", "0s", "--prune"],
        );
        assert_eq!(out.code, -1, "gc did not stop at {point}:\n{out}");
        assert_eq!(env.dv(&["fsck"]).code, 0, "fsck after a crash at {point}");
        env.ok(&["checkout", &second, "--to", "../out"]);
        assert_eq!(
            std::fs::read(env.base().join("out/small.txt")).unwrap(),
            b"live\n"
        );
        env.ok(&["gc", "--grace", "0s", "--prune"]);
        assert_eq!(env.dv(&["fsck"]).code, 0, "fsck after the rerun at {point}");
        assert!(!has_blob(&env, &noise("big", 900_000)), "{point}");
    }
}

/// Waits for a held commit to have stored `bytes`, failing the test after 30 s (a commit that
/// died before storing them would otherwise leave it spinning).
fn wait_for_blob(env: &TestEnv, bytes: &[u8]) {
    let start = std::time::Instant::now();
    while !has_blob(env, bytes) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the held commit never stored its data"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_commit_running_during_gc_loses_nothing() {
    let env = TestEnv::new();
    let (first, _) = two_versions(&env);
    env.ok(&["retire", &first, "--reason", "old"]);
    env.write("more/a.bin", noise("in flight", 150_000));
    let release = env.base().join("release");
    let wait = [
        ("DV_FAILPOINT", "batch.renamed=wait"),
        ("DV_FAILPOINT_RELEASE", release.to_str().unwrap()),
    ];
    // With the default grace, the commit's fresh objects survive a gc that runs between
    // writing them and publishing the version.
    let held = env.spawn_env(&wait, &["commit", "more", "-d", "more", "-s", "raw", "-q"]);
    wait_for_blob(&env, &noise("in flight", 150_000));
    env.ok(&["gc", "--prune"]);
    std::fs::write(&release, b"").unwrap();
    let out = held.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["checkout", "more", "--to", "../kept"]);
    assert_eq!(
        std::fs::read(env.base().join("kept/a.bin")).unwrap(),
        noise("in flight", 150_000)
    );

    // With no grace at all, the gc removes them: the commit notices and commits nothing.
    std::fs::remove_file(&release).unwrap();
    env.write("late/b.bin", noise("late", 150_000));
    let held = env.spawn_env(&wait, &["commit", "late", "-d", "late", "-s", "raw", "-q"]);
    wait_for_blob(&env, &noise("late", 150_000));
    env.ok(&["gc", "--prune", "--grace", "0s"]);
    std::fs::write(&release, b"").unwrap();
    let out = held.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: A dv gc that ran during this commit removed 1 objects the new version needs; nothing was committed"),
        "{stderr}"
    );
    assert!(
        env.dv(&["resolve", "late"]).code != 0,
        "no version names missing data"
    );
    env.ok(&["commit", "late", "-d", "late", "-s", "raw", "-q"]);
    env.ok(&["checkout", "late", "--to", "../late-out"]);
    assert_eq!(
        std::fs::read(env.base().join("late-out/b.bin")).unwrap(),
        noise("late", 150_000)
    );
    assert_eq!(env.dv(&["fsck"]).code, 0);
}

#[test]
fn bad_durations_are_refused() {
    let env = TestEnv::new();
    let out = env.dv(&["gc", "--grace", "3 days"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "error: Invalid duration \"3 days\": expected a number and a unit (s, m, h, d, w), such as 0s, 2h or 14d"
        ),
        "{out}"
    );
}

#[test]
fn a_directory_kept_only_as_a_delta_base_does_not_keep_its_files() {
    let env = TestEnv::new();
    // Directories large enough that the second version stores them as deltas of the first.
    for i in 0..300 {
        env.write(&format!("data/sub/file-{i:04}.txt"), format!("row {i}\n"));
    }
    env.write("data/sub/replaced.bin", noise("before", 50_000));
    let first = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.write("data/sub/replaced.bin", noise("after", 50_000));
    let second = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["retire", &first, "--reason", "old"]);
    env.ok(&["gc", "--grace", "0s", "--prune"]);
    assert!(
        !has_blob(&env, &noise("before", 50_000)),
        "only the old tree listed it"
    );
    assert!(has_blob(&env, &noise("after", 50_000)));
    env.ok(&["checkout", &second, "--to", "../out"]);
    assert_eq!(
        describe(&env.base().join("out")),
        describe(&env.root().join("data"))
    );
    assert_eq!(env.dv(&["fsck"]).code, 0);
}

#[test]
fn an_interrupted_checkout_keeps_the_data_it_was_writing() {
    let env = TestEnv::new();
    let (first, second) = two_versions(&env);
    // Killed while writing the first version back into data/: its data is still needed there.
    let out = env.dv_env(
        &[("DV_FAILPOINT", "checkout.first-file")],
        &["checkout", &first],
    );
    assert_eq!(out.code, -1, "{out}");
    env.ok(&["tag", &second, "keep"]);
    env.ok(&["retire", &first, "--reason", "old"]);
    env.ok(&["gc", "--grace", "0s", "--prune"]);
    assert!(
        has_blob(&env, &noise("old", 300_000)),
        "the interrupted checkout's data stays"
    );
    env.ok(&["unretire", &first]);
    env.ok(&["checkout", &first]);
    assert_eq!(
        std::fs::read(env.root().join("data/old.bin")).unwrap(),
        noise("old", 300_000)
    );
}

/// A committed version's id and what its directory held (path, bytes).
type Committed = (String, Vec<(String, Vec<u8>)>);

/// A history of `versions` versions of a few tables, a couple changing each time (appended
/// rows, edited cells, a table added now and then), profiles on. Returns each version's id
/// and what its directory held.
fn table_history(env: &TestEnv, versions: usize) -> Vec<Committed> {
    let mut tables: Vec<String> = (0..6)
        .map(|t| {
            let mut csv = String::from("id,value,label\n");
            for row in 0..200 {
                csv.push_str(&format!("{row},{},{}\n", row * t, ["a", "b"][row % 2]));
            }
            csv
        })
        .collect();
    let mut history = Vec::new();
    for v in 0..versions {
        if v > 0 {
            let t = v % tables.len();
            tables[t].push_str(&format!("{},{v},c\n", 1000 + v));
            let other = (v * 7) % tables.len();
            tables[other] = tables[other].replacen(",0,", &format!(",{v}0,"), 1);
            if v % 20 == 0 {
                tables.push(format!("id\n{v}\n"));
            }
        }
        let _ = std::fs::remove_dir_all(env.root().join("data"));
        let files: Vec<(String, Vec<u8>)> = tables
            .iter()
            .enumerate()
            .map(|(i, csv)| (format!("t/{i}.csv"), csv.clone().into_bytes()))
            .collect();
        for (path, bytes) in &files {
            env.write(&format!("data/{path}"), bytes);
        }
        let id = env.id(&["commit", "data", "-d", "tables", "-s", "raw", "-q"]);
        history.push((id, files));
    }
    history
}

/// Every version of `history` checks out to exactly what was committed.
fn assert_every_version_exact(env: &TestEnv, history: &[Committed]) {
    for (n, (id, files)) in history.iter().enumerate() {
        let out = env.base().join(format!("out-{n}"));
        env.ok(&["checkout", id, "--to", out.to_str().unwrap()]);
        for (path, bytes) in files {
            assert_eq!(
                &std::fs::read(out.join(path)).unwrap(),
                bytes,
                "{id} {path}"
            );
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

fn pack_count(env: &TestEnv) -> usize {
    std::fs::read_dir(env.root().join(".dv/objects/pack"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("pack".as_ref()))
        .count()
}

/// `gc --repack` merges the packs of a 60-version history (one or two per commit) into one:
/// every version still checks out byte for byte, its profile reads the same, fsck is clean,
/// and without --prune nothing is removed.
#[test]
fn repack_merges_a_long_history_into_one_pack_and_loses_nothing() {
    let env = TestEnv::new();
    let history = table_history(&env, 60);
    let before = pack_count(&env);
    assert!(before >= 60, "{before} packs");
    let newest = &history.last().unwrap().0;
    let profile = env.dv(&["show", newest, "--profile", "--json"]).json();
    // The list of packs a repack wrote is a hint: a garbage one (oversized, not UTF-8) is
    // ignored, and every object is recompressed.
    std::fs::write(env.root().join(".dv/repacked"), vec![0xff; 2 << 20]).unwrap();
    let report = env.dv(&["gc", "--repack", "--json"]).json();
    assert_eq!(report["removed_objects"], 0);
    assert_eq!(report["repacked"]["packs_before"], before);
    assert_eq!(report["repacked"]["packs_after"], 1);
    assert_eq!(pack_count(&env), 1);
    // Whole objects are stored again at a higher zstd level.
    assert!(
        report["repacked"]["bytes_after"].as_u64() < report["repacked"]["bytes_before"].as_u64(),
        "{report}"
    );
    assert_eq!(env.dv(&["fsck"]).code, 0);
    assert_every_version_exact(&env, &history);
    assert_eq!(
        env.dv(&["show", newest, "--profile", "--json"]).json(),
        profile
    );
    // Once merged, a repack has nothing to do.
    let again = env.dv(&["gc", "--repack", "--json"]).json();
    assert_eq!(again["repacked"]["packs_after"], 1);
}

/// A repack killed after writing the merged pack, or after removing each old one, leaves
/// every version whole; running it again finishes the job.
#[test]
fn repack_killed_at_any_point_loses_nothing() {
    for point in ["gc.repacked", "gc.pack-removed"] {
        let env = TestEnv::new();
        let history = table_history(&env, 8);
        let out = env.dv_env(&[("DV_FAILPOINT", point)], &["gc", "--repack"]);
        assert_eq!(out.code, -1, "gc did not stop at {point}:\n{out}");
        assert_eq!(env.dv(&["fsck"]).code, 0, "fsck after a crash at {point}");
        assert_every_version_exact(&env, &history);
        env.ok(&["gc", "--repack", "--grace", "0s", "--prune"]);
        assert_eq!(pack_count(&env), 1, "{point}");
        assert_eq!(env.dv(&["fsck"]).code, 0, "fsck after the rerun at {point}");
        assert_every_version_exact(&env, &history);
    }
}
