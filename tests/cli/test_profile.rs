//! Profiles, stage rules and drift on real-shaped data: the Palmer penguins CSV with its `NA`
//! values, and Parquet written by pyarrow. Profile numbers are checked against an independent
//! computation (Python's csv module, pyarrow) in tests/py/profile_check.py.

use serde_json::{Value, json};

use crate::common::{TestEnv, check, checker_python};

/// The 344 Palmer penguins (fixtures/palmer).
fn palmer() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/palmer/penguins.csv");
    std::fs::read_to_string(path).unwrap()
}

/// Writes `csv` as Parquet at `rel` with pyarrow.
fn to_parquet(env: &TestEnv, python: &str, csv_rel: &str, rel: &str) {
    let csv = env.root().join(csv_rel);
    let out = env.root().join(rel);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    check(
        python,
        "to_parquet.py",
        &[csv.to_str().unwrap(), out.to_str().unwrap(), "100"],
        "",
    );
}

fn independent(python: &str, path: &std::path::Path, kind: &str, labels: &[&str]) -> Value {
    let mut args = vec![path.to_str().unwrap(), kind];
    args.extend(labels);
    serde_json::from_str(&check(python, "profile_check.py", &args, "")).unwrap()
}

/// dv's table profile without what the independent one does not compute.
fn comparable(table: &Value) -> Value {
    json!({
        "rows": table["rows"],
        "duplicate_rows": table["duplicate_rows"],
        "columns": table["columns"],
        "labels": table.get("labels").cloned().unwrap_or(json!({})),
    })
}

#[test]
fn profiles_match_an_independent_computation() {
    let Some(python) = checker_python() else {
        return;
    };
    let env = TestEnv::new();
    // The real file, with three rows repeated (duplicates) at the end.
    let mut text = palmer();
    let repeated: Vec<&str> = text.lines().skip(1).take(3).collect();
    let repeated = repeated.join("\n") + "\n";
    text.push_str(&repeated);
    env.write("raw/tables/penguins.csv", &text);
    to_parquet(
        &env,
        &python,
        "raw/tables/penguins.csv",
        "raw/tables/penguins.parquet",
    );
    env.write("raw/README.md", "# penguins\n");
    env.write(
        "dv.toml",
        "[stages.raw]\n[[stages.raw.tables]]\nfiles = \"penguins.*\"\nlabel_columns = [\"species\", \"island\"]\n",
    );
    let id = env.id(&["commit", "raw", "-d", "penguins", "-s", "raw"]);
    let profile = env.dv(&["show", &id, "--profile", "--json"]).json();

    let csv = env.root().join("raw/tables/penguins.csv");
    let parquet = env.root().join("raw/tables/penguins.parquet");
    let labels = ["species", "island"];
    assert_eq!(
        comparable(&profile["tables"]["tables/penguins.csv"]),
        independent(&python, &csv, "csv", &labels)
    );
    assert_eq!(
        comparable(&profile["tables"]["tables/penguins.parquet"]),
        independent(&python, &parquet, "parquet", &labels)
    );
    // The numbers themselves, for the reader: 347 rows, 3 repeated; 11 penguins without a sex
    // in the CSV (NA), while pyarrow read that column's NA as text (Parquet nulls are real nulls).
    let table = &profile["tables"]["tables/penguins.csv"];
    assert_eq!(
        (table["rows"].clone(), table["duplicate_rows"].clone()),
        (json!(347), json!(3))
    );
    assert_eq!(
        table["columns"][6],
        json!({"name": "sex", "type": "string", "nulls": 11})
    );
    assert_eq!(
        table["labels"]["species"],
        json!({"Adelie": 155, "Chinstrap": 68, "Gentoo": 124})
    );
    let parquet_table = &profile["tables"]["tables/penguins.parquet"];
    assert_eq!(parquet_table["format"], "parquet");
    assert_eq!(
        parquet_table["columns"][6],
        json!({"name": "sex", "type": "string", "nulls": 0})
    );
    assert_eq!(
        parquet_table["columns"][2],
        json!({"name": "bill_length_mm", "type": "float", "nulls": 2})
    );

    let size = |rel: &str| std::fs::metadata(env.root().join(rel)).unwrap().len();
    let (csv_bytes, pq_bytes, md_bytes) = (
        size("raw/tables/penguins.csv"),
        size("raw/tables/penguins.parquet"),
        size("raw/README.md"),
    );
    assert_eq!(
        profile["extensions"],
        json!({
            "csv": {"files": 1, "bytes": csv_bytes},
            "md": {"files": 1, "bytes": md_bytes},
            "parquet": {"files": 1, "bytes": pq_bytes},
        })
    );
    assert_eq!(
        profile["directories"],
        json!({
            ".": {"files": 1, "bytes": md_bytes},
            "tables": {"files": 2, "bytes": csv_bytes + pq_bytes},
        })
    );
    assert_eq!(profile["files"], 3);
    assert_eq!(profile["id"], json!(id));
}

