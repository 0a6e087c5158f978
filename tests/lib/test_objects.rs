use dv::object::{Entry, EntryKind, Tree};
use dv::{Hash, TreeId, VersionId};

fn entry(name: &[u8], kind: EntryKind, size: u64) -> Entry {
    Entry {
        name: name.to_vec(),
        kind,
        id: Hash::of(name),
        size,
    }
}

#[test]
fn tree_encoding_round_trips_and_is_canonical() {
    let a = Tree::new(
        vec![
            entry(b"b.csv", EntryKind::File, 10),
            entry(b"a", EntryKind::Tree, 5),
            entry(b"\xff", EntryKind::Symlink, 3),
        ],
        2,
    );
    let b = Tree::new(
        vec![
            entry(b"\xff", EntryKind::Symlink, 3),
            entry(b"b.csv", EntryKind::File, 10),
            entry(b"a", EntryKind::Tree, 5),
        ],
        2,
    );
    assert_eq!(a.encode(), b.encode());
    assert_eq!(a.files, 4);
    assert_eq!(a.bytes, 18);
    let decoded = Tree::decode(&a.encode(), &a.id()).unwrap();
    assert_eq!(decoded, a);
}

#[test]
fn hostile_tree_encodings_are_rejected() {
    let id = TreeId(Hash::of(b"x"));
    let h = Hash::of(b"content").to_hex();
    let cases: [(&str, Vec<u8>); 8] = [
        (
            "dot-dot",
            format!("dv-tree 1 1 1\nf {h} 1 ..\0").into_bytes(),
        ),
        (
            "slash",
            format!("dv-tree 1 1 1\nf {h} 1 a/b\0").into_bytes(),
        ),
        (
            "empty name",
            format!("dv-tree 1 1 1\nf {h} 1 \0").into_bytes(),
        ),
        (
            "unsorted",
            format!("dv-tree 1 2 2\nf {h} 1 b\0f {h} 1 a\0").into_bytes(),
        ),
        (
            "duplicate",
            format!("dv-tree 1 2 2\nf {h} 1 a\0f {h} 1 a\0").into_bytes(),
        ),
        (
            "bad kind",
            format!("dv-tree 1 1 1\nq {h} 1 a\0").into_bytes(),
        ),
        (
            "wrong total",
            format!("dv-tree 1 1 7\nf {h} 1 a\0").into_bytes(),
        ),
        (
            "unterminated",
            format!("dv-tree 1 1 1\nf {h} 1 a").into_bytes(),
        ),
    ];
    // The same cases in format 2 (raw hashes): hex hash and its spaces become 32 bytes.
    let raw = Hash::of(b"content").0;
    let as_v2 = |v1: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(v1).replace("dv-tree 1 ", "dv-tree 2 ");
        let mut out = Vec::new();
        for (i, part) in text.split(&format!(" {h} ")).enumerate() {
            if i > 0 {
                out.extend_from_slice(&raw);
            }
            out.extend_from_slice(part.as_bytes());
        }
        out
    };
    for (what, bytes) in cases
        .iter()
        .flat_map(|(w, b)| [(*w, b.clone()), (*w, as_v2(b))])
    {
        let err = Tree::decode(&bytes, &id).expect_err(what).to_string();
        assert!(
            err.starts_with(&format!("tree object {id} is corrupt")),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_raw_hash_holding_nul_or_newline_bytes_round_trips() {
    let mut id = [0u8; 32];
    id[..4].copy_from_slice(b"\0\n \0");
    let tree = Tree::new(
        vec![Entry {
            name: b"a".to_vec(),
            kind: EntryKind::File,
            id: Hash(id),
            size: 3,
        }],
        0,
    );
    let bytes = tree.encode();
    assert_eq!(Tree::decode(&bytes, &tree.id()).unwrap(), tree);
}

/// Found by the `tree` fuzz target: the same tree written with uppercase hex decoded fine, so
/// one tree could have two ids. Every non-canonical spelling is refused.
#[test]
fn a_tree_in_any_but_its_canonical_encoding_is_refused() {
    let id = TreeId(Hash::of(b"x"));
    let h = "ab".repeat(32);
    let upper = format!("{}A{}", &h[..36], &h[37..]);
    let canonical = format!("dv-tree 1 2 8\nd {h} 3 dir\0f {h} 5 name\0");
    assert!(Tree::decode(canonical.as_bytes(), &id).is_ok());
    let cases = [
        // The fuzzer's input (fuzz/artifacts/tree/crash-62e077f2...).
        format!("dv-tree 1 2 8\nd {h} 3 dir\0f {upper} 5 name\0"),
        format!("dv-tree 1 2 8\nd {h} +3 dir\0f {h} 5 name\0"),
        format!("dv-tree 1 2 8\nd {h} 03 dir\0f {h} 5 name\0"),
        format!("dv-tree 1 02 8\nd {h} 3 dir\0f {h} 5 name\0"),
        format!("dv-tree 1 2 +8\nd {h} 3 dir\0f {h} 5 name\0"),
    ];
    for bytes in cases {
        let err = Tree::decode(bytes.as_bytes(), &id).unwrap_err().to_string();
        assert!(
            err.ends_with("is corrupt: it is not in canonical form"),
            "{bytes:?}: {err}"
        );
    }
}

#[test]
fn a_version_from_a_newer_format_is_refused() {
    let id = dv::VersionId(Hash::of(b"v"));
    let err = dv::object::Version::decode(br#"{"format": 5}"#, &id)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "version object {id} is corrupt: it uses version format 5, newer than this dv understands (4); upgrade dv"
        )
    );
}

/// Version ids are forever: these bytes are dv's canonical rule (docs/format.md, "Canonical
/// JSON") written out by hand — field order, keys sorted at every depth, integers exact to 64
/// bits, floats as the shortest decimal with a `.` or exponent, raw UTF-8, escaped controls.
#[test]
fn version_encoding_is_pinned_byte_for_byte() {
    use dv::object::{CodeFile, CodeRevision, Version};
    let params: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"z": {"b": [1, 2.5, -3, {"y": 1, "x": 2}], "a": null},
            "big": 18446744073709551615, "neg": -9223372036854775808,
            "huge": 1e21, "tiny": 1.5e-7, "one": 1.0, "half": 0.5,
            "uni": "naïve ✓ 😀", "ctl": "tab\tnl\n\u0001\u007f\"\\/", "é": true, "E": false}"#,
    )
    .unwrap();
    let version = Version {
        format: 1,
        dataset: "penguins".into(),
        stage: "cleaned".into(),
        tree: dv::TreeId(Hash::of(b"tree")),
        path: "data/clean".into(),
        single_file: false,
        inputs: vec![VersionId(Hash::of(b"input"))],
        transform: Some("python clean.py --drop-na".into()),
        code: vec![CodeFile {
            path: "clean.py".into(),
            blob: dv::BlobId(Hash::of(b"code")),
            size: 42,
            base: Default::default(),
        }],
        params,
        code_revision: Some(CodeRevision {
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            branch: Some("main".into()),
            dirty: true,
        }),
        message: Some("Grüße, 数据".into()),
        author: "tester".into(),
        host: "testhost".into(),
        dv_version: "0.1.0".into(),
        created_at: "2026-01-02T03:04:05.000000Z".into(),
        files: 3,
        bytes: 18446744073709551615,
        run: None,
        profile: None,
        failed_rules: Vec::new(),
        profile_tables: None,
    };
    let expected = format!(
        concat!(
            r#"{{"format":1,"dataset":"penguins","stage":"cleaned","tree":"{tree}","#,
            r#""path":"data/clean","single_file":false,"inputs":["{input}"],"#,
            r#""transform":"python clean.py --drop-na","#,
            r#""code":[{{"path":"clean.py","blob":"{code}","size":42}}],"#,
            r#""params":{{"E":false,"big":18446744073709551615,"#,
            r#""ctl":"tab\tnl\n\u0001{del}\"\\/","half":0.5,"huge":1e+21,"#,
            r#""neg":-9223372036854775808,"one":1.0,"tiny":1.5e-7,"#,
            r#""uni":"naïve ✓ 😀","z":{{"a":null,"b":[1,2.5,-3,{{"x":2,"y":1}}]}},"é":true}},"#,
            r#""code_revision":{{"commit":"0123456789abcdef0123456789abcdef01234567","#,
            r#""branch":"main","dirty":true}},"message":"Grüße, 数据","author":"tester","#,
            r#""host":"testhost","dv_version":"0.1.0","created_at":"2026-01-02T03:04:05.000000Z","#,
            r#""files":3,"bytes":18446744073709551615}}"#
        ),
        tree = Hash::of(b"tree").to_hex(),
        input = Hash::of(b"input").to_hex(),
        code = Hash::of(b"code").to_hex(),
        del = '\u{7f}',
    );
    assert_eq!(String::from_utf8(version.encode()).unwrap(), expected);
    assert_eq!(version.id().0, Hash::of(expected.as_bytes()));
    let decoded = Version::decode(expected.as_bytes(), &version.id()).unwrap();
    assert_eq!(decoded.encode(), expected.as_bytes());
}

