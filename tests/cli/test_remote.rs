//! Remotes end to end, each scenario against a directory remote and against a real
//! S3-compatible server (`s3s-fs`, started by `tests/run.sh`, with signature checks).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Output, TestEnv, noise};
use crate::describe::describe;

/// A local S3-compatible server the suite runs against (see `tests/run.sh`).
struct S3Server {
    endpoint: String,
    bucket: String,
    key: String,
    secret: String,
    /// The server's data directory, where a test can damage what the remote holds.
    data: PathBuf,
}

/// The server from the environment; `None` (with the reason printed) when there is none,
/// which `tests/run.sh` never allows.
fn s3_server() -> Option<S3Server> {
    let var = |name: &str| std::env::var(name).ok();
    match var("DV_TEST_S3_ENDPOINT") {
        Some(endpoint) => Some(S3Server {
            endpoint,
            bucket: var("DV_TEST_S3_BUCKET").expect("DV_TEST_S3_BUCKET"),
            key: var("DV_TEST_S3_KEY").expect("DV_TEST_S3_KEY"),
            secret: var("DV_TEST_S3_SECRET").expect("DV_TEST_S3_SECRET"),
            data: PathBuf::from(var("DV_TEST_S3_DATA").expect("DV_TEST_S3_DATA")),
        }),
        None => {
            assert!(
                var("DV_TEST_REQUIRE_S3").is_none(),
                "DV_TEST_REQUIRE_S3 is set but no S3 server was given"
            );
            eprintln!(
                "skipping an S3 remote test: DV_TEST_S3_ENDPOINT is not set \
                 (`bash tests/run.sh` starts a local S3 server and runs every test)"
            );
            None
        }
    }
}

enum Backend {
    Path,
    S3(S3Server),
}

/// One remote for one test: its URL, the options `remote add` and `clone` take, the
/// variables dv needs to reach it, and where its keys are on disk.
struct Remote {
    url: String,
    options: Vec<String>,
    vars: Vec<(String, String)>,
    files: PathBuf,
}

impl Backend {
    fn remote(&self, base: &Path, name: &str) -> Remote {
        match self {
            Backend::Path => {
                let dir = base.join(name);
                Remote {
                    url: dir.display().to_string(),
                    options: Vec::new(),
                    vars: Vec::new(),
                    files: dir,
                }
            }
            Backend::S3(server) => {
                // One bucket for the whole suite; a prefix no other test (or run) uses.
                let unique = base.file_name().unwrap().to_string_lossy().to_lowercase();
                let prefix = format!("{}-{name}", unique.replace('_', "-"));
                Remote {
                    url: format!("s3://{}/{prefix}", server.bucket),
                    options: [
                        "--endpoint",
                        &server.endpoint,
                        "--allow-http",
                        "--path-style",
                        "--region",
                        "us-east-1",
                    ]
                    .map(String::from)
                    .to_vec(),
                    vars: vec![
                        ("AWS_ACCESS_KEY_ID".into(), server.key.clone()),
                        ("AWS_SECRET_ACCESS_KEY".into(), server.secret.clone()),
                        ("DV_REMOTE_RETRIES".into(), "1".into()),
                        ("DV_REMOTE_TIMEOUT_SECS".into(), "20".into()),
                    ],
                    files: server.data.join(&server.bucket).join(prefix),
                }
            }
        }
    }
}

/// Runs a scenario against both kinds of remote.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[test]
            fn path() {
                super::$name(&super::Backend::Path);
            }

            #[test]
            fn s3() {
                if let Some(server) = super::s3_server() {
                    super::$name(&super::Backend::S3(server));
                }
            }
        }
    };
}

/// A workspace with the remote `origin` added.
fn workspace(backend: &Backend) -> (TestEnv, Remote) {
    let bare = TestEnv::bare();
    let remote = backend.remote(bare.base(), "remote");
    let env = bare.with_vars(&remote.vars);
    env.ok(&["init"]);
    let mut add = vec!["remote", "add", "origin", remote.url.as_str()];
    add.extend(remote.options.iter().map(String::as_str));
    env.ok(&add);
    (env, remote)
}

