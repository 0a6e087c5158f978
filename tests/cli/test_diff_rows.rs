//! `dv diff --rows`: row-level changes in CSV, TSV and JSONL files.

use insta::{assert_json_snapshot, assert_snapshot};

use crate::common::TestEnv;

/// Commits `old` as t@raw and `new` as t@cleaned at `data/FILE`; returns the diff output.
fn diff_rows(
    env: &TestEnv,
    file: &str,
    old: &str,
    new: &str,
    extra: &[&str],
) -> crate::common::Output {
    env.write(&format!("data/{file}"), old);
    env.ok(&["commit", "data", "-d", "t", "-s", "raw"]);
    env.write(&format!("data/{file}"), new);
    env.ok(&["commit", "data", "-d", "t", "-s", "cleaned"]);
    let mut args = vec!["diff", "t@raw", "t@cleaned", "--rows"];
    args.extend_from_slice(extra);
    env.dv(&args)
}

const BASE: &str = "id,species,mass\n1,Adelie,3750\n2,Gentoo,5000\n3,Chinstrap,3500\n";

#[test]
fn appended_rows() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        &format!("{BASE}4,Adelie,3900\n5,Gentoo,5100\n"),
        &[],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 89 B

    p.csv (csv): 2 added, 0 removed, 3 unchanged
      + id=4 mass=3900 species=Adelie
      + id=5 mass=5100 species=Gentoo
    ");
}

#[test]
fn deleted_rows() {
    let env = TestEnv::new();
    let out = diff_rows(&env, "p.csv", BASE, "id,species,mass\n1,Adelie,3750\n", &[]);
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 30 B

    p.csv (csv): 0 added, 2 removed, 1 unchanged
      - id=2 mass=5000 species=Gentoo
      - id=3 mass=3500 species=Chinstrap
    ");
}

#[test]
fn a_changed_cell_matched_by_key() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        "id,species,mass\n1,Adelie,3750\n2,Gentoo,5050\n3,Chinstrap,3500\n",
        &["--key", "id"],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 61 B

    p.csv (csv): 0 added, 0 removed, 1 changed, 2 unchanged
      ~ id=2: mass: 5000 → 5050
    ");
}

#[test]
fn a_reordered_file_has_no_row_changes() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        "id,species,mass\n3,Chinstrap,3500\n1,Adelie,3750\n2,Gentoo,5000\n",
        &[],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 61 B

    p.csv (csv): 0 added, 0 removed, 3 unchanged
    ");
}

#[test]
fn a_new_column_is_a_schema_change_and_rows_compare_on_shared_columns() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        "id,island,species,mass\n1,Torgersen,Adelie,3750\n2,Biscoe,Gentoo,5000\n3,Dream,Chinstrap,3500\n",
        &[],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 91 B

    p.csv (csv): 0 added, 0 removed, 3 unchanged
      columns: +island
    ");
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        "mass,id,species\n3750,1,Adelie\n5000,2,Gentoo\n3500,3,Chinstrap\n",
        &[],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 61 B

    p.csv (csv): 0 added, 0 removed, 3 unchanged
      columns: (reordered)
    ");
}

#[test]
fn quoted_fields_with_commas_and_newlines() {
    let env = TestEnv::new();
    let old = "id,note\n1,\"plain\"\n2,\"a, b\"\n";
    let new = "id,note\n1,plain\n2,\"a, b\"\n3,\"two\nlines, and \"\"quotes\"\"\"\n";
    let out = diff_rows(&env, "notes.csv", old, new, &["--json"]);
    assert_json_snapshot!(out.json()["rows"], @r#"
    [
      {
        "added": 1,
        "changed": 0,
        "examples_added": [
          {
            "id": "3",
            "note": "two\nlines, and \"quotes\""
          }
        ],
        "examples_changed": [],
        "examples_removed": [],
        "format": "csv",
        "path": "notes.csv",
        "removed": 0,
        "schema": {
          "added": [],
          "removed": [],
          "reordered": false
        },
        "unchanged": 2
      }
    ]
    "#);
}

#[test]
fn crlf_line_endings_do_not_change_rows() {
    let env = TestEnv::new();
    let out = diff_rows(&env, "p.csv", BASE, &BASE.replace('\n', "\r\n"), &[]);
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 65 B

    p.csv (csv): 0 added, 0 removed, 3 unchanged
    ");
}

#[test]
fn tsv_and_jsonl() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.tsv",
        "id\tv\n1\tx\n2\ty\n",
        "id\tv\n1\tx\n2\tz\n",
        &["--key", "id"],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.tsv  13 B → 13 B

    p.tsv (tsv): 0 added, 0 removed, 1 changed, 1 unchanged
      ~ id=2: v: y → z
    ");
    let env = TestEnv::new();
    let old = "{\"id\": 1, \"label\": \"cat\"}\n{\"id\": 2, \"label\": \"dog\"}\n";
    let new = "{\"label\": \"cat\", \"id\": 1}\r\n{\"id\": 2, \"label\": \"wolf\"}\n{\"id\": 3, \"label\": \"fox\", \"score\": 0.5}\n";
    let out = diff_rows(&env, "labels.jsonl", old, new, &["--key", "id"]);
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  labels.jsonl  52 B → 94 B

    labels.jsonl (jsonl): 1 added, 0 removed, 1 changed, 1 unchanged
      columns: +score
      + id=3 label=fox score=0.5
      ~ id=2: label: dog → wolf
    ");
}

#[test]
fn malformed_csv_names_the_file_and_line_and_keeps_the_file_diff() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        "id,species,mass\n1,Adelie,3750\n2,Gentoo\n",
        &[],
    );
    assert_snapshot!(out, @"
    stage  raw → cleaned

    M  p.csv  61 B → 39 B
    ------- stderr -------
    error: Could not compare the rows of 1 file
      p.csv (new version) is not valid at line 3: CSV error: record 2 (line: 3, byte: 30): found record with 2 fields, but the previous record has 3 fields
    hint: The file-level diff above is complete; fix the file or compare without --rows.
    [exit status: 1]
    ");
}

#[test]
fn an_unknown_key_column_is_an_error_for_that_file() {
    let env = TestEnv::new();
    let out = diff_rows(
        &env,
        "p.csv",
        BASE,
        &format!("{BASE}4,Adelie,1\n"),
        &["--key", "tag"],
    );
    assert_snapshot!(out, @r#"
    stage  raw → cleaned

    M  p.csv  61 B → 72 B
    ------- stderr -------
    error: Could not compare the rows of 1 file
      Key column "tag" is not in both versions of p.csv
    hint: The file-level diff above is complete; fix the file or compare without --rows.
    [exit status: 1]
    "#);
}
