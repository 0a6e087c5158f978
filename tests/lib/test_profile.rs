//! Profiles at the library level: reuse by content, and stored profiles as hostile input.

use dv::commit::{CommitRequest, commit};
use dv::object::StoredFile;
use dv::profile::{self, Profile, Settings};
use dv::progress::NoProgress;
use dv::store::Kind;

const CSV: &[u8] = b"id,species\n1,Adelie\n2,NA\n2,NA\n";

/// A table whose content a known profile already describes is not read again: its profile is
/// taken by blob id, whatever its path. (The known profile here is doctored, so only reuse can
/// produce its numbers.)
#[test]
fn a_table_with_known_content_is_not_read_again() {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    crate::write(&data, "a.csv", CSV);
    let request = CommitRequest {
        path: data.clone(),
        dataset: "d".into(),
        stage: "raw".into(),
        ..Default::default()
    };
    let version = commit(&ws, &request, &NoProgress).unwrap().version;
    let stored = Profile::load(&crate::store(&ws), version.profile.as_ref().unwrap()).unwrap();
    let table = &stored.tables["a.csv"];
    assert_eq!((table.rows, table.duplicate_rows), (3, 1));
    assert_eq!(table.column("species").unwrap().nulls, 2);

    let mut doctored = stored.clone();
    doctored.tables.get_mut("a.csv").unwrap().rows = 999;
    let settings = Settings::default();
    let reused = profile::profile_tree(
        &crate::store(&ws),
        &crate::store(&ws),
        &version.tree,
        &settings,
        &[doctored],
        None,
    )
    .unwrap();
    assert_eq!(reused.tables["a.csv"].rows, 999);
    // Other null values change the counts: then nothing is reused.
    let other = Settings {
        null_values: vec!["".into()],
        ..Settings::default()
    };
    let mut doctored = stored.clone();
    doctored.tables.get_mut("a.csv").unwrap().rows = 999;
    let fresh = profile::profile_tree(
        &crate::store(&ws),
        &crate::store(&ws),
        &version.tree,
        &other,
        &[doctored],
        None,
    )
    .unwrap();
    assert_eq!(fresh.tables["a.csv"].rows, 3);
    assert_eq!(fresh.tables["a.csv"].column("species").unwrap().nulls, 0);
    // Asking for labels the known profile lacks reads the table again.
    let labels = Settings {
        labels: vec![(
            globset::Glob::new("*.csv").unwrap().compile_matcher(),
            vec!["species".into()],
        )],
        ..Settings::default()
    };
    let counted = profile::profile_tree(
        &crate::store(&ws),
        &crate::store(&ws),
        &version.tree,
        &labels,
        &[stored],
        None,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&counted.tables["a.csv"].labels).unwrap(),
        serde_json::json!({"species": {"Adelie": 1}})
    );
}

/// A commit reads only the tables whose content no earlier profile of the stage describes,
/// however the files came to be on disk: re-extracted (new inodes, the stat cache vouches for
/// nothing), copied to a new path, or renamed. Counted by the commit, not timed.
#[test]
fn a_commit_reads_only_the_tables_that_changed() {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    let table = |i: usize, edit: &str| format!("id,value,label\n1,{i},a\n2,{edit},b\n");
    let extract = |edited: usize, extra: &[(&str, String)]| {
        let _ = std::fs::remove_dir_all(&data);
        for i in 0..40 {
            let edit = if i == edited { "changed" } else { "same" };
            crate::write(&data, &format!("t/{i:02}.csv"), table(i, edit).as_bytes());
        }
        for (path, content) in extra {
            crate::write(&data, path, content.as_bytes());
        }
    };
    let commit_reads = |message: &str| {
        let request = CommitRequest {
            path: data.clone(),
            dataset: "d".into(),
            stage: "raw".into(),
            message: Some(message.into()),
            ..Default::default()
        };
        commit(&ws, &request, &NoProgress).unwrap().tables_read
    };
    extract(usize::MAX, &[]);
    assert_eq!(commit_reads("first"), 40);
    // Every file extracted afresh, one table edited: one read.
    extract(7, &[]);
    assert_eq!(commit_reads("one edit"), 1);
    // Extracted afresh again, unchanged, plus a copy of a table at a new path: nothing read.
    extract(7, &[("copies/07.csv", table(7, "changed"))]);
    assert_eq!(commit_reads("a copy"), 0);
    // A table no version held before: one read.
    extract(7, &[("new.csv", "id\n1\n".to_string())]);
    assert_eq!(commit_reads("a new table"), 1);
}

/// A stored profile may come from another machine: a huge claimed size, a newer format or
/// invalid fields are refused with the reason, never trusted.
#[test]
fn a_hostile_stored_profile_is_refused() {
    let (_temp, ws) = crate::workspace();
    let load = |bytes: &[u8], size: Option<u64>| {
        let id = crate::store(&ws).put_bytes(Kind::Blob, bytes).unwrap();
        let file = StoredFile {
            blob: dv::BlobId(id),
            size: size.unwrap_or(bytes.len() as u64),
        };
        Profile::load(&crate::store(&ws), &file)
            .unwrap_err()
            .to_string()
    };
    assert!(
        load(b"{}", Some(1 << 40)).contains("it claims 1099511627776 bytes, more than"),
        "huge"
    );
    let newer = load(br#"{"format": 2}"#, None);
    assert!(
        newer.contains("it uses profile format 2, newer than this dv reads (1); upgrade dv"),
        "{newer}"
    );
    let fields = load(br#"{"format": 1, "files": -1}"#, None);
    assert!(fields.contains("its fields are invalid"), "{fields}");
    let text = load(b"not json", None);
    assert!(text.contains("it is not JSON"), "{text}");
}