/// Clones `remote` into `dir` (below the test's base directory); returns the JSON summary.
fn clone(env: &TestEnv, remote: &Remote, dir: &str, extra: &[&str]) -> Value {
    let mut args = vec!["clone", remote.url.as_str(), dir, "--json"];
    args.extend(remote.options.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let out = env.dv_in(env.base(), &args);
    assert_eq!(out.code, 0, "clone failed:\n{out}");
    out.json()
}

/// Runs dv in a directory below the base and requires success.
fn ok_in(env: &TestEnv, dir: &str, args: &[&str]) -> Output {
    let out = env.dv_in(&env.base().join(dir), args);
    assert_eq!(out.code, 0, "dv {args:?} in {dir} failed:\n{out}");
    out
}

fn blob_id(bytes: &[u8]) -> dv::Hash {
    dv::Hash::of(bytes)
}

fn number(json: &Value, field: &str) -> u64 {
    json[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {json}"))
}

/// What a directory held, as `describe` tells it.
type Described = std::collections::BTreeMap<Vec<u8>, (char, Vec<u8>, bool)>;

/// Three versions: small files, a chunked file edited in the middle (chunks and deltas), a tag.
fn history(env: &TestEnv) -> Vec<(String, Described)> {
    let mut versions = Vec::new();
    env.penguins();
    let mut big = noise("big", 3 << 20);
    env.write("data/big.bin", &big);
    let id = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    versions.push((id, describe(&env.root().join("data"))));
    env.ok(&["tag", "penguins@raw", "first"]);
    big[1 << 20..(1 << 20) + 100].fill(7);
    env.write("data/big.bin", &big);
    env.write(
        "data/penguins.csv",
        "species,island,bill_mm\nAdelie,Dream,40.0\n",
    );
    let id = env.id(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        "penguins@raw",
        "-q",
    ]);
    versions.push((id, describe(&env.root().join("data"))));
    env.write("labels/one.txt", "cat\n");
    let id = env.id(&["commit", "labels", "-d", "labels", "-s", "raw", "-q"]);
    versions.push((id, describe(&env.root().join("labels"))));
    versions
}

fn push_then_clone_reproduces_every_version(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let versions = history(&env);
    let pushed = env.dv(&["push", "--json"]).json();
    assert_eq!(number(&pushed, "versions"), 3, "{pushed}");
    assert_eq!(number(&pushed, "tags"), 1, "{pushed}");
    assert!(number(&pushed, "bytes") > 3 << 20, "{pushed}");
    let cloned = clone(&env, &remote, "copy", &[]);
    assert_eq!(number(&cloned, "versions"), 3, "{cloned}");
    assert_eq!(number(&cloned, "tags"), 1, "{cloned}");
    assert_eq!(
        ok_in(&env, "copy", &["log", "--json"]).json(),
        env.dv(&["log", "--json"]).json()
    );
    for (i, (id, files)) in versions.iter().enumerate() {
        let to = format!("../out{i}");
        ok_in(&env, "copy", &["--offline", "checkout", id, "--to", &to]);
        assert_eq!(
            &describe(&env.base().join(format!("out{i}"))),
            files,
            "{id}"
        );
    }
    assert_eq!(
        ok_in(&env, "copy", &["resolve", "first"]).stdout.trim(),
        versions[0].0
    );
    ok_in(&env, "copy", &["fsck"]);
    let listed = ok_in(&env, "copy", &["remote", "list", "--json"]).json();
    assert_eq!(listed[0]["name"], "origin");
    let url = remote
        .url
        .replace(&env.base().display().to_string(), "$TEST_ENV");
    assert_eq!(listed[0]["url"], url.as_str());
    assert_eq!(listed[0]["default"], true);
}
both!(push_then_clone_reproduces_every_version);

fn a_second_push_sends_nothing(backend: &Backend) {
    let (env, _remote) = workspace(backend);
    history(&env);
    env.ok(&["push"]);
    let again = env.dv(&["push", "--json"]).json();
    assert_eq!(
        again,
        serde_json::json!({
            "remote": "origin", "objects": 0, "bytes": 0, "versions": 0, "tags": 0, "lifecycle": 0,
            // The format marker, the lock (written, listed, removed), the version listing
            // and the tag listing.
            "requests": 6, "conflicts": []
        })
    );
}
both!(a_second_push_sends_nothing);

fn pull_fetches_only_the_version_or_path_asked_for(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let (a, b) = (noise("a", 200_000), noise("b", 300_000));
    env.write("data/a.bin", &a);
    env.write("data/sub/b.bin", &b);
    let first = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    let c = noise("c", 400_000);
    env.write("data/sub/b.bin", &c);
    env.id(&["commit", "data", "-d", "d", "-s", "cleaned", "-q"]);
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);

    // One file of the first version: about its size, and nothing of the others.
    let out = ok_in(&env, "copy", &["pull", &first, "--json", "--", "a.bin"]).json();
    let received = number(&out, "bytes");
    assert!((200_000..200_000 + 16_384).contains(&received), "{out}");
    let store = dv::store::Store::at(env.base().join("copy/.dv/objects"));
    use dv::store::Kind::Blob;
    assert!(store.has(Blob, &blob_id(&a)));
    assert!(!store.has(Blob, &blob_id(&b)) && !store.has(Blob, &blob_id(&c)));
    let missing = env.dv_in(
        &env.base().join("copy"),
        &["--offline", "checkout", &first, "--to", "../x"],
    );
    assert_eq!(missing.code, 1, "{missing}");
    assert!(
        missing.stderr.contains(&format!(
            "error: The data of version {first} is not in this workspace (1 object missing)\nhint: --offline was given."
        )),
        "{missing}"
    );

    // The whole first version: the rest of it, and still nothing of the second.
    let out = ok_in(&env, "copy", &["pull", &first, "--json"]).json();
    let received = number(&out, "bytes");
    assert!((300_000..300_000 + 16_384).contains(&received), "{out}");
    // A new look at the store: it caches which packs it has.
    let store = dv::store::Store::at(env.base().join("copy/.dv/objects"));
    assert!(store.has(Blob, &blob_id(&b)) && !store.has(Blob, &blob_id(&c)));
    ok_in(
        &env,
        "copy",
        &["--offline", "checkout", &first, "--to", "../x"],
    );
    assert_eq!(std::fs::read(env.base().join("x/sub/b.bin")).unwrap(), b);
}
both!(pull_fetches_only_the_version_or_path_asked_for);

/// Two directories with the same content share one tree: pulling one of them whole and a
/// file of the other brings every file of the shared tree, and each path asked for is found,
/// whichever comes first.
fn pull_of_a_shared_tree_by_part_and_whole(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let (f, g) = (noise("f", 150_000), noise("g", 150_000));
    for dir in ["x", "y"] {
        env.write(&format!("data/{dir}/f.bin"), &f);
        env.write(&format!("data/{dir}/g.bin"), &g);
    }
    let id = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    for (copy, paths) in [("one", ["x/f.bin", "y"]), ("two", ["y", "x/f.bin"])] {
        clone(&env, &remote, copy, &["--no-data"]);
        let mut args = vec!["pull", id.as_str(), "--"];
        args.extend(paths);
        ok_in(&env, copy, &args);
        ok_in(
            &env,
            copy,
            &[
                "--offline",
                "checkout",
                &id,
                "--to",
                &format!("../{copy}-out"),
            ],
        );
        for dir in ["x", "y"] {
            let out = env.base().join(format!("{copy}-out/{dir}"));
            assert_eq!(std::fs::read(out.join("f.bin")).unwrap(), f);
            assert_eq!(std::fs::read(out.join("g.bin")).unwrap(), g);
        }
    }
}
both!(pull_of_a_shared_tree_by_part_and_whole);

/// A version's profile is stored as a delta against the previous version's: it still comes
/// with a clone that brings no data (its base with it), reads the same offline, and survives a
/// gc that collects the retired version whose profile is its base.
fn a_profile_stored_as_a_delta_travels_and_outlives_its_base(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let table = |i: usize, edit: &str| format!("id,label\n{i},cat\n{i}1,{edit}\n");
    for i in 0..60 {
        env.write(&format!("data/t{i:02}.csv"), table(i, "dog"));
    }
    let first = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.write("data/t07.csv", table(7, "bird"));
    let second = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    let shown = env.dv(&["show", &second, "--profile", "--json"]).json();
    let record = env.dv(&["show", &second, "--json"]).json();
    let blob = dv::Hash::from_hex(record["profile"]["blob"].as_str().unwrap()).unwrap();
    let link = env
        .store()
        .delta_link(dv::store::Kind::Blob, &blob)
        .unwrap();
    assert!(link.is_some(), "the second profile is a delta");
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);
    let copy = env.base().join("copy");
    let offline = env.dv_in(
        &copy,
        &["--offline", "show", &second, "--profile", "--json"],
    );
    assert_eq!(offline.code, 0, "{offline}");
    assert_eq!(offline.json(), shown);
    // Retiring and collecting the first version keeps its profile (every retired version's
    // profile stays), so the second's still reads.
    env.ok(&["retire", &first, "--reason", "old"]);
    env.ok(&["gc", "--grace", "0s", "--prune"]);
    assert_eq!(
        env.dv(&["show", &second, "--profile", "--json"]).json(),
        shown
    );
    assert_eq!(env.dv(&["fsck"]).code, 0);
}
both!(a_profile_stored_as_a_delta_travels_and_outlives_its_base);