/// The cleaned stage's rules of the issue, a little stricter.
const CLEANED_RULES: &str = r#"
[stages.cleaned]
inputs_from = ["raw"]
require = ["transform", "code"]
[[stages.cleaned.tables]]
files = "*.csv"
columns = ["species", "island"]
types = { body_mass_g = "integer", bill_length_mm = "float" }
no_nulls = ["species", "sex"]
max_duplicate_rows = 0.0
min_rows = 100
label_columns = ["species"]
max_label_ratio = 2.0
"#;

#[test]
fn a_version_failing_its_stage_rules_is_refused_with_a_report_unless_allowed() {
    let env = TestEnv::new();
    env.write("raw/penguins.csv", palmer());
    env.write("dv.toml", CLEANED_RULES);
    env.ok(&["commit", "raw", "-d", "penguins", "-s", "raw", "-q"]);
    // "Cleaning" that keeps the NA rows and repeats one.
    let mut text = palmer();
    let first = text.lines().nth(1).unwrap().to_string();
    text.push_str(&first);
    text.push('\n');
    env.write("cleaned/penguins.csv", &text);
    env.write("clean.py", "print('clean')\n");
    let args = [
        "commit",
        "cleaned",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        "penguins@raw",
        "--transform",
        "python clean.py",
    ];
    let refused = env.dv(&args);
    assert_eq!(refused.code, 1, "{refused}");
    assert_eq!(
        refused.stderr,
        "error: penguins@cleaned fails 4 stage rules in dv.toml\n\
         \x20 require: it records no code file (--code) (code)\n\
         \x20 no_nulls penguins.csv [sex]: 11 of 345 rows are null in sex\n\
         \x20 max_duplicate_rows penguins.csv: 1 of 345 rows are duplicates (0.0029), more than 0\n\
         \x20 max_label_ratio penguins.csv [species]: Adelie 153 rows / Chinstrap 68 rows = 2.25, more than 2\n\
         hint: Fix the data, or change the rules in dv.toml. `--allow-failing` commits it anyway, recorded in the version as failing.\n"
    );
    assert_eq!(
        env.dv(&["log", "--stage", "cleaned", "--json"]).json(),
        json!([])
    );

    // Committed anyway: recorded in the version, shown by show, log and check.
    let mut allowed = args.to_vec();
    allowed.extend(["--code", "clean.py", "--allow-failing"]);
    let out = env.dv(&allowed);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.starts_with(
            "warning: penguins@cleaned was committed failing 3 stage rules (--allow-failing):\n  no_nulls penguins.csv [sex]"
        ),
        "{out}"
    );
    let id = out.stdout.trim().to_string();
    let shown = env.dv(&["show", &id, "--json"]).json();
    assert_eq!(shown["format"], 4);
    assert_eq!(
        shown["failed_rules"][0],
        json!({"rule": "no_nulls", "file": "penguins.csv", "column": "sex", "message": "11 of 345 rows are null in sex"})
    );
    assert_eq!(shown["failed_rules"].as_array().unwrap().len(), 3);
    let text = env.ok(&["show", &id]);
    assert!(
        text.contains("failing    no_nulls penguins.csv [sex]: 11 of 345 rows are null in sex\n"),
        "{text}"
    );
    assert!(text.contains("(committed with --allow-failing)"), "{text}");
    let log = env.ok(&["log", "--stage", "cleaned"]);
    assert!(log.contains("[failing 3 rules] python clean.py"), "{log}");

    let checked = env.dv(&["check", &id, "--json"]);
    assert_eq!(checked.code, 1, "{checked}");
    let checked = checked.json();
    assert_eq!(checked["passed"], false);
    assert_eq!(checked["rules"], true);
    assert_eq!(checked["failures"], shown["failed_rules"]);
    assert_eq!(checked["committed_failing"], shown["failed_rules"]);

    // Today's rules decide `dv check`: relaxed, the same version passes.
    env.write(
        "dv.toml",
        CLEANED_RULES
            .replace(
                "no_nulls = [\"species\", \"sex\"]",
                "no_nulls = [\"species\"]",
            )
            .replace("max_duplicate_rows = 0.0", "max_duplicate_rows = 0.01")
            .replace("max_label_ratio = 2.0", "max_label_ratio = 2.5"),
    );
    let passed = env.dv(&["check", &id]);
    assert_eq!(passed.code, 0, "{passed}");
    assert_eq!(
        passed.stdout,
        format!("penguins@cleaned {} passes the cleaned rules.\n", &id[..12])
    );
    // A version of a stage without rules.
    let raw = env.ok(&["check", "penguins@raw"]);
    assert!(
        raw.ends_with(": dv.toml has no rules for stage raw.\n"),
        "{raw}"
    );
}

