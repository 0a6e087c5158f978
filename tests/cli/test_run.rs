//! `dv run`, `dv runs` and `dv rerun` with small real transforms: the Python standard-library
//! scripts in `fixtures/pipeline/`, run on the penguins sample.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::{Output, TestEnv};
use crate::describe::describe;

/// A workspace holding `fixtures/` (the scripts and the sample) with the sample committed as
/// `penguins@raw`; returns its id.
fn pipeline() -> (TestEnv, String) {
    let env = TestEnv::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    copy_dir(&fixtures, &env.root().join("fixtures"));
    copy_dir(&fixtures.join("penguins"), &env.root().join("data/raw"));
    let raw = env.id(&["commit", "data/raw", "-d", "penguins", "-s", "raw", "-q"]);
    (env, raw)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The test's PATH, so the commands dv runs find python3.
fn path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// Runs dv with the test's PATH.
fn dv(env: &TestEnv, args: &[&str]) -> Output {
    env.dv_env(&[("PATH", &path())], args)
}

fn ok(env: &TestEnv, args: &[&str]) -> Output {
    let out = dv(env, args);
    assert_eq!(out.code, 0, "dv {args:?} failed:\n{out}");
    out
}

/// `dv run -d penguins -s STAGE --from FROM --out OUT -- COMMAND`, which must fail (exit 1).
fn failed_run(env: &TestEnv, stage: &str, from: &str, out: &str, command: &[&str]) -> Output {
    let mut args = vec![
        "run", "-d", "penguins", "-s", stage, "--from", from, "--out", out, "--",
    ];
    args.extend_from_slice(command);
    let output = dv(env, &args);
    assert_eq!(output.code, 1, "dv {args:?} did not fail:\n{output}");
    output
}

/// `dv run` of a fixture script; returns the new version's JSON.
fn run(env: &TestEnv, stage: &str, from: &str, out: &str, script: &str, params: &[&str]) -> Value {
    let mut args = vec![
        "run", "-d", "penguins", "-s", stage, "--from", from, "--out", out,
    ];
    for param in params {
        args.extend(["--param", param]);
    }
    let script = format!("fixtures/pipeline/{script}");
    args.extend(["--json", "--", "python3", &script]);
    ok(env, &args).json()
}

fn python_version() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.version.split()[0])"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The sample's rows without a missing value, as clean.py should write them.
fn cleaned_sample() -> String {
    let raw = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/penguins/penguins.csv"),
    )
    .unwrap();
    raw.lines()
        .filter(|line| !line.split(',').any(|field| field == "NA"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The four stages: raw, cleaned, labeled, training-ready.
struct Pipeline {
    raw: String,
    cleaned: String,
    labeled: String,
    ready: String,
}

fn four_stages(env: &TestEnv, raw: &str) -> Pipeline {
    let cleaned = run(
        env,
        "cleaned",
        raw,
        "data/cleaned",
        "clean.py",
        &["missing=NA"],
    );
    let cleaned = cleaned["id"].as_str().unwrap().to_string();
    let labeled = run(
        env,
        "labeled",
        &cleaned,
        "data/labeled",
        "label.py",
        &["threshold=4000"],
    );
    let labeled = labeled["id"].as_str().unwrap().to_string();
    let ready = run(
        env,
        "training-ready",
        &labeled,
        "data/ready",
        "split.py",
        &["test_every=4"],
    );
    Pipeline {
        raw: raw.to_string(),
        cleaned,
        labeled,
        ready: ready["id"].as_str().unwrap().to_string(),
    }
}

#[test]
fn a_four_stage_pipeline_records_its_runs_and_each_stage_reruns_identically() {
    let (env, raw) = pipeline();
    let p = four_stages(&env, &raw);
    assert_eq!(
        String::from_utf8(env.read("data/cleaned/penguins.csv")).unwrap(),
        cleaned_sample()
    );

    let shown = ok(&env, &["show", &p.ready, "--json"]).json();
    let script = env.read("fixtures/pipeline/split.py");
    // A run record and a profile stored table by table: version format 4.
    assert_eq!(shown["format"], 4);
    assert_eq!(shown["inputs"], json!([p.labeled]));
    assert_eq!(shown["transform"], "python3 fixtures/pipeline/split.py");
    assert_eq!(shown["params"], json!({"test_every": 4}));
    assert_eq!(
        shown["code"],
        json!([{
            "path": "fixtures/pipeline/split.py",
            "blob": dv::Hash::of(&script).to_hex(),
            "size": script.len(),
        }])
    );
    let run = &shown["run"];
    assert_eq!(
        run["argv"],
        json!(["python3", "fixtures/pipeline/split.py"])
    );
    assert_eq!(run["workdir"], "");
    assert_eq!(
        run["inputs"],
        json!([{"name": "penguins", "id": p.labeled, "path": "data/labeled"}])
    );
    assert_eq!(run["exit_status"], 0);
    assert_eq!(
        run["os"],
        format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
    );
    assert_eq!(run["interpreter"]["program"], "python");
    assert_eq!(run["interpreter"]["version"], python_version());
    assert!(run["interpreter"]["packages"]["blob"].is_string(), "{run}");
    assert_eq!(
        ok(&env, &["show", &p.ready, "--log"]).stdout,
        "==> stdout <==\nsplit: 9 train, 3 test\n==> stderr <==\n"
    );
    // The lineage runs through every stage.
    let lineage = ok(&env, &["lineage", &p.ready, "--json"]).json();
    for id in [&p.raw, &p.cleaned, &p.labeled, &p.ready] {
        assert!(
            lineage.to_string().contains(id.as_str()),
            "{id} in {lineage}"
        );
    }
    let runs = ok(&env, &["runs", "--json"]).json();
    let outcomes: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["stage"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("training-ready", "committed"),
            ("labeled", "committed"),
            ("cleaned", "committed")
        ]
    );

    // Today's script is not what rerun runs: the recorded one is.
    env.write(
        "fixtures/pipeline/split.py",
        "raise SystemExit('edited since')\n",
    );
    for id in [&p.cleaned, &p.labeled, &p.ready] {
        let out = ok(&env, &["rerun", id]);
        assert_eq!(
            out.stdout,
            format!(
                "reproduced: identical ({} gave back its recorded bytes)\n",
                &id[..12]
            )
        );
    }
    let report = ok(&env, &["rerun", &p.ready, "--json"]).json();
    assert_eq!(report["identical"], true);
    assert_eq!(report["exit_status"], 0);
    assert_eq!(report["environment"], json!([]));
}

#[test]
fn a_transform_that_embeds_the_time_is_caught_with_its_diff() {
    let (env, raw) = pipeline();
    let stamped = run(&env, "cleaned", &raw, "data/stamped", "stamp.py", &[]);
    let id = stamped["id"].as_str().unwrap();
    let out = dv(&env, &["rerun", id, "--keep", "../again"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout.starts_with(&format!(
            "not reproduced: the output differs from {}\n",
            &id[..12]
        )),
        "{out}"
    );
    assert!(out.stdout.contains("M  made_at.txt"), "{out}");
    assert!(out.stdout.ends_with("kept in $TEST_ENV/again\n"), "{out}");
    // The kept directory holds what the rerun wrote, laid out as the workspace.
    let again = env.base().join("again/workspace/data/stamped/made_at.txt");
    assert_ne!(
        std::fs::read(again).unwrap(),
        env.read("data/stamped/made_at.txt")
    );
}

#[test]
fn a_failing_step_commits_nothing_and_is_listed_with_its_log() {
    let (env, raw) = pipeline();
    let out = failed_run(
        &env,
        "labeled",
        &raw,
        "data/labeled",
        &["python3", "fixtures/pipeline/fail.py"],
    );
    assert!(
        out.stderr
            .contains("error: The command exited with status 3: nothing was committed (run ")
            && out.stderr.contains(
                "hint: Its output and error log are kept: `dv runs --failed` shows them."
            ),
        "{out}"
    );
    let log = ok(&env, &["log", "--json"]).json();
    assert_eq!(log.as_array().unwrap().len(), 1, "only raw: {log}");
    let failed = ok(&env, &["runs", "--failed", "--json"]).json();
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["outcome"], "failed");
    assert_eq!(failed[0]["exit_status"], 3);
    assert_eq!(
        failed[0]["argv"],
        json!(["python3", "fixtures/pipeline/fail.py"])
    );
    assert_eq!(failed[0]["stdout"], "reading the labels...\n");
    assert_eq!(
        failed[0]["stderr"],
        "error: column 'species' has 2 unknown values\n"
    );
    let listed = ok(&env, &["runs", "--failed"]).stdout;
    assert!(
        listed.contains("penguins@labeled")
            && listed.contains("failed (exit 3)")
            && listed.contains("    | error: column 'species' has 2 unknown values\n"),
        "{listed}"
    );
}

#[test]
fn a_command_that_writes_into_its_input_is_refused() {
    let (env, raw) = pipeline();
    let out = failed_run(
        &env,
        "cleaned",
        &raw,
        "data/out",
        &["python3", "fixtures/pipeline/tamper.py"],
    );
    assert!(
        out.stderr
            .contains("error: The command changed its inputs, so nothing was committed (run ")
            && out.stderr.contains("\n  data/raw/penguins.csv\n"),
        "{out}"
    );
    let failed = ok(&env, &["runs", "--failed", "--json"]).json();
    assert_eq!(failed[0]["outcome"], "modified_inputs");
    assert_eq!(
        failed[0]["modified_inputs"],
        json!(["data/raw/penguins.csv"])
    );
    assert_eq!(
        ok(&env, &["log", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_command_gets_its_params_inputs_and_output_and_runs_without_a_shell() {
    let (env, raw) = pipeline();
    let script = "printf '%s|%s|%s|%s\\n' \"$DV_PARAM_THRESHOLD\" \"$DV_PARAM_RUN_NAME\" \
                  \"$DV_PARAMS\" \"$DV_INPUTS\" > \"$DV_OUTPUT/env.txt\"; echo \"$DV_OUTPUT\" > \"$DV_OUTPUT/out.txt\"";
    let made = ok(
        &env,
        &[
            "run",
            "-d",
            "penguins",
            "-s",
            "cleaned",
            "--from",
            &raw,
            "--out",
            "data/env",
            "--param",
            "threshold=4000",
            "--param",
            "run-name=first",
            "--json",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
    .json();
    let root = env.root().display().to_string();
    assert_eq!(
        String::from_utf8(env.read("data/env/env.txt")).unwrap(),
        format!(
            "4000|first|{{\"run-name\":\"first\",\"threshold\":4000}}|\
             {{\"penguins\":{{\"id\":\"{raw}\",\"path\":\"{root}/data/raw\"}}}}\n"
        )
    );
    assert_eq!(
        String::from_utf8(env.read("data/env/out.txt")).unwrap(),
        format!("{root}/data/env\n")
    );
    assert_eq!(made["run"]["argv"], json!(["sh", "-c", script]));
    assert!(made["run"].get("interpreter").is_none(), "{made}");
}

#[test]
fn run_refuses_what_it_cannot_do_safely() {
    let (env, raw) = pipeline();
    env.write("data/busy/notes.txt", "not stored anywhere\n");
    let out = failed_run(
        &env,
        "cleaned",
        &raw,
        "data/busy",
        &["python3", "fixtures/pipeline/clean.py"],
    );
    assert!(
        out.stderr.contains("error: --out $TEST_ENV/ws/data/busy holds files dv has not stored; the command must start from an empty output"),
        "{out}"
    );
    assert_eq!(env.read("data/busy/notes.txt"), b"not stored anywhere\n");

    let out = failed_run(
        &env,
        "cleaned",
        &raw,
        "data/raw/sub",
        &["python3", "fixtures/pipeline/clean.py"],
    );
    assert!(
        out.stderr
            .contains("error: Cannot run: --out data/raw/sub overlaps the input penguins"),
        "{out}"
    );

    let out = failed_run(&env, "cleaned", &raw, "data/x", &["no-such-program-here"]);
    assert!(
        out.stderr
            .contains("error: The command \"no-such-program-here\" was not found\n"),
        "{out}"
    );

    // A program found when it ran but not when it is run again: a clear error, not "differs".
    let bin = env.base().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(
        bin.join("copy-in"),
        "#!/bin/sh\ncp \"$1\" \"$DV_OUTPUT/\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("copy-in"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let with_bin = format!("{}:{}", bin.display(), path());
    let made = env.dv_env(
        &[("PATH", &with_bin)],
        &[
            "run",
            "-d",
            "penguins",
            "-s",
            "cleaned",
            "--from",
            &raw,
            "--out",
            "data/copied",
            "--json",
            "--",
            "copy-in",
            "data/raw/penguins.csv",
        ],
    );
    assert_eq!(made.code, 0, "{made}");
    let id = made.json()["id"].as_str().unwrap().to_string();
    let out = dv(&env, &["rerun", &id]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "error: The command \"copy-in\" was not found (it is what the version recorded)"
        ),
        "{out}"
    );
    let out = env.dv_env(&[("PATH", &with_bin)], &["rerun", &id]);
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn downstream_replay_makes_the_new_chain_from_a_new_raw_version() {
    let (env, raw) = pipeline();
    let p = four_stages(&env, &raw);
    let mut csv = env.read("data/raw/penguins.csv");
    csv.extend_from_slice(b"Gentoo,Biscoe,46.1,13.2,211,4500,female\n");
    env.write("data/raw/penguins.csv", &csv);
    let raw2 = env.id(&["commit", "data/raw", "-d", "penguins", "-s", "raw", "-q"]);

    let plan = ok(
        &env,
        &[
            "rerun",
            &p.raw,
            &raw2,
            "--downstream",
            "--dry-run",
            "--json",
        ],
    )
    .json();
    assert_eq!(
        plan,
        json!([
            {"old": p.cleaned, "dataset": "penguins", "stage": "cleaned", "inputs": [raw2], "new": null},
            {"old": p.labeled, "dataset": "penguins", "stage": "labeled", "inputs": [p.cleaned],
             "replayed_first": [p.cleaned], "new": null},
            {"old": p.ready, "dataset": "penguins", "stage": "training-ready", "inputs": [p.labeled],
             "replayed_first": [p.labeled], "new": null},
        ])
    );
    assert_eq!(
        ok(&env, &["log", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        5,
        "a dry run makes nothing"
    );

    let steps = ok(&env, &["rerun", &p.raw, &raw2, "--downstream", "--json"]).json();
    let new: Vec<String> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["new"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(steps[0]["inputs"], json!([raw2]));
    assert_eq!(steps[1]["inputs"], json!([new[0]]));
    assert_eq!(steps[2]["inputs"], json!([new[1]]));
    for (old, new) in [
        (&p.cleaned, &new[0]),
        (&p.labeled, &new[1]),
        (&p.ready, &new[2]),
    ] {
        let (old, new) = (
            ok(&env, &["show", old, "--json"]).json(),
            ok(&env, &["show", new, "--json"]).json(),
        );
        for field in ["dataset", "stage", "path", "transform", "params", "code"] {
            assert_eq!(old[field], new[field], "{field}");
        }
        assert_eq!(old["run"]["argv"], new["run"]["argv"]);
    }
    // The new chain holds the new row; its newest stage reruns identically.
    ok(&env, &["checkout", &new[0], "--to", "../cleaned2"]);
    let cleaned = std::fs::read_to_string(env.base().join("cleaned2/penguins.csv")).unwrap();
    assert!(
        cleaned.ends_with("Gentoo,Biscoe,46.1,13.2,211,4500,female\n"),
        "{cleaned}"
    );
    let lineage = ok(&env, &["lineage", &new[2], "--json"]).json().to_string();
    assert!(
        lineage.contains(&raw2) && !lineage.contains(&p.cleaned),
        "{lineage}"
    );
    ok(&env, &["rerun", &new[2]]);
    // The working directories were left alone.
    assert_eq!(describe(&env.root().join("data/ready")), {
        ok(&env, &["checkout", &p.ready, "--to", "../ready-old"]);
        describe(&env.base().join("ready-old"))
    });

    // A version made by plain `dv commit` below stops the replay before anything runs.
    env.write("data/notes/n.txt", "by hand\n");
    let by_hand = env.id(&[
        "commit",
        "data/notes",
        "-d",
        "notes",
        "-s",
        "cleaned",
        "--from",
        &raw2,
        "-q",
    ]);
    let before = ok(&env, &["log", "--json"])
        .json()
        .as_array()
        .unwrap()
        .len();
    let out = dv(&env, &["rerun", &raw2, &raw, "--downstream"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "were made by `dv commit`, which records no command, so the replay cannot make them again: {} (notes@cleaned); nothing was run",
            &by_hand[..12]
        )),
        "{out}"
    );
    assert_eq!(
        ok(&env, &["log", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        before
    );
}

#[test]
fn code_files_are_recorded_relative_to_the_workspace_or_repository_never_by_machine_path() {
    let (env, _) = pipeline();
    let outside = env.base().join("tools");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("prep.sh"), "#!/bin/sh\n").unwrap();
    let code = outside.join("prep.sh");
    let made = ok(
        &env,
        &[
            "commit",
            "data/raw",
            "-d",
            "d",
            "-s",
            "raw",
            "--code",
            code.to_str().unwrap(),
            "--code",
            "fixtures/pipeline/clean.py",
            "--json",
        ],
    )
    .json();
    assert_eq!(made["code"][0]["path"], "prep.sh");
    assert_eq!(made["code"][0]["base"], "elsewhere");
    assert_eq!(made["code"][1]["path"], "fixtures/pipeline/clean.py");
    assert!(made["code"][1].get("base").is_none(), "{made}");
    assert!(!made.to_string().contains(&env.base().display().to_string()));
}

#[test]
fn a_script_run_by_its_path_is_recorded_and_runs_again_from_its_recorded_copy() {
    let (env, raw) = pipeline();
    env.write(
        "tools/copy.sh",
        "#!/bin/sh\nset -eu\ncp \"$1\" \"$DV_OUTPUT/copy.csv\"\n",
    );
    env.chmod_x("tools/copy.sh");
    std::fs::create_dir(env.root().join("data/sub")).unwrap();
    // From a subdirectory: the directory it ran in is recorded, and paths are relative to it.
    let made = env.dv_env_in(
        &env.root().join("data/sub"),
        &[("PATH", &path())],
        &[
            "run",
            "-d",
            "penguins",
            "-s",
            "cleaned",
            "--from",
            &raw,
            "--out",
            "../copied",
            "--json",
            "--",
            "../../tools/copy.sh",
            "../raw/penguins.csv",
        ],
    );
    assert_eq!(made.code, 0, "{made}");
    let made = made.json();
    assert_eq!(made["run"]["workdir"], "data/sub");
    assert_eq!(
        made["code"],
        json!([{
            "path": "tools/copy.sh",
            "blob": dv::Hash::of(&env.read("tools/copy.sh")).to_hex(),
            "size": env.read("tools/copy.sh").len(),
        }])
    );
    std::fs::remove_file(env.root().join("tools/copy.sh")).unwrap();
    let id = made["id"].as_str().unwrap();
    let out = ok(&env, &["rerun", id]);
    assert!(out.stdout.starts_with("reproduced: identical"), "{out}");
}

#[test]
fn rerun_refuses_what_it_cannot_do() {
    let (env, raw) = pipeline();
    env.write("data/notes/n.txt", "by hand\n");
    let by_hand = env.id(&[
        "commit",
        "data/notes",
        "-d",
        "notes",
        "-s",
        "cleaned",
        "--from",
        &raw,
        "-q",
    ]);
    let out = dv(&env, &["rerun", &by_hand]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "error: Version {by_hand} was not made by `dv run`: it records no command to run again\n\
             hint: Make the next notes@cleaned with `dv run -d notes -s cleaned ... -- COMMAND` to record how it is made."
        )),
        "{out}"
    );
    let made = run(&env, "cleaned", &raw, "data/cleaned", "clean.py", &[]);
    env.write("busy/x", "x");
    let out = dv(
        &env,
        &["rerun", made["id"].as_str().unwrap(), "--keep", "busy"],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("error: Cannot run: --keep $TEST_ENV/ws/busy is not empty; give a new or empty directory"),
        "{out}"
    );
}

#[test]
fn downstream_replay_takes_a_new_raw_version_committed_from_the_old_one() {
    let (env, raw) = pipeline();
    let p = four_stages(&env, &raw);
    let mut csv = env.read("data/raw/penguins.csv");
    csv.extend_from_slice(b"Gentoo,Biscoe,46.1,13.2,211,4500,female\n");
    env.write("data/raw/penguins.csv", &csv);
    // Chained to the previous raw version, as a new delivery of raw data is.
    let raw2 = env.id(&[
        "commit", "data/raw", "-d", "penguins", "-s", "raw", "--from", &raw, "-q",
    ]);
    let plan = ok(
        &env,
        &["rerun", &raw, &raw2, "--downstream", "--dry-run", "--json"],
    )
    .json();
    let olds: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["old"].as_str().unwrap())
        .collect();
    assert_eq!(olds, [&p.cleaned, &p.labeled, &p.ready], "{plan}");
    assert_eq!(plan[0]["inputs"], json!([raw2]));

    let steps = ok(&env, &["rerun", &raw, &raw2, "--downstream", "--json"]).json();
    assert_eq!(steps.as_array().unwrap().len(), 3, "{steps}");
    // A second replay of the same pair leaves out the replays the first one made from NEW.
    let again = ok(
        &env,
        &["rerun", &raw, &raw2, "--downstream", "--dry-run", "--json"],
    )
    .json();
    assert_eq!(again, plan);
}

#[test]
fn a_script_that_rewrites_itself_or_writes_elsewhere_is_refused_and_the_code_is_recorded_as_it_ran()
{
    let (env, raw) = pipeline();
    // Each run writes a fresh output (a refused run leaves its own in place).
    let runs = std::cell::Cell::new(0);
    let run_script = |script: &str, extra: &[&str]| {
        runs.set(runs.get() + 1);
        let out = format!("data/out{}", runs.get());
        let mut args = vec![
            "run", "-d", "penguins", "-s", "cleaned", "--from", &raw, "--out", &out, "--json",
        ];
        args.extend_from_slice(extra);
        args.extend(["--", script]);
        dv(&env, &args)
    };
    // Copies its input, then rewrites itself.
    let selfish = "#!/bin/sh\nset -eu\ncp data/raw/penguins.csv \"$DV_OUTPUT/p.csv\"\necho '# rewritten' >> \"$0\"\n";
    env.write("tools/selfish.sh", selfish);
    env.chmod_x("tools/selfish.sh");
    let out = run_script("tools/selfish.sh", &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "error: The command changed its own code while it ran, so what ran is not what is \
             there now; nothing was committed (run "
        ) && out.stderr.contains("\n  tools/selfish.sh\n"),
        "{out}"
    );
    let failed = ok(&env, &["runs", "--failed", "--json"]).json();
    assert_eq!(failed[0]["outcome"], "code_changed");
    assert_eq!(failed[0]["changed_code"], json!(["tools/selfish.sh"]));

    // Writes a file beside the output: refused, unless allowed, and then recorded.
    let messy = "#!/bin/sh\nset -eu\ncp data/raw/penguins.csv \"$DV_OUTPUT/p.csv\"\necho x > data/stray.txt\n";
    env.write("tools/messy.sh", messy);
    env.chmod_x("tools/messy.sh");
    let out = run_script("tools/messy.sh", &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("error: The command wrote to the workspace outside --out")
            && out.stderr.contains("\n  data/stray.txt\n"),
        "{out}"
    );
    assert_eq!(
        ok(&env, &["runs", "--failed", "--json"]).json()[0]["written_elsewhere"],
        json!(["data/stray.txt"])
    );
    std::fs::remove_file(env.root().join("data/stray.txt")).unwrap();
    // What a snapshot would refuse elsewhere in the workspace (a named pipe) is only watched.
    let fifo = std::process::Command::new("mkfifo")
        .arg(env.root().join("tools/pipe"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let made = run_script("tools/messy.sh", &["--allow-writes-elsewhere"]);
    assert_eq!(made.code, 0, "{made}");
    let made = made.json();
    assert_eq!(
        made["run"]["written_elsewhere"],
        json!({"paths": ["data/stray.txt"], "total": 1})
    );
    // The code recorded is the code that ran.
    assert_eq!(
        made["code"][0]["blob"],
        dv::Hash::of(messy.as_bytes()).to_hex()
    );
}

/// dv turns transparent huge pages off for itself (they cost small commands more than they
/// give); the command it runs gets the setting dv was started with, which here is the test's.
#[test]
fn the_command_runs_with_the_memory_settings_dv_was_started_with() {
    let thp_line = |status: &str| {
        status
            .lines()
            .find(|line| line.starts_with("THP_enabled:"))
            .map(str::to_string)
    };
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let Some(ours) = thp_line(&ours) else {
        return; // a kernel that does not report it (before 5.0): nothing to compare
    };
    let (env, raw) = pipeline();
    ok(
        &env,
        &[
            "run",
            "-d",
            "penguins",
            "-s",
            "cleaned",
            "--from",
            &raw,
            "--out",
            "data/thp",
            "--",
            "sh",
            "-c",
            "cp /proc/self/status \"$DV_OUTPUT/status.txt\"",
        ],
    );
    let child = String::from_utf8(env.read("data/thp/status.txt")).unwrap();
    assert_eq!(thp_line(&child), Some(ours));
}