fn clone_without_data_then_materialize_fetches_only_the_pinned_version(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let one = noise("one", 500_000);
    env.write("data/one.bin", &one);
    env.ok(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["pin", "d@raw", "--as", "train", "--path", "train"]);
    env.write("data/one.bin", noise("two", 500_000));
    env.ok(&["commit", "data", "-d", "d", "-s", "cleaned", "-q"]);
    env.ok(&["push"]);
    let cloned = clone(&env, &remote, "trainer", &["--no-data"]);
    assert_eq!(number(&cloned, "versions"), 2, "{cloned}");
    assert!(number(&cloned, "bytes") < 8_192, "metadata only: {cloned}");
    std::fs::copy(
        env.root().join("dv.lock"),
        env.base().join("trainer/dv.lock"),
    )
    .unwrap();
    let out = ok_in(&env, "trainer", &["materialize"]);
    assert!(out.stderr.contains("Fetched 2 objects"), "{out}");
    assert_eq!(
        std::fs::read(env.base().join("trainer/train/one.bin")).unwrap(),
        one
    );
    ok_in(&env, "trainer", &["--offline", "verify"]);
    let store = dv::store::Store::at(env.base().join("trainer/.dv/objects"));
    assert!(!store.has(dv::store::Kind::Blob, &blob_id(&noise("two", 500_000))));
    // Already there: nothing is fetched and no remote is needed.
    let again = ok_in(&env, "trainer", &["--offline", "materialize"]);
    assert!(!again.stderr.contains("Fetched"), "{again}");
}
both!(clone_without_data_then_materialize_fetches_only_the_pinned_version);

fn two_workspaces_pushing_at_once_both_survive(backend: &Backend) {
    let (first, remote) = workspace(backend);
    let second = TestEnv::bare().with_vars(&remote.vars);
    second.ok(&["init"]);
    let mut add = vec!["remote", "add", "origin", remote.url.as_str()];
    add.extend(remote.options.iter().map(String::as_str));
    second.ok(&add);
    first.write("a/x.bin", noise("x", 2 << 20));
    first.ok(&["commit", "a", "-d", "alpha", "-s", "raw", "-q"]);
    first.ok(&["tag", "alpha", "alpha-1"]);
    second.write("b/y.bin", noise("y", 2 << 20));
    second.ok(&["commit", "b", "-d", "beta", "-s", "raw", "-q"]);
    second.ok(&["tag", "beta", "beta-1"]);
    let pushes = [first.spawn(&["push"]), second.spawn(&["push"])];
    for push in pushes {
        let out = push.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    clone(&first, &remote, "both", &[]);
    ok_in(&first, "both", &["checkout", "alpha-1", "--to", "../alpha"]);
    ok_in(&first, "both", &["checkout", "beta-1", "--to", "../beta"]);
    assert_eq!(
        describe(&first.base().join("alpha")),
        describe(&first.root().join("a"))
    );
    assert_eq!(
        describe(&first.base().join("beta")),
        describe(&second.root().join("b"))
    );
}
both!(two_workspaces_pushing_at_once_both_survive);

fn a_push_killed_midway_resumes_with_only_the_rest(backend: &Backend) {
    let (env, remote) = workspace(backend);
    // Two remote packs' worth (they close at 32 MiB).
    env.write("data/one.bin", noise("one", 30 << 20));
    env.write("data/two.bin", noise("two", 20 << 20));
    env.ok(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    let killed = env.dv_env(&[("DV_FAILPOINT", "push.pack-sent")], &["push"]);
    assert_eq!(
        killed.code, -1,
        "the push did not stop at the first pack:\n{killed}"
    );
    // The remote names no version yet: its data is not all there.
    let versions = remote.files.join("versions");
    assert!(!versions.exists() || std::fs::read_dir(&versions).unwrap().count() == 0);
    // What arrived whole: packs with their index (either may have finished first).
    let arrived: u64 = std::fs::read_dir(remote.files.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack") && p.with_extension("idx").exists())
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(
        arrived >= 16 << 20,
        "a whole pack arrived before the kill: {arrived}"
    );
    let rest = env.dv(&["push", "--json"]).json();
    let sent = number(&rest, "bytes");
    let total = 50 << 20;
    assert!(
        sent <= total - arrived + (1 << 20),
        "the rerun sent what had arrived again ({arrived} had): {rest}"
    );
    assert_eq!(number(&rest, "versions"), 1, "{rest}");
    clone(&env, &remote, "copy", &[]);
    ok_in(&env, "copy", &["checkout", "d", "--to", "../out"]);
    assert_eq!(
        describe(&env.base().join("out")),
        describe(&env.root().join("data"))
    );
}
both!(a_push_killed_midway_resumes_with_only_the_rest);

fn a_pull_killed_midway_keeps_what_arrived(backend: &Backend) {
    let (env, remote) = workspace(backend);
    // More than one group (64 MiB) of chunks.
    let content = noise("large", 80 << 20);
    env.write("data/large.bin", &content);
    let id = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);
    let copy = env.base().join("copy");
    let killed = env.dv_env_in(&copy, &[("DV_FAILPOINT", "pull.data-stored")], &["pull"]);
    assert_eq!(
        killed.code, -1,
        "the pull did not stop after its first group:\n{killed}"
    );
    let rest = ok_in(&env, "copy", &["pull", "--json"]).json();
    let received = number(&rest, "bytes");
    assert!(
        received < (80 << 20) - (48 << 20),
        "the rerun fetched what had arrived again: {rest}"
    );
    ok_in(
        &env,
        "copy",
        &["--offline", "checkout", &id, "--to", "../out"],
    );
    assert!(std::fs::read(env.base().join("out/large.bin")).unwrap() == content);
    ok_in(&env, "copy", &["fsck"]);
}
both!(a_pull_killed_midway_keeps_what_arrived);

fn a_damaged_object_on_the_remote_never_enters_the_store(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let content = noise("payload", 100_000);
    env.write("data/file.bin", &content);
    let id = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);
    // Flip one byte in the middle of the pack: inside the file's content.
    let packs = remote.files.join("packs");
    let pack = std::fs::read_dir(&packs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&pack, bytes).unwrap();
    let out = env.dv_in(
        &env.base().join("copy"),
        &["checkout", &id, "--to", "../out"],
    );
    assert_eq!(out.code, 1, "{out}");
    let blob = blob_id(&content);
    assert!(
        out.stderr.contains(&format!(
            "error: Remote origin: the blob {blob} it sent is damaged, so it was not stored: its content hashes to "
        )),
        "{out}"
    );
    let store = dv::store::Store::at(env.base().join("copy/.dv/objects"));
    assert!(!store.has(dv::store::Kind::Blob, &blob));
    assert!(!env.base().join("out/file.bin").exists());
    ok_in(&env, "copy", &["fsck"]);
}
both!(a_damaged_object_on_the_remote_never_enters_the_store);

/// Writes a key on the remote directly, as a hostile or broken writer would.
fn plant(remote: &Remote, key: &str, bytes: &[u8]) {
    let path = remote.files.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Runs `dv fetch` in `copy` and requires it to leave `version` out, naming it with `reason`,
/// while it succeeds with everything else.
fn expect_left_out(env: &TestEnv, version: &str, reason: &str) {
    let out = env.dv_in(&env.base().join("copy"), &["fetch"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "warning: 1 version could not be brought from origin and is not usable here:\n  {}: {reason}",
            &version[..12]
        )),
        "expected {version} left out in:\n{out}"
    );
}

/// Runs dv in a directory below the base (`.`: the workspace) and requires it to fail with
/// `message`.
fn expect_failure(env: &TestEnv, dir: &str, args: &[&str], message: &str) {
    let dir = match dir {
        "." => env.root(),
        below => env.base().join(below),
    };
    let out = env.dv_in(&dir, args);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(message),
        "expected {message:?} in:\n{out}"
    );
}

