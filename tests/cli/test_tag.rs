use insta::assert_snapshot;

use crate::common::TestEnv;

#[test]
fn tags_are_created_listed_refused_moved_and_deleted() {
    let env = TestEnv::new();
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "v2\n");
    let cleaned = env.id(&["commit", "data", "-d", "penguins", "-s", "cleaned"]);
    assert_snapshot!(env.dv(&["tag", "penguins@raw", "release-2026-11"]), @"
    ------- stderr -------
    Created tag release-2026-11 pointing to c0c7a3aed35f (penguins@raw).
    ");
    assert_snapshot!(env.dv(&["tag", &raw, "release-2026-11"]), @"
    ------- stderr -------
    Tag release-2026-11 already points to c0c7a3aed35f (penguins@raw).
    ");
    assert_snapshot!(env.dv(&["tag", "penguins", "release-2026-11"]), @r#"
    ------- stderr -------
    error: Tag "release-2026-11" already exists and points to c0c7a3aed35f265bff041888bb49a732e8ce14081c74ebedaad78ad8c50c5f4c
    hint: Add --force to move it, or pick another name.
    [exit status: 1]
    "#);
    assert_eq!(
        env.dv(&["show", "release-2026-11", "--json"]).json()["id"],
        raw.as_str()
    );
    assert_snapshot!(env.dv(&["tag", "penguins", "release-2026-11", "--force"]), @"
    ------- stderr -------
    Moved tag release-2026-11 from c0c7a3aed35f to 709aab08db44 (penguins@cleaned).
    ");
    assert_eq!(
        env.dv(&["show", "release-2026-11", "--json"]).json()["id"],
        cleaned.as_str()
    );
    env.ok(&["tag", &raw, "v1"]);
    assert_snapshot!(env.dv(&["tag", "--list"]), @"
    release-2026-11  709aab08db44  penguins@cleaned
    v1               c0c7a3aed35f  penguins@raw
    ");
    assert_snapshot!(env.dv(&["tag", "--list", "--json"]).json(), @r#"[{"dataset":"penguins","id":"709aab08db44c236eded7d0aa7ad8717e291fb1d2d47e4ad1e1acf626ef71f63","name":"release-2026-11","stage":"cleaned"},{"dataset":"penguins","id":"c0c7a3aed35f265bff041888bb49a732e8ce14081c74ebedaad78ad8c50c5f4c","name":"v1","stage":"raw"}]"#);
    assert_snapshot!(env.dv(&["tag", "--delete", "v1"]), @"
    ------- stderr -------
    Deleted tag v1 (was c0c7a3aed35f).
    ");
    assert_snapshot!(env.dv(&["tag", "--delete", "v1"]), @r#"
    ------- stderr -------
    error: Tag "v1" doesn't exist
    hint: List tags with `dv tag --list`.
    [exit status: 1]
    "#);
}

#[test]
fn bad_tag_usage() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    assert_snapshot!(env.dv(&["tag", "penguins", "bad/name"]), @r#"
    ------- stderr -------
    error: Invalid tag name "bad/name": only letters, digits, '.', '_' and '-' are allowed
    [exit status: 1]
    "#);
    assert_snapshot!(env.dv(&["tag", "penguins"]), @"
    ------- stderr -------
    error: dv tag needs a revision and a name: dv tag REV NAME
    hint: List tags with `dv tag --list`, remove one with `dv tag --delete NAME`.
    [exit status: 2]
    ");
    assert_snapshot!(env.dv(&["tag", "--list", "penguins"]), @"
    ------- stderr -------
    error: the argument '--list' cannot be used with '[REV]'

    Usage: dv tag --list [REV] [NAME]

    For more information, try '--help'.
    [exit status: 2]
    ");
}
