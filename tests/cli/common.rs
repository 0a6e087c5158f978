//! A hermetic environment for running the real `dv` binary: a temporary directory holding a
//! workspace, an empty environment, and a clock that advances one second per command so
//! version ids are the same on every run.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestEnv {
    temp: tempfile::TempDir,
    commands: AtomicU32,
    /// Variables every dv run gets on top of the hermetic ones (a remote's credentials).
    vars: Vec<(String, String)>,
}

/// What one run of dv printed, and how it exited.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.stdout)?;
        if !self.stderr.is_empty() {
            write!(f, "------- stderr -------\n{}", self.stderr)?;
        }
        if self.code != 0 {
            writeln!(f, "[exit status: {}]", self.code)?;
        }
        Ok(())
    }
}

impl Output {
    /// Parses stdout as exactly one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"))
    }
}

impl TestEnv {
    /// A new environment with an initialised workspace at `root()`.
    pub fn new() -> TestEnv {
        let env = TestEnv::bare();
        env.ok(&["init"]);
        env
    }

    /// A new environment without a workspace.
    pub fn bare() -> TestEnv {
        let temp = tempfile::Builder::new()
            .prefix("dv-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir(temp.path().join("ws")).expect("ws dir");
        std::fs::create_dir(temp.path().join("home")).expect("home dir");
        TestEnv {
            temp,
            commands: AtomicU32::new(0),
            vars: Vec::new(),
        }
    }

    /// The same environment, giving every dv run these variables too.
    pub fn with_vars(mut self, vars: &[(String, String)]) -> TestEnv {
        self.vars.extend_from_slice(vars);
        self
    }

    /// The workspace directory (commands run here by default).
    pub fn root(&self) -> PathBuf {
        self.temp.path().join("ws")
    }

    /// The temporary directory holding everything.
    pub fn base(&self) -> &Path {
        self.temp.path()
    }

    /// Runs dv in the workspace.
    pub fn dv(&self, args: &[&str]) -> Output {
        self.dv_in(&self.root(), args)
    }

    /// Runs dv in the workspace with extra environment variables.
    pub fn dv_env(&self, vars: &[(&str, &str)], args: &[&str]) -> Output {
        self.run_prepared(
            Command::new(env!("CARGO_BIN_EXE_dv")),
            &self.root(),
            args,
            vars,
        )
    }

    /// Runs dv in `dir` with extra environment variables.
    pub fn dv_env_in(&self, dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
        self.run_prepared(Command::new(env!("CARGO_BIN_EXE_dv")), dir, args, vars)
    }

    /// Runs dv in `dir`.
    pub fn dv_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.run(Command::new(env!("CARGO_BIN_EXE_dv")), dir, args)
    }

    /// Runs dv in the workspace without the power to bypass file permissions, even as root
    /// (CI runs as root, where a mode-000 file would otherwise still be readable).
    pub fn dv_unprivileged(&self, args: &[&str]) -> Output {
        use std::os::unix::fs::MetadataExt;
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let command = if is_root {
            let mut command = Command::new("setpriv");
            command.args([
                "--bounding-set=-dac_override,-dac_read_search",
                env!("CARGO_BIN_EXE_dv"),
            ]);
            command
        } else {
            Command::new(env!("CARGO_BIN_EXE_dv"))
        };
        self.run(command, &self.root(), args)
    }