fn hostile_listings_and_records_are_rejected(backend: &Backend) {
    let (env, remote) = workspace(backend);
    env.penguins();
    let id = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);

    // A key dv never writes.
    plant(&remote, "versions/not-a-version", b"x");
    expect_failure(
        &env,
        "copy",
        &["fetch"],
        "error: Remote origin: its listing holds \"versions/not-a-version\", which dv never writes there",
    );
    std::fs::remove_file(remote.files.join("versions/not-a-version")).unwrap();

    // A version record whose bytes are not what its name says: left out, the rest arrives.
    let real = std::fs::read(remote.files.join(format!("versions/{id}"))).unwrap();
    let forged = "1".repeat(64);
    plant(&remote, &format!("versions/{forged}"), &real);
    expect_left_out(
        &env,
        &forged,
        &format!("Remote origin: the version {forged} it sent is damaged, so it was not stored"),
    );
    std::fs::remove_file(remote.files.join(format!("versions/{forged}"))).unwrap();

    // A well-named version whose content points outside the workspace.
    let json = match real[6] {
        0 => real[16..].to_vec(),
        _ => zstd::decode_all(&real[16..]).unwrap(),
    };
    let evil = String::from_utf8(json)
        .unwrap()
        .replace("\"path\":\"data\"", "\"path\":\"../../escape\"");
    let mut object = b"dvob\x02v\x00\x00".to_vec();
    object.extend_from_slice(&(evil.len() as u64).to_le_bytes());
    object.extend_from_slice(evil.as_bytes());
    let evil_id = blake3::hash(evil.as_bytes()).to_hex().to_string();
    plant(&remote, &format!("versions/{evil_id}"), &object);
    expect_left_out(
        &env,
        &evil_id,
        &format!("Remote origin: the version {evil_id} it sent is damaged, so it was not stored"),
    );
    std::fs::remove_file(remote.files.join(format!("versions/{evil_id}"))).unwrap();

    // A pack index that is not the index of its pack. (The clone fetched the profile, so the
    // copy holds a verified copy of the index: it is dropped to make the pull read it again.)
    std::fs::remove_dir_all(env.base().join("copy/.dv/remotes/origin/packs")).unwrap();
    let index = std::fs::read_dir(remote.files.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let good = std::fs::read(&index).unwrap();
    let mut bad = good.clone();
    bad[20] ^= 1;
    std::fs::write(&index, &bad).unwrap();
    let name = index.file_name().unwrap().to_string_lossy().into_owned();
    expect_failure(
        &env,
        "copy",
        &["pull"],
        &format!(
            "error: Remote origin: packs/{name} is damaged: its checksum does not match its content"
        ),
    );
    // An index far larger than its pack could need.
    std::fs::write(&index, vec![0u8; 1 << 20]).unwrap();
    expect_failure(
        &env,
        "copy",
        &["pull"],
        &format!("error: Remote origin: packs/{name} is 1048576 bytes, too large for a pack of "),
    );
    std::fs::write(&index, &good).unwrap();

    // A pack cut short: what its index promises is not there.
    let pack = index.with_extension("pack");
    let whole = std::fs::read(&pack).unwrap();
    std::fs::write(&pack, &whole[..64]).unwrap();
    let out = env.dv_in(&env.base().join("copy"), &["pull"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("error: Remote origin: "), "{out}");
    let store = dv::store::Store::at(env.base().join("copy/.dv/objects"));
    // Only the profile (its summary and its tables' files), which came with the clone.
    let shown = env
        .dv_in(&env.base().join("copy"), &["show", &id, "--json"])
        .json();
    let tables = shown["profile_tables"].as_str().unwrap().parse().unwrap();
    let mut profile: Vec<String> = dv::object::tree::flatten(&store, &tables)
        .unwrap()
        .iter()
        .map(|file| file.id.to_hex().to_string())
        .chain([shown["profile"]["blob"].as_str().unwrap().to_string()])
        .collect();
    profile.sort();
    assert_eq!(
        store
            .list(dv::store::Kind::Blob)
            .unwrap()
            .iter()
            .map(|h| h.to_hex().to_string())
            .collect::<Vec<_>>(),
        profile,
        "nothing half-received was stored"
    );
    std::fs::write(&pack, &whole).unwrap();

    // A tag record with a name dv would never accept.
    plant(&remote, &format!("tags/..bad/{id}"), b"");
    expect_failure(
        &env,
        "copy",
        &["fetch"],
        "error: Remote origin: its listing holds \"tags/..bad/",
    );
    std::fs::remove_dir_all(remote.files.join("tags/..bad")).unwrap();

    // After all that, nothing unverified is in the store and the clone works.
    ok_in(&env, "copy", &["fsck"]);
    ok_in(&env, "copy", &["checkout", &id, "--to", "../out"]);
    assert_eq!(
        describe(&env.base().join("out")),
        describe(&env.root().join("data"))
    );
}
both!(hostile_listings_and_records_are_rejected);

fn tags_that_differ_are_conflicts_never_overwritten(backend: &Backend) {
    let (env, remote) = workspace(backend);
    env.penguins();
    let first = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["tag", &first, "release"]);
    env.ok(&["push"]);
    clone(&env, &remote, "other", &["--no-data"]);
    env.write("data/new.txt", "new\n");
    let second = env.id(&["commit", "data", "-d", "penguins", "-s", "cleaned", "-q"]);
    env.ok(&["tag", &second, "release", "--force"]);
    let out = env.dv(&["push", "--json"]);
    assert_eq!(out.code, 1, "{out}");
    let report = out.json();
    assert_eq!(
        report["conflicts"],
        serde_json::json!([{ "tag": "release", "local": second, "remote": [first] }])
    );
    assert!(
        out.stderr
            .contains("error: 1 tag name other versions on remote origin and were left unchanged"),
        "{out}"
    );
    // The remote still says what it said.
    ok_in(&env, "other", &["fetch"]);
    assert_eq!(
        ok_in(&env, "other", &["resolve", "release"]).stdout.trim(),
        first
    );
}
both!(tags_that_differ_are_conflicts_never_overwritten);