#[test]
fn dv_run_refuses_inputs_from_the_wrong_stage_before_running() {
    let env = TestEnv::new();
    env.write("raw/penguins.csv", palmer());
    env.write("dv.toml", CLEANED_RULES);
    env.ok(&["commit", "raw", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["commit", "raw", "-d", "penguins", "-s", "labeled", "-q"]);
    let out = env.dv(&[
        "run",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        "penguins@labeled",
        "--out",
        "cleaned",
        "--",
        "sh",
        "-c",
        "touch ran; cp raw/penguins.csv \"$DV_OUTPUT\"/",
    ]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.starts_with(
            "error: penguins@cleaned fails 1 stage rule in dv.toml\n  inputs_from: an input is a labeled version; inputs must be raw\n"
        ),
        "{out}"
    );
    assert!(!env.root().join("ran").exists(), "the command ran");
}

#[test]
fn drift_between_two_labeled_versions_shows_the_class_shift() {
    let env = TestEnv::new();
    env.write(
        "dv.toml",
        "[stages.labeled]\n[[stages.labeled.tables]]\nfiles = \"labels.csv\"\nlabel_columns = [\"label\"]\n",
    );
    let write_version = |cats: usize, dogs: usize| {
        let _ = std::fs::remove_dir_all(env.root().join("labeled"));
        let mut labels = String::from("image,label\n");
        for i in 0..cats {
            env.write(&format!("labeled/train/cat/{i}.png"), format!("cat {i}"));
            labels.push_str(&format!("train/cat/{i}.png,cat\n"));
        }
        for i in 0..dogs {
            env.write(&format!("labeled/train/dog/{i}.png"), format!("dog {i}"));
            labels.push_str(&format!("train/dog/{i}.png,dog\n"));
        }
        env.write("labeled/labels.csv", labels);
        env.id(&["commit", "labeled", "-d", "pets", "-s", "labeled"])
    };
    let before = write_version(50, 50);
    let after = write_version(20, 60);
    let drift = env
        .dv(&["diff", &before, &after, "--profile", "--json"])
        .json();
    // 50/50 → 25/75: a quarter of the mass moved.
    assert_eq!(
        drift["tables"]["labels.csv"]["labels"],
        json!({"label": {"distance": 0.25, "values": {
            "cat": {"old": 50, "new": 20},
            "dog": {"old": 50, "new": 60},
        }}})
    );
    assert_eq!(
        drift["tables"]["labels.csv"]["rows"],
        json!({"old": 100, "new": 80})
    );
    assert_eq!(drift["files"], json!({"old": 101, "new": 81}));
    assert_eq!(drift["extensions"], json!({"png": {"old": 100, "new": 80}}));
    assert_eq!(
        drift["directories"],
        json!({"distance": 0.002445, "classes": {"train": 0.25}, "directories": {
            ".": {"old": 1, "new": 1},
            "train": {"old": 100, "new": 80},
            "train/cat": {"old": 50, "new": 20},
            "train/dog": {"old": 50, "new": 60},
        }})
    );
    let text = env.ok(&["diff", &before, &after, "--profile"]);
    assert!(
        text.contains("  labels label  distribution moved by 0.250 (total variation)\n    cat         50 → 20 (-30)\n    dog         50 → 60 (+10)\n"),
        "{text}"
    );
    // Same data, same profile.
    let same = env.ok(&["diff", &after, &after, "--profile"]);
    assert_eq!(same, "The profiles are the same.\n");
}

#[test]
fn a_parquet_row_diff_matches_rows_by_key() {
    let Some(python) = checker_python() else {
        return;
    };
    let env = TestEnv::new();
    let rows = |changes: &[(usize, &str)], drop: usize, extra: usize| {
        let mut text = String::from("id,species,body_mass_g\n");
        for i in 1..=300usize {
            if i == drop {
                continue;
            }
            let mass = changes
                .iter()
                .find(|(row, _)| *row == i)
                .map_or_else(|| (3000 + i).to_string(), |(_, m)| m.to_string());
            text.push_str(&format!("{i},{},{mass}\n", ["Adelie", "Gentoo"][i % 2]));
        }
        if extra > 0 {
            text.push_str(&format!("{extra},Chinstrap,4100\n"));
        }
        text
    };
    env.write("csv/t.csv", rows(&[], 0, 0));
    to_parquet(&env, &python, "csv/t.csv", "data/t.parquet");
    let old = env.id(&["commit", "data", "-d", "t", "-s", "raw"]);
    env.write("csv/t.csv", rows(&[(7, "9999")], 42, 301));
    to_parquet(&env, &python, "csv/t.csv", "data/t.parquet");
    let new = env.id(&["commit", "data", "-d", "t", "-s", "raw"]);
    let diff = env
        .dv(&["diff", &old, &new, "--key", "id", "--json"])
        .json();
    let rows = &diff["rows"][0];
    assert_eq!(rows["path"], "t.parquet");
    assert_eq!(rows["format"], "parquet");
    assert_eq!(
        (
            rows["added"].clone(),
            rows["removed"].clone(),
            rows["changed"].clone(),
            rows["unchanged"].clone()
        ),
        (json!(1), json!(1), json!(1), json!(298))
    );
    assert_eq!(
        rows["examples_changed"],
        json!([{"key": {"id": "7"}, "columns": {"body_mass_g": {"old": "3007", "new": "9999"}}}])
    );
    assert_eq!(
        rows["examples_added"],
        json!([{"id": "301", "species": "Chinstrap", "body_mass_g": "4100"}])
    );
    assert_eq!(
        rows["examples_removed"],
        json!([{"id": "42", "species": "Adelie", "body_mass_g": "3042"}])
    );
    assert_eq!(
        rows["schema"],
        json!({"added": [], "removed": [], "reordered": false})
    );
}

#[test]
fn mistakes_in_dv_toml_are_named_and_stop_the_commit() {
    let env = TestEnv::new();
    env.write("raw/penguins.csv", palmer());
    let cases = [
        (
            "[stages.raw]\nminimum_rows = 3\n",
            "unknown field `minimum_rows`",
        ),
        (
            "[stages.clean]\nrequire = [\"code\"]\n",
            "[stages] names stage \"clean\", which this workspace does not have (its stages: raw, cleaned, labeled, training-ready)",
        ),
        (
            "[stages.raw]\n[[stages.raw.tables]]\nfiles = \"*.csv\"\ntypes = { species = \"text\" }\n",
            "[stages.raw] tables \"*.csv\": type \"text\" of column \"species\" is not one of integer, float, boolean, string, null, date, timestamp, time, binary, decimal, list, struct, map",
        ),
        (
            "[stages.raw]\n[[stages.raw.tables]]\nfiles = \"*.csv\"\nlabel_columns = [\"species\"]\nmax_label_ratio = 0.5\n",
            "[stages.raw] tables \"*.csv\" max_label_ratio is a ratio of at least 1.0, not 0.5",
        ),
        (
            "[stages.raw]\nrequire = [\"blessing\"]\n",
            "unknown variant `blessing`, expected one of `transform`, `code`, `params`, `inputs`, `run`",
        ),
    ];
    for (text, reason) in cases {
        env.write("dv.toml", text);
        let out = env.dv(&["commit", "raw", "-d", "penguins", "-s", "raw"]);
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr.starts_with("error: $TEST_ENV/ws/dv.toml: ") && out.stderr.contains(reason),
            "{reason:?} in {out}"
        );
        assert!(
            out.stderr
                .contains("hint: Nothing was written. Fix dv.toml"),
            "{out}"
        );
        let rules = env.dv(&["rules"]);
        assert_eq!(rules.code, 1, "{rules}");
    }
    assert_eq!(env.dv(&["log", "--json"]).json(), json!([]));
}

