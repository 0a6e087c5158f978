//! The README's quickstart runs as written.

#[test]
fn the_readme_quickstart_runs() {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_dv"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/quickstart.sh");
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("penguins@raw came back byte for byte.")
            && stdout.contains("Quickstart OK: a clone gave penguins@cleaned back byte for byte."),
        "{stdout}"
    );
    assert!(stdout.contains("penguins@cleaned"), "{stdout}");
    assert!(
        stdout.contains("reproduced: identical ("),
        "the rerun of the last stage: {stdout}"
    );
}
