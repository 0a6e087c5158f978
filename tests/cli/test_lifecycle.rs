//! Lifecycle states: deprecate, retire and back, what each changes, and that the record of a
//! retired version stays.

use crate::common::TestEnv;

/// Two versions of penguins: raw, then cleaned from it.
fn two_versions(env: &TestEnv) -> (String, String) {
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.write("data/extra.txt", "more\n");
    let cleaned = env.id(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        "penguins@raw",
        "-q",
    ]);
    (raw, cleaned)
}

#[test]
fn a_deprecated_version_warns_where_it_is_chosen_and_says_what_to_use() {
    let env = TestEnv::new();
    let (raw, cleaned) = two_versions(&env);
    let out = env.dv(&[
        "deprecate",
        &raw,
        "--reason",
        "labels were wrong",
        "--use",
        &cleaned,
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stderr,
        format!("Version {} (penguins@raw) is deprecated.\n", &raw[..12])
    );
    let warning = format!(
        "warning: version {} is deprecated since 2026-01-02: labels were wrong; use {} instead\n",
        &raw[..12],
        &cleaned[..12]
    );
    // pin, commit --from, materialize and verify all warn; the version stays usable.
    let pin = env.dv(&["pin", &raw, "--as", "train", "--path", "train"]);
    assert_eq!(pin.code, 0, "{pin}");
    assert!(pin.stderr.starts_with(&warning), "{pin}");
    let materialize = env.dv(&["materialize"]);
    assert_eq!(materialize.code, 0, "{materialize}");
    assert!(materialize.stderr.starts_with(&warning), "{materialize}");
    let verify = env.dv(&["verify"]);
    assert_eq!(verify.code, 0, "{verify}");
    assert!(verify.stderr.starts_with(&warning), "{verify}");
    env.write("labels/l.txt", "x\n");
    let commit = env.dv(&[
        "commit", "labels", "-d", "labels", "-s", "labeled", "--from", &raw,
    ]);
    assert_eq!(commit.code, 0, "{commit}");
    assert!(commit.stderr.contains(&warning), "{commit}");

    // log marks it, --active hides it, JSON carries the state.
    let log = env.ok(&["log"]);
    assert!(
        log.contains("penguins@raw      2026-01-02 03:04  3 files  106 B  [deprecated]\n"),
        "{log}"
    );
    let active = env.ok(&["log", "--active"]);
    assert!(
        !active.contains(&raw[..12]) && active.contains(&cleaned[..12]),
        "{active}"
    );
    let json = env.dv(&["show", &raw, "--json"]).json();
    assert_eq!(
        json["lifecycle"],
        serde_json::json!({
            "state": "deprecated", "reason": "labels were wrong", "use": cleaned,
            "at": "2026-01-02T03:04:03.000000Z", "author": "tester"
        })
    );
    assert!(
        env.dv(&["show", &cleaned, "--json"])
            .json()
            .get("lifecycle")
            .is_none()
    );

    // And back.
    env.ok(&["undeprecate", &raw]);
    assert!(!env.ok(&["log"]).contains("[deprecated]"));
    let pin = env.dv(&["pin", &raw, "--as", "again", "--path", "again"]);
    assert!(!pin.stderr.contains("warning"), "{pin}");
    let twice = env.dv(&["undeprecate", &raw]);
    assert_eq!(twice.code, 1, "{twice}");
    assert!(
        twice
            .stderr
            .contains(&format!("error: Version {raw} is active, not deprecated")),
        "{twice}"
    );
}

#[test]
fn a_retired_version_keeps_its_record_but_its_data_is_refused() {
    let env = TestEnv::new();
    let (raw, cleaned) = two_versions(&env);
    env.ok(&["retire", &raw, "--reason", "superseded by the 2027 survey"]);
    let checkout = env.dv(&["checkout", &raw, "--to", "../out"]);
    assert_eq!(checkout.code, 1, "{checkout}");
    assert_eq!(
        checkout.stderr,
        format!(
            "error: Version {raw} is retired (2026-01-02T03:04:03.000000Z: superseded by the 2027 survey): its data may already be gone\n\
             hint: Use an active version (`dv log --active`), or `dv unretire REV` (it fetches the data from the default remote if it is still there).\n"
        )
    );
    assert!(!env.base().join("out").exists());
    // The record stays: show, log and lineage still have it, marked.
    let show = env.ok(&["show", &raw]);
    assert!(
        show.contains(
            "state     retired since 2026-01-02 (by tester): superseded by the 2027 survey"
        ),
        "{show}"
    );
    let lineage = env.ok(&["lineage", &cleaned]);
    assert!(lineage.contains(&raw[..12]), "{lineage}");
    assert!(
        lineage.contains(&format!(
            "retired: {} since 2026-01-02 (by tester): superseded by the 2027 survey",
            &raw[..12]
        )),
        "{lineage}"
    );
    let graph = env.dv(&["lineage", &cleaned, "--json"]).json();
    let node = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == raw.as_str())
        .unwrap()
        .clone();
    assert_eq!(node["lifecycle"]["state"], "retired");
    assert!(!env.ok(&["log", "--active"]).contains(&raw[..12]));
    // Retiring again changes nothing; unretiring brings the data back into use.
    let again = env.dv(&["retire", &raw, "--reason", "again"]);
    assert!(again.stderr.contains("was already retired"), "{again}");
    env.ok(&["unretire", &raw]);
    env.ok(&["checkout", &raw, "--to", "../out"]);
    let deprecate_retired = {
        env.ok(&["retire", &raw, "--reason", "old"]);
        env.dv(&["deprecate", &raw, "--reason", "x"])
    };
    assert_eq!(deprecate_retired.code, 1);
    assert!(
        deprecate_retired
            .stderr
            .contains("is retired; `dv unretire` it before deprecating it"),
        "{deprecate_retired}"
    );
}

