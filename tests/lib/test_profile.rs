//! Profiles at the library level: reuse by content, and stored profiles as hostile input.

use dv::commit::{CommitRequest, commit};
use dv::object::StoredFile;
use dv::profile::{self, Known, Profile, Settings};
use dv::progress::NoProgress;
use dv::store::Kind;

const CSV: &[u8] = b"id,species\n1,Adelie\n2,NA\n2,NA\n";

/// Commits the directory `data` as `d@raw`.
fn commit_to_raw(
    ws: &dv::Workspace,
    data: &std::path::Path,
    message: Option<&str>,
) -> dv::commit::CommitOutcome {
    let request = CommitRequest {
        path: data.to_path_buf(),
        dataset: "d".into(),
        stage: "raw".into(),
        message: message.map(str::to_string),
        ..Default::default()
    };
    commit(ws, &request, &NoProgress).unwrap()
}

/// A table whose content a known profile already describes is not read again: its profile is
/// taken by blob id, whatever its path. (The known profile here is doctored, so only reuse can
/// produce its numbers.)
#[test]
fn a_table_with_known_content_is_not_read_again() {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    crate::write(&data, "a.csv", CSV);
    let version = commit_to_raw(&ws, &data, None).version;
    let stored = profile::stored(&crate::store(&ws), &version)
        .unwrap()
        .unwrap();
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
        &Known::of_profiles(&[doctored], &settings),
        None,
    )
    .unwrap();
    assert_eq!(reused.profile.tables["a.csv"].rows, 999);
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
        &Known::of_profiles(&[doctored], &other),
        None,
    )
    .unwrap();
    assert_eq!(fresh.profile.tables["a.csv"].rows, 3);
    assert_eq!(
        fresh.profile.tables["a.csv"]
            .column("species")
            .unwrap()
            .nulls,
        0
    );
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
        &Known::of_profiles(&[stored], &labels),
        None,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&counted.profile.tables["a.csv"].labels).unwrap(),
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
    let commit_reads = |message: &str| commit_to_raw(&ws, &data, Some(message)).tables_read;
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

/// A version's profile is stored table by table: a commit that changes one table of forty
/// stores one new table profile, and every other table's profile is the previous version's
/// object, shared by id. Reading it back gives the same profile as computing it afresh.
#[test]
fn an_unchanged_tables_profile_is_shared_not_stored_again() {
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    let extract = |edited: usize| {
        let _ = std::fs::remove_dir_all(&data);
        for i in 0..40 {
            let value = if i == edited { "changed" } else { "same" };
            let csv = format!("id,value\n1,{i}\n2,{value}\n");
            crate::write(&data, &format!("t/{}/{i:02}.csv", i % 4), csv.as_bytes());
        }
    };
    let commit_version = |message: &str| commit_to_raw(&ws, &data, Some(message)).version;
    let store = crate::store(&ws);
    let tables_of = |version: &dv::object::Version| {
        let tree = version.profile_tables.expect("profile tables");
        dv::object::tree::flatten(&store, &tree)
            .unwrap()
            .into_iter()
            .map(|file| (String::from_utf8(file.path).unwrap(), file.id))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    extract(usize::MAX);
    let first = commit_version("first");
    assert_eq!(first.format, 4);
    let blobs_before = store.list(Kind::Blob).unwrap().len();
    extract(7);
    let second = commit_version("one edit");
    let (before, after) = (tables_of(&first), tables_of(&second));
    assert_eq!(before.len(), 40);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, id)| before.get(*path) != Some(id))
        .map(|(path, _)| path)
        .collect();
    assert_eq!(changed, ["t/3/07.csv"]);
    // The directories whose data did not change keep their profile subtrees, by id.
    use dv::object::tree::TreeSource;
    let subtrees = |version: &dv::object::Version| {
        let root = store.tree(&version.profile_tables.unwrap()).unwrap();
        let t = dv::TreeId(root.get(b"t").unwrap().id);
        store.tree(&t).unwrap().entries
    };
    let kept: Vec<bool> = subtrees(&first)
        .iter()
        .zip(subtrees(&second))
        .map(|(a, b)| a.id == b.id)
        .collect();
    assert_eq!(kept, [true, true, true, false]);
    // New blobs: the edited table, its profile, and the profile's summary.
    assert_eq!(store.list(Kind::Blob).unwrap().len(), blobs_before + 3);
    let stored = profile::stored(&store, &second).unwrap().unwrap();
    let fresh = profile::profile_tree(
        &store,
        &store,
        &second.tree,
        &Settings::default(),
        &Known::default(),
        None,
    )
    .unwrap()
    .into_profile(&store)
    .unwrap();
    assert_eq!(stored, fresh);
    assert_eq!(stored.tables.len(), 40);
    assert_eq!(stored.tables["t/3/07.csv"].rows, 2);
}