#[test]
fn dv_rules_prints_the_rules_in_force() {
    let env = TestEnv::new();
    assert!(env.ok(&["rules"]).starts_with("No dv.toml at "));
    env.write("dv.toml", CLEANED_RULES);
    let text = env.ok(&["rules"]);
    let expected = "\ncleaned:\n\
        \x20 inputs from               raw\n\
        \x20 requires                  transform, code\n\
        \x20 tables *.csv\n\
        \x20   columns                 species, island\n\
        \x20   type of bill_length_mm  float\n\
        \x20   type of body_mass_g     integer\n\
        \x20   no nulls in             species, sex\n\
        \x20   duplicate rows          at most 0 of rows\n\
        \x20   rows at least           100\n\
        \x20   labels                  species (most / least frequent at most 2)\n\
        \nlabeled: no rules\n";
    assert!(text.contains(expected), "{text}");
    let json = env.dv(&["rules", "--json"]).json();
    assert_eq!(json["stages"]["cleaned"]["inputs_from"], json!(["raw"]));
    assert_eq!(
        json["stages"]["cleaned"]["tables"][0]["max_label_ratio"],
        json!(2.0)
    );
    assert_eq!(
        json["profile"]["null_values"],
        json!(["", "NA", "N/A", "null", "NaN"])
    );
}