#[test]
fn a_pinned_version_is_retired_only_with_force_and_then_not_materialized() {
    let env = TestEnv::new();
    let (raw, _) = two_versions(&env);
    env.ok(&["pin", &raw, "--as", "train", "--path", "train"]);
    let refused = env.dv(&["retire", &raw, "--reason", "old"]);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused.stderr.contains(&format!(
            "error: Version {raw} is pinned by train in $TEST_ENV/ws/dv.lock\n\
             hint: Retiring it would break those lock files"
        )),
        "{refused}"
    );
    assert!(!env.ok(&["log"]).contains("[retired]"));
    env.ok(&["retire", &raw, "--reason", "old", "--force"]);
    let materialize = env.dv(&["materialize"]);
    assert_eq!(materialize.code, 1, "{materialize}");
    assert!(
        materialize
            .stderr
            .contains(&format!("error: Version {raw} is retired (")),
        "{materialize}"
    );
    assert!(!env.root().join("train").exists());
}

#[test]
fn lifecycle_events_are_canonical_and_a_tampered_one_is_an_error() {
    let env = TestEnv::new();
    let (raw, _) = two_versions(&env);
    env.ok(&["deprecate", &raw, "--reason", "r"]);
    let dir = env.root().join(".dv/lifecycle").join(&raw);
    let event = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&event).unwrap();
    assert_eq!(
        event.file_name().unwrap().to_str().unwrap(),
        blake3::hash(&bytes).to_hex().as_str()
    );
    let forged = String::from_utf8(bytes).unwrap().replace("\"r\"", "\"s\"");
    std::fs::set_permissions(&event, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&event, forged).unwrap();
    let out = env.dv(&["log"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("its bytes are not the canonical event its name says"),
        "{out}"
    );
}

/// Five versions of d@raw, oldest first, each a different file content.
fn five_versions(env: &TestEnv) -> Vec<String> {
    (0..5)
        .map(|i| {
            env.write("data/file.txt", format!("version {i}\n"));
            env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"])
        })
        .collect()
}

