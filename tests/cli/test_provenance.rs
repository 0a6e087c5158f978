//! Provenance queries: log filters, `dv which`, and the recorded code of a transform.

use insta::assert_snapshot;

use crate::common::TestEnv;
use crate::test_lineage::pipeline;

fn names(json: &serde_json::Value) -> Vec<String> {
    json.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{}@{}",
                v["dataset"].as_str().unwrap(),
                v["stage"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn log_filters_by_transform_and_typed_params() {
    let env = TestEnv::new();
    pipeline(&env);
    assert_eq!(
        names(&env.dv(&["log", "--transform", "label", "--json"]).json()),
        ["penguins@labeled"]
    );
    assert_eq!(
        names(&env.dv(&["log", "--param", "model=resnet", "--json"]).json()),
        ["penguins@training-ready", "penguins@labeled"]
    );
    assert_eq!(
        names(
            &env.dv(&[
                "log",
                "--param",
                "model=resnet",
                "--param",
                "seed=7",
                "--json"
            ])
            .json()
        ),
        ["penguins@training-ready"]
    );
    // Values are typed: the string "7" is not the number 7, and true is not "true".
    assert_eq!(
        names(&env.dv(&["log", "--param", "seed=\"7\"", "--json"]).json()),
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            &env.dv(&["log", "--param", "dropna=true", "-n", "1", "--json"])
                .json()
        ),
        ["penguins@labeled"]
    );
    assert_eq!(
        names(
            &env.dv(&["log", "--param", "dropna=\"true\"", "--json"])
                .json()
        ),
        Vec::<String>::new()
    );
}

#[test]
fn which_finds_versions_by_content_and_by_path() {
    let env = TestEnv::new();
    pipeline(&env);
    // README.md never changed: every penguins version holds it.
    let readme = env.root().join("data/meta/README.md");
    let by_file = env
        .dv(&["which", readme.to_str().unwrap(), "--json"])
        .json();
    assert_eq!(
        names(&by_file),
        [
            "penguins@training-ready",
            "penguins@labeled",
            "penguins@cleaned",
            "penguins@raw"
        ]
    );
    assert!(
        by_file
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["path"] == "meta/README.md")
    );
    let hash = blake3::hash(b"# penguins\n").to_hex().to_string();
    assert_eq!(env.dv(&["which", &hash, "--json"]).json(), by_file);
    // The raw penguins.csv content is only in the raw version.
    let raw_csv = "species,island,bill_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n";
    let hash = blake3::hash(raw_csv.as_bytes()).to_hex().to_string();
    assert_snapshot!(env.dv(&["which", &hash]), @"12d78d37f4dc  penguins@raw  64 B  penguins.csv");
    // By path, relative to the workspace or to the dataset root.
    assert_eq!(
        names(&env.dv(&["which", "data/labels.csv", "--json"]).json()),
        ["penguins@training-ready", "penguins@labeled"]
    );
    assert_eq!(
        names(&env.dv(&["which", "split.txt", "--json"]).json()),
        ["penguins@training-ready"]
    );
    assert_snapshot!(env.dv(&["which", "nowhere.csv"]), @"
    ------- stderr -------
    error: No version holds nowhere.csv
    hint: Give a blake3 hash, an existing file, or a path as it appears in `dv show REV --files`.
    [exit status: 1]
    ");
}

#[test]
fn show_code_prints_the_recorded_transform_code() {
    let env = TestEnv::new();
    pipeline(&env);
    env.write("code/clean.py", "# edited after the commit\n");
    let out = env.dv(&["show", "penguins@cleaned", "--code"]);
    assert_eq!(out.stdout, "# drop rows with missing values\n");
    assert_snapshot!(env.dv(&["show", "penguins@raw", "--code"]), @"
    ------- stderr -------
    error: This version has no recorded code files
    hint: Record them at commit time with --code FILE.
    [exit status: 1]
    ");
}

#[test]
fn checkout_code_writes_the_recorded_code_files() {
    let env = TestEnv::new();
    pipeline(&env);
    env.write("code/clean.py", "# edited after the commit\n");
    assert_snapshot!(env.dv(&["checkout", "penguins@cleaned", "--code", "--to", "../code-then"]), @"
    ------- stderr -------
    Wrote 1 code file of 179db096387b into ../code-then.
    ");
    let restored = std::fs::read(env.base().join("code-then/code/clean.py")).unwrap();
    assert_eq!(restored, b"# drop rows with missing values\n");
    assert_snapshot!(env.dv(&["checkout", "penguins@cleaned", "--code", "--to", "../code-then"]), @"
    ------- stderr -------
    error: File $TEST_ENV/code-then/code/clean.py already exists
    hint: Add --force to replace it, or choose another directory.
    [exit status: 1]
    ");
    assert_snapshot!(env.dv(&["checkout", "penguins@raw", "--code", "--to", "../none"]), @"
    ------- stderr -------
    error: This version has no recorded code files
    hint: Record them at commit time with --code FILE.
    [exit status: 1]
    ");
}