/// A version made by `dv run` (format 2): its run record and code bases, byte for byte; and
/// the run paths a rerun places files at are checked like any path from elsewhere.
#[test]
fn a_run_record_is_pinned_byte_for_byte_and_its_paths_are_checked() {
    use dv::object::{CodeBase, CodeFile, Interpreter, RunInput, RunRecord, StoredFile, Version};
    let log = |seed: &[u8], size| StoredFile {
        blob: dv::BlobId(Hash::of(seed)),
        size,
    };
    let input = VersionId(Hash::of(b"input"));
    let version = Version {
        format: 2,
        dataset: "penguins".into(),
        stage: "cleaned".into(),
        tree: dv::TreeId(Hash::of(b"tree")),
        path: "data/clean".into(),
        single_file: false,
        inputs: vec![input],
        transform: Some("python3 clean.py".into()),
        code: vec![CodeFile {
            path: "scripts/clean.py".into(),
            blob: dv::BlobId(Hash::of(b"code")),
            size: 42,
            base: CodeBase::Repository,
        }],
        params: Default::default(),
        code_revision: None,
        message: None,
        author: "tester".into(),
        host: "testhost".into(),
        dv_version: "0.1.0".into(),
        created_at: "2026-01-02T03:04:05.000000Z".into(),
        files: 1,
        bytes: 2,
        run: Some(RunRecord {
            argv: vec!["python3".into(), "../scripts/clean.py".into()],
            workdir: "data".into(),
            inputs: vec![RunInput {
                name: "penguins".into(),
                id: input,
                path: "data/raw".into(),
            }],
            workspace_in_repository: Some("ws".into()),
            exit_status: 0,
            started_at: "2026-01-02T03:04:04.000000Z".into(),
            ended_at: "2026-01-02T03:04:05.000000Z".into(),
            duration_ms: 1000,
            os: "linux-x86_64".into(),
            interpreter: Some(Interpreter {
                program: "python".into(),
                version: "3.11.7".into(),
                packages: Some(log(b"packages", 9)),
            }),
            env: [("LANG".to_string(), "C".to_string())].into(),
            stdout: log(b"out", 3),
            stderr: log(b"err", 0),
            written_elsewhere: None,
        }),
        profile: None,
        failed_rules: Vec::new(),
        profile_tables: None,
    };
    let h = |seed: &[u8]| Hash::of(seed).to_hex();
    let expected = format!(
        concat!(
            r#"{{"format":2,"dataset":"penguins","stage":"cleaned","tree":"{tree}","#,
            r#""path":"data/clean","single_file":false,"inputs":["{input}"],"#,
            r#""transform":"python3 clean.py","#,
            r#""code":[{{"path":"scripts/clean.py","blob":"{code}","size":42,"base":"repository"}}],"#,
            r#""params":{{}},"code_revision":null,"message":null,"author":"tester","#,
            r#""host":"testhost","dv_version":"0.1.0","created_at":"2026-01-02T03:04:05.000000Z","#,
            r#""files":1,"bytes":2,"run":{{"argv":["python3","../scripts/clean.py"],"#,
            r#""workdir":"data","inputs":[{{"name":"penguins","id":"{input}","path":"data/raw"}}],"#,
            r#""workspace_in_repository":"ws","exit_status":0,"#,
            r#""started_at":"2026-01-02T03:04:04.000000Z","ended_at":"2026-01-02T03:04:05.000000Z","#,
            r#""duration_ms":1000,"os":"linux-x86_64","#,
            r#""interpreter":{{"program":"python","version":"3.11.7","packages":{{"blob":"{packages}","size":9}}}},"#,
            r#""env":{{"LANG":"C"}},"stdout":{{"blob":"{out}","size":3}},"#,
            r#""stderr":{{"blob":"{err}","size":0}}}}}}"#
        ),
        tree = h(b"tree"),
        input = h(b"input"),
        code = h(b"code"),
        packages = h(b"packages"),
        out = h(b"out"),
        err = h(b"err"),
    );
    assert_eq!(String::from_utf8(version.encode()).unwrap(), expected);
    let decoded = Version::decode(expected.as_bytes(), &version.id()).unwrap();
    assert_eq!(decoded, version);
    assert_eq!(
        version.blobs().map(|b| b.0).collect::<Vec<_>>(),
        [h(b"code"), h(b"out"), h(b"err"), h(b"packages")]
            .iter()
            .map(|hex| Hash::from_hex(hex).unwrap())
            .collect::<Vec<_>>()
    );

    // Paths a rerun would write to must stay inside its scratch directory.
    for (from, to, reason) in [
        (
            r#""path":"data/raw""#,
            r#""path":"../escape""#,
            "its run's input \"../escape\" is not allowed",
        ),
        (
            r#""workdir":"data""#,
            r#""workdir":"/etc""#,
            "its run's directory \"/etc\" is not allowed",
        ),
        (
            r#""path":"scripts/clean.py""#,
            r#""path":"/home/me/clean.py""#,
            "its code file \"/home/me/clean.py\" is not allowed",
        ),
        (
            r#""format":2"#,
            r#""format":1"#,
            "it carries a run record but claims version format 1",
        ),
        (
            r#""id":"{input}""#,
            r#""id":"{other}""#,
            "its run's inputs are not its inputs",
        ),
    ] {
        let from = from.replace("{input}", &h(b"input"));
        let to = to.replace("{other}", &h(b"other"));
        let hostile = expected.replace(&from, &to);
        assert_ne!(hostile, expected, "{from}");
        let id = VersionId(Hash::of(hostile.as_bytes()));
        let err = Version::decode(hostile.as_bytes(), &id)
            .unwrap_err()
            .to_string();
        assert!(err.contains(reason), "{reason:?} in {err}");
    }
}