#[test]
fn a_retention_policy_keeps_the_newest_tagged_and_pinned_and_the_dry_run_is_exact() {
    let env = TestEnv::new();
    let ids = five_versions(&env);
    env.write("other/x.txt", "x\n");
    env.ok(&["commit", "other", "-d", "other", "-s", "raw", "-q"]);
    env.ok(&["tag", &ids[1], "keep-me"]);
    env.ok(&["pin", &ids[2], "--as", "train", "--path", "train"]);
    let args = [
        "retire",
        "--keep-last",
        "1",
        "--dataset",
        "d",
        "--keep-tagged",
        "--keep-pinned",
    ];
    let dry = env
        .dv(&[&args[..], &["--dry-run", "--json"]].concat())
        .json();
    let selected: Vec<&str> = dry["retired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(selected, [ids[0].as_str(), ids[3].as_str()], "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert!(
        !env.ok(&["log"]).contains("[retired]"),
        "a dry run changes nothing"
    );
    let real = env.dv(&[&args[..], &["--json"]].concat()).json();
    assert_eq!(real["retired"], dry["retired"]);
    let active = env.ok(&["log", "--active"]);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            active.contains(&id[..12]),
            [1, 2, 4].contains(&i),
            "{i}: {active}"
        );
    }
    assert!(active.contains("other@raw"), "{active}");
    let reason = env.dv(&["show", &ids[0], "--json"]).json();
    assert_eq!(
        reason["lifecycle"]["reason"],
        "retention policy: keep the last 1"
    );
    // Run again: nothing left to select; an age limit selects only what is old enough.
    let again = env
        .dv(&[&args[..], &["--dry-run", "--json"]].concat())
        .json();
    assert_eq!(again["retired"], serde_json::json!([]));
    let young = env
        .dv(&[
            "retire",
            "--keep-last",
            "0",
            "--older-than",
            "10000d",
            "--dry-run",
            "--json",
        ])
        .json();
    assert_eq!(young["retired"], serde_json::json!([]));
}

#[test]
fn forget_is_refused_while_something_depends_on_it_and_says_what_force_breaks() {
    let env = TestEnv::new();
    let (raw, cleaned) = two_versions(&env);
    env.ok(&["tag", &raw, "first"]);
    let refused = env.dv(&["forget", &raw]);
    assert_eq!(refused.code, 1, "{refused}");
    assert_eq!(
        refused.stderr,
        format!(
            "error: Version {raw} is still needed, so it was not forgotten\n  \
             version {cleaned} was made from it (its lineage would end there)\n  \
             tag first names it (it is deleted)\n\
             hint: Retire it instead (its record stays), or add --force to forget it anyway.\n"
        )
    );
    let forced = env.dv(&["forget", &raw, "--force"]);
    assert_eq!(forced.code, 0, "{forced}");
    assert!(
        forced
            .stderr
            .contains(&format!("warning: version {cleaned} was made from it")),
        "{forced}"
    );
    assert!(!env.ok(&["log"]).contains(&raw[..12]));
    assert_ne!(
        env.dv(&["resolve", "first"]).code,
        0,
        "its tag went with it"
    );
    assert_eq!(env.dv(&["resolve", &raw]).code, 1);
    // The newer version and its own data are untouched; the forgotten data goes with gc.
    env.ok(&["checkout", &cleaned, "--to", "../out"]);
    let lineage = env.ok(&["lineage", &cleaned]);
    assert!(lineage.contains(&cleaned[..12]), "{lineage}");
    env.ok(&["reindex"]);
    assert!(
        !env.ok(&["log"]).contains(&raw[..12]),
        "reindex does not bring it back"
    );
    env.ok(&["gc", "--grace", "0s", "--prune"]);
    let fsck = env.dv(&["fsck"]);
    assert_eq!(fsck.code, 0, "{fsck}");
    // An unused version is forgotten without --force.
    env.write("solo/a.txt", "a\n");
    let solo = env.id(&["commit", "solo", "-d", "solo", "-s", "raw", "-q"]);
    env.ok(&["forget", &solo]);
}
