use insta::assert_snapshot;

use crate::common::TestEnv;

/// Three versions: raw, cleaned (from raw), labeled (from cleaned); returns their ids.
fn chain(env: &TestEnv) -> [String; 3] {
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "v2\n");
    let cleaned = env.id(&[
        "commit", "data", "-d", "penguins", "-s", "cleaned", "--from", &raw,
    ]);
    env.write("data/penguins.csv", "v3\n");
    let labeled = env.id(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "labeled",
        "--from",
        "penguins@cleaned",
    ]);
    [raw, cleaned, labeled]
}

fn resolve(env: &TestEnv, rev: &str) -> String {
    env.dv(&["show", rev, "--json"]).json()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{rev} did not resolve"))
        .to_string()
}

#[test]
fn every_revision_form_resolves() {
    let env = TestEnv::new();
    let [raw, cleaned, labeled] = chain(&env);
    env.ok(&["tag", &cleaned, "gold"]);
    assert_eq!(resolve(&env, &labeled), labeled);
    assert_eq!(resolve(&env, &labeled[..4]), labeled);
    assert_eq!(resolve(&env, &labeled[..10].to_uppercase()), labeled);
    assert_eq!(resolve(&env, "gold"), cleaned);
    assert_eq!(resolve(&env, "penguins"), labeled);
    assert_eq!(resolve(&env, "penguins@raw"), raw);
    assert_eq!(resolve(&env, "penguins~1"), cleaned);
    assert_eq!(resolve(&env, "penguins~2"), raw);
    assert_eq!(resolve(&env, "penguins~~"), raw);
    assert_eq!(resolve(&env, "gold~1"), raw);
    assert_eq!(resolve(&env, &format!("{}~1", &labeled[..8])), cleaned);
    assert_eq!(resolve(&env, "penguins@labeled~0"), labeled);
}

#[test]
fn unknown_and_bad_revisions_say_what_exists() {
    let env = TestEnv::new();
    let [raw, ..] = chain(&env);
    env.ok(&["tag", &raw, "gold"]);
    assert_snapshot!(env.dv(&["show", "pengins"]), @r#"
    ------- stderr -------
    error: Revision "pengins" doesn't exist
    hint: Datasets: penguins.
    hint: Tags: gold.
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["show", "penguins@labled"]), @r#"
    ------- stderr -------
    error: Unknown stage "labled"
    hint: Valid stages are: raw, cleaned, labeled, training-ready.
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["show", "penguins@training-ready"]), @r#"
    ------- stderr -------
    error: Dataset "penguins" has no version at stage "training-ready"
    hint: See which stages it has with `dv log --dataset penguins`.
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["show", "penguins~5"]), @r#"
    ------- stderr -------
    error: Revision "penguins~5" goes back further than its history: penguins has no input 3 steps back
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["show", "penguins~x"]), @r#"
    ------- stderr -------
    error: Invalid revision "penguins~x": "~x" must be ~ followed by a number of steps
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["show", "abc"]), @r#"
    ------- stderr -------
    error: Revision "abc" doesn't exist
    hint: A version id prefix needs at least 4 hex digits.
    hint: Datasets: penguins.
    hint: Tags: gold.
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["show", "nobody@raw"]), @r#"
    ------- stderr -------
    error: Revision "nobody@raw" doesn't exist
    hint: Datasets: penguins.
    hint: Tags: gold.
    [exit status: 1]
    "#);
}

#[test]
fn an_ambiguous_revision_lists_the_candidates() {
    let env = TestEnv::new();
    let [raw, ..] = chain(&env);
    // A tag named like the dataset makes the bare name ambiguous.
    env.ok(&["tag", &raw, "penguins"]);
    let out = env.dv(&["show", "penguins"]);
    assert_eq!(out.code, 1);
    assert_snapshot!(out, @r#"
    ------- stderr -------
    error: Revision "penguins" is ambiguous
      tag penguins (c0c7a3aed35f)
      dataset penguins (newest: 9f8b3df95af7)
    hint: Name it with the full id, a longer id prefix, or DATASET@STAGE.
    [exit status: 1]
    "#);
}
