//! Promise 2: a crash between writing a version object and indexing it, or between writing a
//! tag file and indexing it, is finished by the next command.

use dv::Workspace;
use dv::commit::{CommitRequest, commit};
use dv::progress::NoProgress;
use dv::store::Kind;

#[test]
fn a_version_written_but_not_indexed_is_indexed_on_the_next_open() {
    let (temp, ws) = crate::workspace();
    crate::write(&temp.path().join("data"), "a.txt", b"a");
    let request = CommitRequest {
        path: temp.path().join("data"),
        dataset: "d".into(),
        stage: "raw".into(),
        ..Default::default()
    };
    let outcome = commit(&ws, &request, &NoProgress).unwrap();
    // Simulate the crash: a second version object is on disk, marked pending, not indexed.
    let mut crashed = outcome.version.clone();
    crashed.stage = "cleaned".into();
    let id = crashed.id();
    crate::store(&ws)
        .put_bytes(Kind::Version, &crashed.encode())
        .unwrap();
    crate::write(
        temp.path(),
        ".dv/pending-version",
        format!("{id}\n").as_bytes(),
    );
    assert!(crate::index(&ws).version(&id).unwrap().is_none());
    drop(ws);

    let ws = Workspace::open_at(temp.path().to_path_buf()).unwrap();
    assert_eq!(crate::index(&ws).version(&id).unwrap(), Some(crashed));
    assert!(!temp.path().join(".dv/pending-version").exists());
}

#[test]
fn a_tag_file_written_but_not_indexed_is_indexed_on_the_next_open() {
    let (temp, ws) = crate::workspace();
    crate::write(&temp.path().join("data"), "a.txt", b"a");
    let request = CommitRequest {
        path: temp.path().join("data"),
        dataset: "d".into(),
        stage: "raw".into(),
        ..Default::default()
    };
    let id = commit(&ws, &request, &NoProgress).unwrap().id;
    crate::write(
        temp.path(),
        ".dv/refs/tags/gold",
        format!("{id}\n").as_bytes(),
    );
    drop(ws);
    let ws = Workspace::open_at(temp.path().to_path_buf()).unwrap();
    assert_eq!(crate::index(&ws).tag("gold").unwrap(), Some(id));
}