/// A profile stored table by table comes from wherever the version came from: its tree must
/// name only files, as many as its summary says, each a table profile of a format this dv
/// reads. Anything else is refused with the reason, never trusted.
#[test]
fn a_hostile_profile_tree_is_refused() {
    use dv::object::tree::{Entry, EntryKind, Tree};
    let (temp, ws) = crate::workspace();
    let data = temp.path().join("data");
    crate::write(&data, "a.csv", CSV);
    let version = commit_to_raw(&ws, &data, None).version;
    let store = crate::store(&ws);
    let tree_of = |entries: Vec<Entry>| {
        let tree = Tree::new(entries, 0);
        dv::TreeId(store.put_bytes(Kind::Tree, &tree.encode()).unwrap())
    };
    let file = |name: &str, bytes: &[u8]| Entry {
        name: name.as_bytes().to_vec(),
        kind: EntryKind::File,
        id: store.put_bytes(Kind::Blob, bytes).unwrap(),
        size: bytes.len() as u64,
    };
    let refused = |tables: dv::TreeId| {
        let crafted = dv::object::Version {
            profile_tables: Some(tables),
            ..version.clone()
        };
        profile::stored(&store, &crafted).unwrap_err().to_string()
    };
    let stored_table = dv::object::tree::flatten(&store, &version.profile_tables.unwrap())
        .unwrap()
        .remove(0);
    let good = Entry {
        name: b"a.csv".to_vec(),
        kind: EntryKind::File,
        id: stored_table.id,
        size: stored_table.size,
    };
    let link = Entry {
        kind: EntryKind::Symlink,
        ..good.clone()
    };
    let symlink = refused(tree_of(vec![link]));
    assert!(symlink.contains("a.csv is not a file"), "{symlink}");
    let second = Entry {
        name: b"b.csv".to_vec(),
        ..good.clone()
    };
    let more = refused(tree_of(vec![good.clone(), second]));
    assert!(
        more.contains("it says its tables are 1, its tree") && more.contains("holds 2"),
        "{more}"
    );
    let newer = refused(tree_of(vec![file("a.csv", br#"{"format": 3}"#)]));
    assert!(
        newer.contains("it uses profile format 3, newer than this dv reads (2); upgrade dv"),
        "{newer}"
    );
    let fields = refused(tree_of(vec![file(
        "a.csv",
        br#"{"format": 2, "table": 1}"#,
    )]));
    assert!(fields.contains("its fields are invalid"), "{fields}");
    // The version itself: profile tables without a profile, or in an older format.
    let record = |version: &dv::object::Version| {
        let bytes = version.encode();
        dv::object::Version::decode(&bytes, &version.id())
            .unwrap_err()
            .to_string()
    };
    let without = record(&dv::object::Version {
        profile: None,
        ..version.clone()
    });
    assert!(
        without.contains("it names profile tables without a profile"),
        "{without}"
    );
    let older = record(&dv::object::Version {
        format: 3,
        ..version.clone()
    });
    assert!(
        older.contains("it names profile tables but claims version format 3"),
        "{older}"
    );
}
