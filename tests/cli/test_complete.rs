//! Shell completions (dynamic: revision names come from the workspace) and manual pages.

use std::path::Path;

use crate::common::TestEnv;

/// A workspace with two datasets, three stages and a tag.
fn workspace() -> TestEnv {
    let env = TestEnv::new();
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["commit", "data", "-d", "penguins", "-s", "cleaned", "-q"]);
    env.write("labels/a.txt", "cat\n");
    env.ok(&["commit", "labels", "-d", "labels", "-s", "raw", "-q"]);
    env.ok(&["tag", "penguins@cleaned", "release-1"]);
    env
}

/// What bash completes for the command line `words` (the last word being completed), through
/// the script `dv completions bash` prints, sourced into a real bash.
fn bash_completes(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_dv")).parent().unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <(dv completions bash)\n\
         COMP_WORDS=({words})\nCOMP_CWORD={last}\nCOMP_TYPE=9\n\
         _clap_complete_dv dv {current} {previous}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        last = words.len() - 1,
        current = quoted[words.len() - 1],
        previous = quoted[words.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(env.root())
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", env.base().join("home"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_commands_options_and_the_workspaces_revision_names() {
    let env = workspace();
    assert_eq!(bash_completes(&env, &["dv", "rer"]), ["rerun"]);
    assert_eq!(
        bash_completes(&env, &["dv", "show", "pen"]),
        ["penguins", "penguins@cleaned", "penguins@raw"]
    );
    assert_eq!(
        bash_completes(&env, &["dv", "checkout", "rel"]),
        ["release-1"]
    );
    assert_eq!(
        bash_completes(&env, &["dv", "lineage", "l"]),
        ["labels", "labels@raw"]
    );
    assert_eq!(bash_completes(&env, &["dv", "show", "--fi"]), ["--files"]);
    // Outside a workspace there is nothing to offer, and no error.
    let outside = TestEnv::bare();
    assert_eq!(
        bash_completes(&outside, &["dv", "show", "pen"]),
        Vec::<String>::new()
    );
}

#[test]
fn every_shell_gets_a_script_that_asks_dv() {
    let env = TestEnv::new();
    for (shell, marker) in [
        (
            "bash",
            "complete -o nospace -o bashdefault -o nosort -F _clap_complete_dv dv",
        ),
        ("zsh", "#compdef dv"),
        ("fish", "complete --keep-order --exclusive --command dv"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName dv",
        ),
        ("elvish", "set edit:completion:arg-completer[dv]"),
    ] {
        let script = env.ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("DV_COMPLETE"), "{shell}: {script}");
    }
    let out = env.dv(&["completions", "tcsh"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("invalid value 'tcsh'"), "{out}");
}

#[test]
fn the_manual_pages_in_docs_are_current() {
    let env = TestEnv::new();
    let out = env.base().join("man");
    env.ok(&["man", "--out", out.to_str().unwrap()]);
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&out),
        names(&docs),
        "regenerate with `cargo run -- man --out docs/man`"
    );
    for name in names(&out) {
        assert!(
            std::fs::read(out.join(&name)).unwrap() == std::fs::read(docs.join(&name)).unwrap(),
            "docs/man/{name} is stale: regenerate with `cargo run -- man --out docs/man`"
        );
    }
    assert!(names(&out).contains(&"dv-rerun.1".to_string()));
    // One page to stdout, as roff.
    let page = env.ok(&["man", "rerun"]);
    assert!(page.contains(".TH dv-rerun 1"), "{page}");
    assert!(page.contains("\\-\\-downstream"), "{page}");
    let out = env.dv(&["man", "nosuch"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("error: Unknown command \"nosuch\""),
        "{out}"
    );
}
