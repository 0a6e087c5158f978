//! The revision grammar through the library: every form resolves to the version it names, and
//! every mistake is the error that names it, never a guess.

use dv::commit::{CommitRequest, commit};
use dv::progress::NoProgress;
use dv::revision::resolve;
use dv::{Error, VersionId};

/// Three versions of `d` (raw, then cleaned from raw, then raw again) and one of `e`, with a
/// tag on the first.
pub fn history() -> (tempfile::TempDir, dv::Workspace, Vec<VersionId>) {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    let mut ids = Vec::new();
    for (i, (dataset, stage, from)) in [
        ("d", "raw", None),
        ("d", "cleaned", Some(0)),
        ("d", "raw", None),
        ("e", "raw", None),
    ]
    .into_iter()
    .enumerate()
    {
        crate::write(&data, "f.txt", format!("content {i}").as_bytes());
        let request = CommitRequest {
            path: data.clone(),
            dataset: dataset.into(),
            stage: stage.into(),
            inputs: from
                .map(|n: usize| ids[n])
                .iter()
                .map(|id: &VersionId| id.to_hex())
                .collect(),
            ..Default::default()
        };
        ids.push(commit(&ws, &request, &NoProgress).unwrap().id);
    }
    dv::refs::set_tag(&ws, "first", &ids[0], false).unwrap();
    (temp, ws, ids)
}

#[test]
fn each_form_names_its_version() {
    let (_temp, ws, ids) = history();
    let full = ids[1].to_hex();
    for (rev, expected) in [
        (full.clone(), ids[1]),
        (full[..8].to_string(), ids[1]),
        ("first".to_string(), ids[0]),
        ("d".to_string(), ids[2]),
        ("d@raw".to_string(), ids[2]),
        ("d@cleaned".to_string(), ids[1]),
        ("d@cleaned~".to_string(), ids[0]),
        ("d@cleaned~1".to_string(), ids[0]),
        ("e".to_string(), ids[3]),
    ] {
        assert_eq!(resolve(&ws, &rev).unwrap(), expected, "{rev}");
    }
}

#[test]
fn mistakes_are_named_never_guessed() {
    let (_temp, ws, _) = history();
    match resolve(&ws, "nothing").unwrap_err() {
        Error::UnknownRevision {
            rev,
            datasets,
            tags,
        } => {
            assert_eq!(rev, "nothing");
            assert_eq!(datasets, ["d", "e"]);
            assert_eq!(tags, ["first"]);
        }
        other => panic!("{other}"),
    }
    match resolve(&ws, "d@cleaned~2").unwrap_err() {
        Error::NoSuchAncestor { base, steps, .. } => {
            assert_eq!((base.as_str(), steps), ("d@cleaned", 2));
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        resolve(&ws, "d@nostage").unwrap_err(),
        Error::UnknownStage { .. } | Error::UnknownRevision { .. } | Error::EmptyStage { .. }
    ));
    assert!(matches!(
        resolve(&ws, "d~x").unwrap_err(),
        Error::InvalidRevision { .. }
    ));
}
