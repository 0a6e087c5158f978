//! End-to-end tests through the real `dv` binary.
#![allow(clippy::disallowed_methods)] // tests build fixtures with plain writes

mod common;
#[path = "../support/crafted.rs"]
mod crafted;
#[path = "../support/describe.rs"]
mod describe;

mod test_checkout;
mod test_commit;
mod test_complete;
mod test_crash;
mod test_diff;
mod test_diff_rows;
mod test_errors;
mod test_export;
mod test_fsck;
mod test_gc;
mod test_hardening;
mod test_hostile_parquet;
mod test_hostile_remote;
mod test_html;
mod test_init;
mod test_lifecycle;
mod test_lineage;
mod test_log_show;
mod test_pin;
mod test_profile;
mod test_provenance;
mod test_quickstart;
mod test_reindex;
mod test_remote;
mod test_revisions;
mod test_robustness;
mod test_roundtrip;
mod test_run;
mod test_status;
mod test_tag;
mod test_upgrade;

/// Every test file in this folder is wired in above (a forgotten one would never run).
#[test]
fn no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(module) = name.strip_suffix(".rs").filter(|m| m.starts_with("test_")) {
            assert!(
                main.contains(&format!("mod {module};")),
                "tests/cli/{name} is not listed in main.rs"
            );
        }
    }
}
