use insta::assert_snapshot;

use crate::common::TestEnv;

#[test]
fn checkout_to_an_empty_directory_and_back_in_place() {
    let env = TestEnv::new();
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "species\nAdelie\n");
    std::fs::remove_file(env.root().join("data/meta/README.md")).unwrap();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "cleaned"]);

    assert_snapshot!(env.dv(&["checkout", &raw, "--to", "restored"]), @"
    ------- stderr -------
    Checked out c0c7a3aed35f into restored: 3 files written (106 B), 0 removed, 0 unchanged.
    ");
    assert_eq!(env.read("restored/meta/README.md"), b"# penguins\n");

    assert_snapshot!(env.dv(&["checkout", "penguins@raw"]), @"
    ------- stderr -------
    Checked out c0c7a3aed35f into data: 2 files written (75 B), 0 removed, 1 unchanged.
    ");
    assert_eq!(
        env.read("data/penguins.csv"),
        b"species,island,bill_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n"
    );
    assert_eq!(env.read("data/meta/README.md"), b"# penguins\n");
    assert_snapshot!(env.dv(&["checkout", "penguins@cleaned"]), @"
    ------- stderr -------
    Checked out 691256b577c4 into data: 1 file written (15 B), 1 removed, 1 unchanged.
    ");
    assert!(!env.root().join("data/meta/README.md").exists());
    assert_snapshot!(env.dv(&["status"]), @"
    data: no changes since penguins 691256b577c4
    restored: no changes since penguins c0c7a3aed35f
    ");
}

#[test]
fn checkout_refuses_to_overwrite_uncommitted_changes() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("data/penguins.csv", "v2\n");
    env.ok(&["commit", "data", "-d", "penguins", "-s", "cleaned"]);
    env.write("data/penguins.csv", "my unsaved work\n");
    env.write("data/notes.txt", "also mine\n");
    assert_snapshot!(env.dv(&["checkout", "penguins@raw"]), @"
    ------- stderr -------
    error: $TEST_ENV/ws/data has changes that are not committed (2 paths)
      A notes.txt
      M penguins.csv
    hint: Commit them with `dv commit`, or add --force to discard them.
    [exit status: 1]
    ");
    assert_eq!(env.read("data/penguins.csv"), b"my unsaved work\n");
    assert_snapshot!(env.dv(&["checkout", "penguins@raw", "--force"]), @"
    ------- stderr -------
    Checked out c0c7a3aed35f into data: 1 file written (64 B), 1 removed, 2 unchanged.
    ");
    assert_eq!(
        env.read("data/penguins.csv"),
        b"species,island,bill_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n"
    );
    assert!(!env.root().join("data/notes.txt").exists());
}

#[test]
fn checkout_into_a_non_empty_directory_is_refused() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    env.write("busy/keep.txt", "keep me\n");
    assert_snapshot!(env.dv(&["checkout", "penguins", "--to", "busy"]), @"
    ------- stderr -------
    error: Directory $TEST_ENV/ws/busy is not empty
    hint: Check out into an empty directory, or add --force to write over its contents.
    [exit status: 1]
    ");
    assert_eq!(env.read("busy/keep.txt"), b"keep me\n");
    assert!(!env.root().join("busy/penguins.csv").exists());
}

#[test]
fn checkout_outside_the_workspace() {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw"]);
    let out = env
        .dv(&["checkout", "penguins", "--to", "../elsewhere", "--json"])
        .json();
    assert_eq!(out["written"], 3);
    assert_eq!(out["target"], "$TEST_ENV/elsewhere");
    assert_eq!(
        std::fs::read(env.base().join("elsewhere/meta/README.md")).unwrap(),
        b"# penguins\n"
    );
}

#[test]
fn a_corrupt_object_never_reaches_the_target() {
    let env = TestEnv::new();
    env.write(
        "data/big.txt",
        "hello world, this is the content\n".repeat(100),
    );
    env.ok(&["commit", "data", "-d", "d", "-s", "raw"]);
    let hash = blake3::hash("hello world, this is the content\n".repeat(100).as_bytes())
        .to_hex()
        .to_string();
    env.damage_object(
        dv::store::Kind::Blob,
        &dv::Hash::of("hello world, this is the content\n".repeat(100).as_bytes()),
        3,
    );
    let out = env.dv(&["checkout", "d", "--to", "out"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains(&format!("error: blob object {hash} is corrupt")),
        "{out}"
    );
    assert!(!env.root().join("out/big.txt").exists());
}
