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