    /// Starts dv in the workspace without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_env(&[], args)
    }

    /// Runs dv in the workspace and fails the test (instead of hanging it) when dv does not
    /// finish in 20 s.
    pub fn finishes(&self, args: &[&str]) -> Output {
        self.finishes_in(&self.root(), args)
    }

    /// Runs dv in `dir`, failing the test when it does not finish in 20 s. Its output is read
    /// as it comes, so a long one cannot stall it on a full pipe.
    pub fn finishes_in(&self, dir: &Path, args: &[&str]) -> Output {
        let child = self.spawn_in(dir, &[], args);
        let pid = child.id();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(child.wait_with_output());
        });
        let out = match receive.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("dv {args:?} did not finish within 20 s");
            }
        };
        Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr)
                .replace(&self.base().display().to_string(), "$TEST_ENV"),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Starts dv in the workspace with extra environment variables, without waiting for it.
    pub fn spawn_env(&self, vars: &[(&str, &str)], args: &[&str]) -> std::process::Child {
        self.spawn_in(&self.root(), vars, args)
    }

    fn spawn_in(&self, dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> std::process::Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dv"));
        self.prepare(&mut command, dir, args);
        command.envs(vars.iter().copied());
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dv starts")
    }

    fn run(&self, command: Command, dir: &Path, args: &[&str]) -> Output {
        self.run_prepared(command, dir, args, &[])
    }

    fn run_prepared(
        &self,
        mut command: Command,
        dir: &Path,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Output {
        self.prepare(&mut command, dir, args);
        command.envs(vars.iter().copied());
        let output = command.output().expect("dv runs");
        let clean = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes).replace(&self.base().display().to_string(), "$TEST_ENV")
        };
        Output {
            stdout: clean(&output.stdout),
            stderr: clean(&output.stderr),
            code: output.status.code().unwrap_or(-1),
        }
    }

    fn prepare(&self, command: &mut Command, dir: &Path, args: &[&str]) {
        let n = self.commands.fetch_add(1, Ordering::Relaxed);
        let timestamp = format!("2026-01-02T03:{:02}:{:02}Z", 4 + n / 60, n % 60);
        command
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", self.base().join("home"))
            .env("TMPDIR", self.base())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("DV_TIMESTAMP", timestamp)
            .env("DV_AUTHOR", "tester")
            .env("DV_HOST", "testhost")
            .env("DV_LOCK_TIMEOUT_MS", "20000")
            .envs(self.vars.iter().map(|(k, v)| (k, v)));
    }

    /// Runs dv in the workspace and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.dv(args);
        assert_eq!(out.code, 0, "dv {args:?} failed:\n{out}");
        out.stdout
    }

    /// Runs dv in the workspace, requires success, and returns the trimmed stdout (an id).
    pub fn id(&self, args: &[&str]) -> String {
        self.ok(args).trim().to_string()
    }

    /// Writes a file below the workspace, creating directories.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Reads a file below the workspace.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root().join(rel)).unwrap()
    }

    /// Makes a file executable.
    pub fn chmod_x(&self, rel: &str) {
        let path = self.root().join(rel);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The object store of the workspace, opened through the library.
    pub fn store(&self) -> dv::store::Store {
        dv::store::Store::at(self.root().join(".dv/objects"))
    }

    /// The stored profile of the table at `path` in `version` (an entry of its profile tree).
    pub fn table_profile(&self, version: &str, path: &str) -> dv::object::tree::FileEntry {
        let shown = self.dv(&["show", version, "--json"]).json();
        let tables: dv::TreeId = shown["profile_tables"].as_str().unwrap().parse().unwrap();
        dv::object::tree::flatten(&self.store(), &tables)
            .unwrap()
            .into_iter()
            .find(|file| file.path == path.as_bytes())
            .unwrap()
    }

    /// Flips one bit of the byte `from_end` bytes before the end of a stored object, wherever
    /// it lives (its own file or a pack); returns the file that was changed.
    pub fn damage_object(&self, kind: dv::store::Kind, id: &dv::Hash, from_end: u64) -> PathBuf {
        let (path, end) = match self.store().locate(kind, id).expect("object is stored") {
            dv::store::Location::Loose(path) => {
                let len = std::fs::metadata(&path).unwrap().len();
                (path, len)
            }
            dv::store::Location::Packed {
                pack,
                offset,
                length,
            } => (pack, offset + length),
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[(end - from_end) as usize] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The small penguins dataset: three files in two directories.
    pub fn penguins(&self) {
        self.write(
            "data/penguins.csv",
            "species,island,bill_mm\nAdelie,Torgersen,39.1\nGentoo,Biscoe,46.1\n",
        );
        self.write("data/meta/README.md", "# penguins\n");
        self.write(
            "data/meta/columns.json",
            "[\"species\",\"island\",\"bill_mm\"]\n",
        );
    }
}

/// Incompressible bytes, the same on every run.
pub fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// A tool a test needs, named by the environment variable `var` (`tests/run.sh` sets it);
/// `None`, with `skipped` printed, when it is not set — unless `require` is set too, which
/// `tests/run.sh` does wherever it could provide the tool.
pub fn optional_tool(var: &str, require: &str, skipped: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(tool) => Some(tool),
        Err(_) => {
            assert!(
                std::env::var(require).is_err(),
                "{require} is set but {var} is not"
            );
            eprintln!("skipping {skipped}: {var} is not set (`bash tests/run.sh` provides it)");
            None
        }
    }
}

/// The Python with openlineage-python, prov and pyarrow (`tests/run.sh` makes it).
pub fn checker_python() -> Option<String> {
    optional_tool(
        "DV_TEST_PYTHON",
        "DV_TEST_REQUIRE_PYTHON",
        "a check by openlineage-python/prov/pyarrow",
    )
}

/// Runs a checker script from tests/py with `args` on `input`; returns its stdout.
pub fn check(python: &str, script: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let mut child = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