#[test]
fn class_directories_are_checked_even_with_profiles_off() {
    let env = TestEnv::new();
    env.write(
        "dv.toml",
        "[profile]\nenabled = false\n[stages.labeled]\ndirectories = [\"train/cat\", \"train/dog\"]\nmax_directory_ratio = 2.0\n",
    );
    env.write("l/train/cat/1.png", "c1");
    for i in 1..=3 {
        env.write(&format!("l/train/dog/{i}.png"), format!("d{i}"));
    }
    let out = env.dv(&["commit", "l", "-d", "pets", "-s", "labeled"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "  max_directory_ratio: train/dog 3 files / train/cat 1 files = 3.00, more than 2\n"
        ),
        "{out}"
    );
    env.write("l/train/cat/2.png", "c2");
    let id = env.id(&["commit", "l", "-d", "pets", "-s", "labeled"]);
    // A stage with rules is profiled (they are checked against it); one without is not.
    let shown = env.dv(&["show", &id, "--json"]).json();
    assert_eq!(shown["format"], 4);
    assert!(shown["profile"]["blob"].is_string(), "{shown}");
    let raw = env.id(&["commit", "l", "-d", "pets", "-s", "raw"]);
    let shown = env.dv(&["show", &raw, "--json"]).json();
    assert_eq!(shown["format"], 1);
    assert!(shown.get("profile").is_none(), "{shown}");
    // Its profile is computed when asked for.
    let profile = env.dv(&["show", &raw, "--profile", "--json"]).json();
    assert_eq!(profile["directories"]["train/dog"]["files"], 3);
}

/// `dv diff --profile` of two versions of a stage reads only the tables whose stored profile
/// differs: a table both share is never read (here its profile object is damaged, and the
/// diff still answers, while `show --profile`, which reads it, names the damage).
#[test]
fn diff_profile_reads_only_the_tables_that_differ() {
    let env = TestEnv::new();
    env.write("data/same.csv", "id,x\n1,2\n");
    env.write("data/moved.csv", "id,y\n1,2\n");
    let first = env.id(&["commit", "data", "-d", "t", "-s", "raw"]);
    env.write("data/moved.csv", "id,y\n1,2\n2,NA\n");
    let second = env.id(&["commit", "data", "-d", "t", "-s", "raw"]);
    let shared = env.table_profile(&second, "same.csv");
    env.damage_object(dv::store::Kind::Blob, &shared.id, 1);
    let drift = env
        .dv(&["diff", &first, &second, "--profile", "--json"])
        .json();
    assert_eq!(
        drift["tables"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["moved.csv"]
    );
    assert_eq!(
        drift["tables"]["moved.csv"]["rows"],
        json!({"old": 1, "new": 2})
    );
    assert_eq!(
        drift["tables"]["moved.csv"]["nulls"],
        json!({"y": {"old": 0, "new": 1}})
    );
    let out = env.dv(&["show", &second, "--profile"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains(&format!("blob object {} is corrupt", shared.id.to_hex())),
        "{out}"
    );
}