fn lifecycle_events_travel_with_their_versions(backend: &Backend) {
    let (env, remote) = workspace(backend);
    env.penguins();
    let id = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["deprecate", &id, "--reason", "wrong labels"]);
    let pushed = env.dv(&["push", "--json"]).json();
    assert_eq!(number(&pushed, "lifecycle"), 1, "{pushed}");
    let cloned = clone(&env, &remote, "copy", &["--no-data"]);
    assert_eq!(number(&cloned, "lifecycle"), 1, "{cloned}");
    let shown = ok_in(&env, "copy", &["show", &id, "--json"]).json();
    assert_eq!(shown["lifecycle"]["state"], "deprecated");
    assert_eq!(shown["lifecycle"]["reason"], "wrong labels");
    // Retired elsewhere, then fetched here: the newest event decides.
    ok_in(&env, "copy", &["retire", &id, "--reason", "replaced"]);
    ok_in(&env, "copy", &["push"]);
    let fetched = env.dv(&["fetch", "--json"]).json();
    assert_eq!(number(&fetched, "lifecycle"), 1, "{fetched}");
    let checkout = env.dv(&["checkout", &id, "--to", "../out"]);
    assert_eq!(checkout.code, 1, "{checkout}");
    assert!(checkout.stderr.contains("is retired ("), "{checkout}");
    // A forged event on the remote is refused, not recorded.
    let events = remote.files.join("lifecycle").join(&id);
    let some = std::fs::read_dir(&events)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let forged = "2".repeat(64);
    std::fs::copy(&some, events.join(&forged)).unwrap();
    expect_failure(
        &env,
        "copy",
        &["fetch"],
        &format!(
            "error: Remote origin: lifecycle/{id}/{forged} is damaged, so it was not recorded"
        ),
    );
}
both!(lifecycle_events_travel_with_their_versions);

#[test]
fn remote_settings_are_checked_and_never_hold_credentials() {
    let env = TestEnv::new();
    let fail = |args: &[&str], message: &str| {
        let out = env.dv(args);
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr.contains(message),
            "expected {message:?} in:\n{out}"
        );
    };
    fail(
        &["remote", "add", "o", "s3://key:secret@bucket/x"],
        "error: Invalid remote URL \"s3://key:secret@bucket/x\": credentials are never part of a remote URL",
    );
    fail(
        &["remote", "add", "o", "ftp://host/x"],
        "error: Invalid remote URL \"ftp://host/x\": dv understands /path, file:///path, s3://bucket/prefix, gs://bucket/prefix and az://container/prefix",
    );
    fail(
        &["remote", "add", "o", "s3://bucket/a/../b"],
        "error: Invalid remote URL \"s3://bucket/a/../b\": the key prefix has an empty, '.' or '..' component",
    );
    fail(
        &["push"],
        "error: No remote is configured\nhint: Add one with `dv remote add NAME URL`",
    );
    env.ok(&[
        "remote",
        "add",
        "one",
        "s3://bucket-one/p",
        "--endpoint",
        "http://127.0.0.1:9",
        "--allow-http",
    ]);
    env.ok(&["remote", "add", "two", "../shared", "--default"]);
    fail(
        &["remote", "add", "two", "/x"],
        "error: A remote named \"two\" already exists",
    );
    fail(
        &["fetch", "three"],
        "error: Unknown remote \"three\"\nhint: Remotes: one, two.",
    );
    let shared = "$TEST_ENV/shared";
    assert_eq!(
        env.dv(&["remote", "list", "--json"]).json(),
        serde_json::json!([
            {"name": "one", "url": "s3://bucket-one/p", "endpoint": "http://127.0.0.1:9", "allow_http": true, "default": false},
            {"name": "two", "url": shared, "default": true}
        ])
    );
    let saved = std::fs::read_to_string(env.root().join(".dv/remotes.json")).unwrap();
    assert!(
        !saved.contains("secret") && !saved.contains("AWS"),
        "{saved}"
    );
    env.ok(&["remote", "remove", "two"]);
    assert_eq!(
        env.dv(&["remote", "list", "--json"]).json()[0]["default"],
        true
    );
    // A hostile remotes.json is refused with the reason.
    std::fs::write(
        env.root().join(".dv/remotes.json"),
        r#"{"format":1,"default":"x","remotes":{"x":{"url":"relative/path"}}}"#,
    )
    .unwrap();
    fail(
        &["push"],
        "remote \"x\": Invalid remote URL \"relative/path\": a path remote must be absolute",
    );
}

#[cfg(not(feature = "gcs"))]
#[test]
fn a_cloud_this_build_lacks_is_named_with_the_feature_to_build() {
    let env = TestEnv::new();
    env.ok(&["remote", "add", "gcs", "gs://bucket-x/datasets"]);
    let out = env.dv(&["push"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "error: Remote gcs: this dv was built without Google Cloud Storage support; install it with `cargo install --locked --path . --features gcs`"
        ),
        "{out}"
    );
}