/// Format 3: a version carrying a profile and the rules it was committed failing; format 4: one
/// whose profile is stored table by table. Versions without either keep formats 1 and 2, so ids
/// made by older dvs never change.
#[test]
fn a_profile_and_failed_rules_are_pinned_byte_for_byte() {
    use dv::object::{RuleFailure, StoredFile, Version};
    let h = |seed: &[u8]| Hash::of(seed);
    let mut version = Version {
        format: 3,
        dataset: "penguins".into(),
        stage: "cleaned".into(),
        tree: TreeId(h(b"tree")),
        path: "clean".into(),
        single_file: false,
        inputs: Vec::new(),
        transform: None,
        code: Vec::new(),
        params: Default::default(),
        code_revision: None,
        message: None,
        author: "tester".into(),
        host: "testhost".into(),
        dv_version: "0.1.0".into(),
        created_at: "2026-01-02T03:04:05.000000Z".into(),
        files: 1,
        bytes: 2,
        run: None,
        profile: Some(StoredFile {
            blob: dv::BlobId(h(b"profile")),
            size: 77,
        }),
        profile_tables: None,
        failed_rules: vec![RuleFailure {
            rule: "no_nulls".into(),
            file: Some("penguins.csv".into()),
            column: Some("sex".into()),
            message: "11 of 344 rows are null in sex".into(),
        }],
    };
    assert_eq!(version.format_for(), 3);
    let expected = format!(
        concat!(
            r#"{{"format":3,"dataset":"penguins","stage":"cleaned","tree":"{tree}","#,
            r#""path":"clean","single_file":false,"inputs":[],"transform":null,"code":[],"#,
            r#""params":{{}},"code_revision":null,"message":null,"author":"tester","#,
            r#""host":"testhost","dv_version":"0.1.0","created_at":"2026-01-02T03:04:05.000000Z","#,
            r#""files":1,"bytes":2,"profile":{{"blob":"{profile}","size":77}},"#,
            r#""failed_rules":[{{"rule":"no_nulls","file":"penguins.csv","column":"sex","#,
            r#""message":"11 of 344 rows are null in sex"}}]}}"#
        ),
        tree = h(b"tree").to_hex(),
        profile = h(b"profile").to_hex(),
    );
    assert_eq!(String::from_utf8(version.encode()).unwrap(), expected);
    let decoded = Version::decode(expected.as_bytes(), &version.id()).unwrap();
    assert_eq!(decoded, version);
    assert_eq!(
        version.blobs().map(|b| b.0).collect::<Vec<_>>(),
        vec![h(b"profile")]
    );
    // A profile claimed by an older format is refused, and the plain kinds keep their format.
    let hostile = expected.replace(r#""format":3"#, r#""format":1"#);
    let err = Version::decode(hostile.as_bytes(), &VersionId(Hash::of(hostile.as_bytes())))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("carries a profile or rule results but claims version format 1"),
        "{err}"
    );
    // Format 4: the profile's tables in a tree of their own, after the profile's summary.
    version.profile_tables = Some(TreeId(h(b"tables")));
    version.failed_rules.clear();
    version.format = version.format_for();
    assert_eq!(version.format, 4);
    let expected = expected
        .replace(r#""format":3"#, r#""format":4"#)
        .replace(
            r#""size":77},"failed_rules":[{"rule":"no_nulls","file":"penguins.csv","column":"sex","message":"11 of 344 rows are null in sex"}]}"#,
            &format!(r#""size":77}},"profile_tables":"{}"}}"#, h(b"tables").to_hex()),
        );
    assert_eq!(String::from_utf8(version.encode()).unwrap(), expected);
    assert_eq!(
        Version::decode(expected.as_bytes(), &version.id()).unwrap(),
        version
    );
    assert_eq!(
        version.objects().collect::<Vec<_>>(),
        vec![
            (dv::store::Kind::Tree, h(b"tree")),
            (dv::store::Kind::Blob, h(b"profile")),
            (dv::store::Kind::Tree, h(b"tables")),
        ]
    );
    version.profile = None;
    version.profile_tables = None;
    assert_eq!(version.format_for(), 1);
}

/// Trees are forever too: the encoding of docs/format.md, byte for byte.
#[test]
fn tree_encoding_is_pinned_byte_for_byte() {
    let blob = Hash::of(b"x");
    let sub = Hash::of(b"sub");
    let tree = Tree::new(
        vec![
            Entry {
                name: b"z\xffraw".to_vec(),
                kind: EntryKind::Executable,
                id: blob,
                size: 7,
            },
            Entry {
                name: b"dir".to_vec(),
                kind: EntryKind::Tree,
                id: sub,
                size: 100,
            },
            Entry {
                name: b"link".to_vec(),
                kind: EntryKind::Symlink,
                id: blob,
                size: 1,
            },
        ],
        4,
    );
    let mut expected = b"dv-tree 2 6 108\n".to_vec();
    for (kind, id, rest) in [
        (b'd', sub, &b"100 dir\0"[..]),
        (b'l', blob, b"1 link\0"),
        (b'x', blob, b"7 z\xffraw\0"),
    ] {
        expected.push(kind);
        expected.extend_from_slice(&id.0);
        expected.extend_from_slice(rest);
    }
    assert_eq!(tree.encode(), expected);
    assert_eq!(Tree::decode(&expected, &tree.id()).unwrap(), tree);

    // Format 1 (hex hashes) is still read, under the id it was written with.
    let mut v1 = b"dv-tree 1 6 108\n".to_vec();
    v1.extend_from_slice(format!("d {} 100 dir\0", sub.to_hex()).as_bytes());
    v1.extend_from_slice(format!("l {} 1 link\0", blob.to_hex()).as_bytes());
    v1.extend_from_slice(format!("x {} 7 z", blob.to_hex()).as_bytes());
    v1.extend_from_slice(b"\xffraw\0");
    let v1_id = TreeId(Hash::of(&v1));
    assert_eq!(Tree::decode(&v1, &v1_id).unwrap(), tree);
}