#[test]
fn s3_requests_are_signed_and_a_wrong_secret_is_refused() {
    let Some(server) = s3_server() else {
        return;
    };
    let (env, remote) = workspace(&Backend::S3(server));
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    let out = env.dv_env(&[("AWS_SECRET_ACCESS_KEY", "not-the-secret")], &["push"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("error: Remote origin: reading dv-remote.json failed: "),
        "{out}"
    );
    assert!(
        !remote.files.exists(),
        "nothing was written with a bad signature"
    );
    env.ok(&["push"]);
    assert!(remote.files.join("dv-remote.json").exists());
}

/// Versions on a remote for gc: `cleaned` shares most chunks of its large file with `raw`;
/// `kept` is tagged; `raw`, `kept` and `gone` are retired and pushed so.
struct Retired {
    raw: String,
    cleaned: String,
    kept: String,
    gone: String,
    gone_blob: dv::Hash,
}

fn retired_history(env: &TestEnv) -> Retired {
    env.penguins();
    let mut big = noise("big", 3 << 20);
    env.write("data/big.bin", &big);
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    big[1 << 20..(1 << 20) + 100].fill(7);
    env.write("data/big.bin", &big);
    let cleaned = env.id(&[
        "commit", "data", "-d", "penguins", "-s", "cleaned", "--from", &raw, "-q",
    ]);
    env.write("keep/k.bin", noise("kept", 200_000));
    let kept = env.id(&["commit", "keep", "-d", "kept", "-s", "raw", "-q"]);
    env.ok(&["tag", &kept, "keeper"]);
    let gone_bytes = noise("gone", 300_000);
    env.write("gone/g.bin", &gone_bytes);
    let gone = env.id(&["commit", "gone", "-d", "gone", "-s", "raw", "-q"]);
    for id in [&raw, &kept, &gone] {
        env.ok(&["retire", id, "--reason", "superseded"]);
    }
    env.ok(&["push"]);
    Retired {
        raw,
        cleaned,
        kept,
        gone,
        gone_blob: blob_id(&gone_bytes),
    }
}

/// The report of `dv gc --remote origin` with `extra` options.
fn remote_gc(env: &TestEnv, extra: &[&str]) -> Value {
    let mut args = vec!["gc", "--remote", "origin", "--json"];
    args.extend_from_slice(extra);
    let out = env.dv(&args);
    assert_eq!(
        out.code, 0,
        "dv {args:?} failed:
{out}"
    );
    let mut report = out.json();
    // Requests differ between a dry run and a real one (the lock, the deletions).
    report.as_object_mut().unwrap().remove("requests");
    report
}

fn remote_gc_removes_only_what_retired_versions_alone_need(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let v = retired_history(&env);
    // Everything is younger than the default grace period: nothing goes.
    let young = remote_gc(&env, &[]);
    assert_eq!(number(&young, "removed_objects"), 0, "{young}");
    assert!(number(&young, "garbage_objects") >= 3, "{young}");
    assert_eq!(
        number(&young, "young_objects"),
        number(&young, "garbage_objects")
    );
    assert_eq!(
        number(&young, "live_versions"),
        2,
        "cleaned and the tagged one"
    );

    assert!(remote_holds(&remote, dv::store::Kind::Blob, &v.gone_blob));
    // A dry run says exactly what a real one does.
    let planned = remote_gc(&env, &["--grace", "0s", "--max-unused", "0"]);
    let mut done = remote_gc(&env, &["--grace", "0s", "--max-unused", "0", "--prune"]);
    assert_eq!(done["pruned"], true);
    done["pruned"] = Value::Bool(false);
    assert_eq!(planned, done);
    assert!(number(&done, "removed_objects") >= 3, "{done}");
    let after = remote_gc(&env, &["--grace", "0s", "--max-unused", "0"]);
    assert_eq!(number(&after, "garbage_objects"), 0, "{after}");

    // A clone gets back every live version byte for byte, and the tagged retired one.
    clone(&env, &remote, "copy", &[]);
    ok_in(
        &env,
        "copy",
        &["checkout", &v.cleaned, "--to", "../cleaned"],
    );
    assert_eq!(
        describe(&env.base().join("cleaned")),
        describe(&env.root().join("data"))
    );
    ok_in(&env, "copy", &["unretire", &v.kept]);
    ok_in(&env, "copy", &["checkout", "keeper", "--to", "../kept"]);
    assert_eq!(
        describe(&env.base().join("kept")),
        describe(&env.root().join("keep"))
    );
    // The retired versions' own data is gone; their records and lineage stay.
    expect_failure(
        &env,
        "copy",
        &["checkout", &v.gone, "--to", "../gone"],
        "is retired (",
    );
    expect_failure(
        &env,
        "copy",
        &["unretire", &v.gone],
        "cannot be made active again: 1 of its objects are not here",
    );
    assert!(!remote_holds(&remote, dv::store::Kind::Blob, &v.gone_blob));
    let lineage = ok_in(&env, "copy", &["lineage", &v.cleaned, "--json"]).json();
    assert!(lineage.to_string().contains(&v.raw), "{lineage}");
    ok_in(&env, "copy", &["fsck"]);
}
both!(remote_gc_removes_only_what_retired_versions_alone_need);

/// Whether the remote's files hold an object (in a pack its index lists, or on its own).
fn remote_holds(remote: &Remote, kind: dv::store::Kind, id: &dv::Hash) -> bool {
    let packs = std::fs::read_dir(remote.files.join("packs")).unwrap();
    let packed = packs.map(|e| e.unwrap().path()).any(|path| {
        path.extension().is_some_and(|e| e == "idx")
            && dv::store::PackIndex::decode(&std::fs::read(&path).unwrap())
                .unwrap()
                .find(kind.code(), id)
                .is_some()
    });
    packed
        || remote
            .files
            .join("objects")
            .join(kind.name())
            .join(id.to_hex())
            .exists()
}

/// Waits until the remote lists a lock (a command holding one reached its failpoint).
fn wait_for_lock(remote: &Remote) {
    let locks = remote.files.join("locks");
    for _ in 0..1500 {
        if std::fs::read_dir(&locks).is_ok_and(|mut entries| entries.next().is_some()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("no lock appeared in {}", locks.display());
}

fn a_pruning_gc_and_a_push_never_run_together(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let v = retired_history(&env);
    let release = env.base().join("release");
    let release_var = release.display().to_string();

    // A push holding its lock (stopped after its first pack): gc waits for it.
    env.write("more/m.bin", noise("more", 100_000));
    let more = env.id(&["commit", "more", "-d", "more", "-s", "raw", "-q"]);
    let push = env.spawn_env(
        &[
            ("DV_FAILPOINT", "push.pack-sent=wait"),
            ("DV_FAILPOINT_RELEASE", &release_var),
        ],
        &["push"],
    );
    wait_for_lock(&remote);
    expect_busy(
        &env,
        &["gc", "--remote", "origin", "--prune", "--grace", "0s"],
        "error: Remote origin: it is locked by a push from ",
    );
    // A dry run takes no lock.
    remote_gc(&env, &["--grace", "0s"]);
    std::fs::write(&release, "").unwrap();
    let out = push.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&release).unwrap();

    // A gc holding its lock (stopped between marking and sweeping): pushes wait for it.
    env.write("later/l.bin", noise("later", 100_000));
    let later = env.id(&["commit", "later", "-d", "later", "-s", "raw", "-q"]);
    let gc = env.spawn_env(
        &[
            ("DV_FAILPOINT", "remote-gc.marked=wait"),
            ("DV_FAILPOINT_RELEASE", &release_var),
        ],
        &["gc", "--remote", "origin", "--prune", "--grace", "0s"],
    );
    wait_for_lock(&remote);
    expect_busy(
        &env,
        &["push"],
        "error: Remote origin: it is locked by a gc from ",
    );
    std::fs::write(&release, "").unwrap();
    let out = gc.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["push"]);

    clone(&env, &remote, "copy", &[]);
    for (id, dir) in [(&v.cleaned, "data"), (&more, "more"), (&later, "later")] {
        ok_in(
            &env,
            "copy",
            &["checkout", id, "--to", &format!("../out-{dir}")],
        );
        assert_eq!(
            describe(&env.base().join(format!("out-{dir}"))),
            describe(&env.root().join(dir))
        );
    }
    ok_in(&env, "copy", &["fsck"]);
}
both!(a_pruning_gc_and_a_push_never_run_together);

/// Runs dv in the workspace and requires it to find the remote locked: exit 75 (busy, retry),
/// `message`, nothing changed, and the hint saying when to retry.
fn expect_busy(env: &TestEnv, args: &[&str], message: &str) {
    let out = env.dv(args);
    assert_eq!(out.code, 75, "{out}");
    assert!(
        out.stderr.contains(message),
        "expected {message:?} in:\n{out}"
    );
    assert!(
        out.stderr.contains("cannot run beside it (nothing was changed)\nhint: Run it again once that has finished. A lock left by a dv that died is ignored 30 minutes after its last confirmation, or at once on the machine it ran on."),
        "{out}"
    );
}

/// Plants a lock as another machine's dv would leave it, last written `age` ago.
fn plant_lock(remote: &Remote, operation: &str, exclusive: bool, age: std::time::Duration) {
    let key = format!("locks/{}", "ab".repeat(32));
    let holder = serde_json::json!({
        "exclusive": exclusive, "operation": operation, "host": "elsewhere", "pid": 42,
        "started": "2026-01-02T03:04:05Z"
    });
    plant(remote, &key, holder.to_string().as_bytes());
    let file = std::fs::File::options()
        .write(true)
        .open(remote.files.join(&key))
        .unwrap();
    file.set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

fn locks_of_others_are_respected_until_stale(backend: &Backend) {
    let (env, remote) = workspace(backend);
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    let minute = std::time::Duration::from_secs(60);

    // Another machine's gc, confirmed a minute ago: a push waits for it.
    plant_lock(&remote, "gc", true, minute);
    env.write("data/extra.csv", "a,b\n1,2\n");
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    expect_busy(
        &env,
        &["push"],
        "error: Remote origin: it is locked by a gc from elsewhere (process 42, started \
         2026-01-02T03:04:05Z), last confirmed ",
    );
    // Another machine's push: pushes share, a pruning gc waits.
    plant_lock(&remote, "push", false, minute);
    env.ok(&["push"]);
    expect_busy(
        &env,
        &["gc", "--remote", "origin", "--prune"],
        "error: Remote origin: it is locked by a push from elsewhere (process 42",
    );
    // Not confirmed for two hours: its dv died; the lock is ignored and removed.
    plant_lock(&remote, "gc", true, 120 * minute);
    env.ok(&["gc", "--remote", "origin", "--prune"]);
    let locks = std::fs::read_dir(remote.files.join("locks"))
        .unwrap()
        .count();
    assert_eq!(locks, 0, "the stale lock and gc's own are gone");
    // A key under locks/ that dv never writes is reported, not guessed at.
    plant(&remote, "locks/not-a-lock", b"{}");
    expect_failure(
        &env,
        ".",
        &["push"],
        "error: Remote origin: its listing holds \"locks/not-a-lock\", which dv never writes there",
    );
}
both!(locks_of_others_are_respected_until_stale);

fn a_remote_gc_killed_at_any_step_loses_nothing(backend: &Backend) {
    for point in [
        "remote-gc.marked",
        "remote-gc.repacked",
        "remote-gc.index-removed",
    ] {
        let (env, remote) = workspace(backend);
        let v = retired_history(&env);
        let args = [
            "gc",
            "--remote",
            "origin",
            "--prune",
            "--grace",
            "0s",
            "--max-unused",
            "0",
        ];
        let killed = env.dv_env(&[("DV_FAILPOINT", point)], &args);
        assert_eq!(killed.code, -1, "{point}: gc did not stop there:\n{killed}");
        // Every live version still comes back whole, from a fresh clone.
        let copy = format!("copy-{}", point.replace('.', "-"));
        clone(&env, &remote, &copy, &[]);
        ok_in(&env, &copy, &["checkout", &v.cleaned, "--to", "../cleaned"]);
        assert_eq!(
            describe(&env.base().join("cleaned")),
            describe(&env.root().join("data")),
            "{point}"
        );
        // The killed gc's lock is its own machine's dead process's: the rerun goes on, and
        // leaves nothing behind.
        let rerun = remote_gc(&env, &["--grace", "0s", "--max-unused", "0", "--prune"]);
        if point == "remote-gc.index-removed" {
            assert_eq!(number(&rerun, "leftovers_removed"), 1, "{point}: {rerun}");
        }
        let after = remote_gc(&env, &["--grace", "0s", "--max-unused", "0"]);
        assert_eq!(number(&after, "garbage_objects"), 0, "{point}: {after}");
        assert_eq!(number(&after, "leftovers_removed"), 0, "{point}: {after}");
        std::fs::remove_dir_all(env.base().join("cleaned")).unwrap();
        clone(&env, &remote, "again", &[]);
        ok_in(
            &env,
            "again",
            &["checkout", &v.cleaned, "--to", "../cleaned"],
        );
        ok_in(&env, "again", &["unretire", "keeper"]);
        ok_in(&env, "again", &["checkout", "keeper", "--to", "../kept"]);
        std::fs::remove_dir_all(env.base().join("kept")).unwrap();
        ok_in(&env, "again", &["fsck"]);
    }
}
both!(a_remote_gc_killed_at_any_step_loses_nothing);

fn a_pull_beside_a_pruning_gc_lists_the_remote_again(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let kept = noise("kept", 300_000);
    env.write("data/kept.bin", &kept);
    let v1 = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.write("data/gone.bin", noise("gone", 300_000));
    let v2 = env.id(&["commit", "data", "-d", "d", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);
    // The clone's pull has loaded the remote's pack indexes and waits; a gc then rewrites the
    // one pack (v2's own file is garbage once v2 is retired there).
    let release = env.base().join("release");
    let release_var = release.display().to_string();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dv"));
    command
        .args(["pull", "origin", &v1])
        .current_dir(env.base().join("copy"))
        .env_clear()
        .env("HOME", env.base().join("home"))
        .env("DV_FAILPOINT", "pull.catalog-loaded=wait")
        .env("DV_FAILPOINT_RELEASE", &release_var)
        .envs(remote.vars.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let pull = command.spawn().unwrap();
    env.ok(&["retire", &v2, "--reason", "bad"]);
    env.ok(&["push"]);
    let gc = remote_gc(&env, &["--prune", "--grace", "0s", "--max-unused", "0"]);
    assert_eq!(number(&gc, "packs_rewritten"), 1, "{gc}");
    std::fs::write(&release, "").unwrap();
    let out = pull.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok_in(
        &env,
        "copy",
        &["--offline", "checkout", &v1, "--to", "../out"],
    );
    assert!(std::fs::read(env.base().join("out/kept.bin")).unwrap() == kept);
}
both!(a_pull_beside_a_pruning_gc_lists_the_remote_again);

fn a_push_whose_lock_lapsed_writes_no_version(backend: &Backend) {
    let (env, remote) = workspace(backend);
    env.penguins();
    env.ok(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.ok(&["push"]);
    let content = noise("late", 200_000);
    env.write("data/late.bin", &content);
    let late = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    // Locks lapse after 3 s here and the push never refreshes its own: held after its first
    // pack for longer than that, a gc takes its lock as a dead dv's and removes the pack no
    // version names yet.
    let release = env.base().join("release");
    let release_var = release.display().to_string();
    let push = env.spawn_env(
        &[
            ("DV_TEST_LOCK_STALE_SECS", "3"),
            ("DV_TEST_LOCK_REFRESH_SECS", "600"),
            ("DV_FAILPOINT", "push.pack-sent=wait"),
            ("DV_FAILPOINT_RELEASE", &release_var),
        ],
        &["push"],
    );
    wait_for_lock(&remote);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let gc = env.dv_env(
        &[("DV_TEST_LOCK_STALE_SECS", "3")],
        &[
            "gc", "--remote", "origin", "--prune", "--grace", "0s", "--json",
        ],
    );
    assert_eq!(gc.code, 0, "{gc}");
    assert!(number(&gc.json(), "removed_objects") >= 1, "{gc}");
    std::fs::write(&release, "").unwrap();
    let out = push.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not be refreshed for ")
            && stderr.contains("stopped before writing anything that relies on it"),
        "{stderr}"
    );
    // The remote never named data it did not hold; the next push sends it all.
    assert!(!remote.files.join("versions").join(&late).exists());
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &[]);
    ok_in(&env, "copy", &["checkout", &late, "--to", "../out"]);
    assert!(std::fs::read(env.base().join("out/late.bin")).unwrap() == content);
}
both!(a_push_whose_lock_lapsed_writes_no_version);

fn offline_run_and_rerun_never_fetch_their_inputs(backend: &Backend) {
    let (env, remote) = workspace(backend);
    let raw = noise("raw", 300_000);
    env.write("data/raw/a.bin", &raw);
    let input = env.id(&["commit", "data/raw", "-d", "d", "-s", "raw", "-q"]);
    let made = env.ok(&[
        "run",
        "-d",
        "d",
        "-s",
        "cleaned",
        "--from",
        &input,
        "--out",
        "data/cleaned",
        "--json",
        "--",
        "sh",
        "-c",
        "cp data/raw/a.bin \"$DV_OUTPUT/\"",
    ]);
    let made: Value = serde_json::from_str(&made).unwrap();
    let run = made["id"].as_str().unwrap().to_string();
    env.ok(&["push"]);
    clone(&env, &remote, "copy", &["--no-data"]);
    let copy = env.base().join("copy");
    let refused = |out: Output, of: &str| {
        assert_eq!(out.code, 1, "{out}");
        assert!(
            out.stderr.contains(&format!(
                "error: The data of version {of} is not in this workspace (1 object missing)\nhint: --offline was given."
            )),
            "{out}"
        );
    };
    refused(
        env.dv_in(
            &copy,
            &[
                "--offline",
                "run",
                "-d",
                "e",
                "-s",
                "cleaned",
                "--from",
                &input,
                "--out",
                "data/again",
                "--",
                "sh",
                "-c",
                "cp data/raw/a.bin \"$DV_OUTPUT/\"",
            ],
        ),
        &input,
    );
    refused(env.dv_in(&copy, &["--offline", "rerun", &run]), &run);
    let store = dv::store::Store::at(copy.join(".dv/objects"));
    assert!(
        !store.has(dv::store::Kind::Blob, &blob_id(&raw)),
        "nothing was fetched"
    );
    assert!(!copy.join("data").exists(), "nothing was placed");

    // Without --offline the same rerun fetches what it needs, says so, and reproduces the
    // version.
    let out = env.dv_in(&copy, &["rerun", &run]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("reproduced: identical"), "{out}");
    assert!(out.stderr.contains("Fetched "), "{out}");
}
both!(offline_run_and_rerun_never_fetch_their_inputs);
