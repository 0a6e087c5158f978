//! `dv run`: provenance captured by running the transform rather than typed after it.
//!
//! The inputs are put in place and verified, the command runs (no shell) with its parameters,
//! inputs and output in its environment while its output is shown and captured, the inputs are
//! verified again, and the output directory is committed with a run record: the exact command,
//! where it ran, how long, on what system, under which interpreter (for Python, every installed
//! distribution), the code files it named and its logs. A run that fails commits nothing and is
//! kept in `.dv/runs/` (see [`history`]). [`rerun`] runs a recorded command again.

pub mod environment;
mod guard;
pub mod history;
pub mod rerun;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Map, Value};

use crate::checkout::{CheckoutRequest, checkout};
use crate::commit::{CommitOutcome, CommitRequest};
use crate::error::{Error, Result};
use crate::id::{BlobId, VersionId};
use crate::object::{
    CodeBase, Interpreter, RunInput, RunRecord, StoredFile, Version, WrittenElsewhere,
};
use crate::progress::Progress;
use crate::workspace::Workspace;
use history::{Outcome, RunEntry};

/// Everything `dv run` is told.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    pub dataset: String,
    pub stage: String,
    /// Input revisions, each with the directory to place it in (by default where the workspace
    /// tracks it, else where it was committed from).
    pub inputs: Vec<(String, Option<PathBuf>)>,
    pub params: Map<String, Value>,
    /// Code files beyond those the command line names.
    pub code: Vec<PathBuf>,
    pub message: Option<String>,
    pub out: PathBuf,
    pub argv: Vec<String>,
    /// Environment variables whose values are recorded (and set again by rerun).
    pub record_env: Vec<String>,
    /// Commit the output even if it fails the stage rules (they are recorded).
    pub allow_failing: bool,
    /// Commit even when the command wrote to the workspace outside `--out` (recorded).
    pub allow_writes_elsewhere: bool,
    /// Whether inputs whose data is not local may be fetched from the default remote.
    pub fetch: crate::available::Fetch,
}

/// What a phase of a run took, for the progress lines.
pub trait RunObserver {
    fn phase(&self, _name: &str, _took: std::time::Duration) {}

    /// Where the command's output is shown as it runs (it is captured either way); nowhere
    /// unless the caller says: the library never writes to the process's own streams.
    fn shown(&self) -> Box<dyn Write + Send> {
        Box::new(std::io::sink())
    }

    /// What was fetched from the default remote to run it (inputs, recorded code).
    fn fetched(&self, _report: &crate::remote::TransferReport) {}
}

/// Where a command's output is shown as it runs: called once per stream.
pub type Shown<'a> = &'a dyn Fn() -> Box<dyn Write + Send>;

/// The phases are not reported.
pub struct Silent;
impl RunObserver for Silent {}

/// A finished, committed run.
pub struct RunOutcome {
    pub run: String,
    pub commit: CommitOutcome,
}

/// An input put in place for a command.
pub struct Placed {
    pub name: String,
    pub id: VersionId,
    pub dir: PathBuf,
    pub rel: String,
}

/// A command that ran, with its captured output.
pub struct Execution {
    pub status: i32,
    pub started_at: String,
    pub ended_at: String,
    pub duration_ms: u64,
    pub stdout: tempfile::NamedTempFile,
    pub stderr: tempfile::NamedTempFile,
}

/// Runs the command and commits its output (see the module documentation).
pub fn run(
    ws: &Workspace,
    request: &RunRequest,
    progress: &dyn Progress,
    observer: &dyn RunObserver,
) -> Result<RunOutcome> {
    crate::names::check("dataset", &request.dataset)?;
    ws.check_stage(&request.stage)?;
    if request.argv.is_empty() {
        return Err(setup("no command was given after --"));
    }
    // A run whose inputs come from the wrong stages is refused before anything runs (rules
    // about the output are checked when it is committed).
    let rules = crate::rules::Rules::load(ws.root(), ws.stages())?;
    if !request.allow_failing {
        let ids = request
            .inputs
            .iter()
            .map(|(rev, _)| crate::revision::resolve(ws, rev))
            .collect::<Result<Vec<_>>>()?;
        let failures = rules.check_inputs(&request.stage, &crate::commit::input_stages(ws, &ids)?);
        if !failures.is_empty() {
            return Err(Error::RulesFailed {
                dataset: request.dataset.clone(),
                stage: request.stage.clone(),
                failures,
            });
        }
    }
    let clock = Instant::now();
    let inputs = place_inputs(ws, &request.inputs, request.fetch, progress, observer)?;
    let out = prepare_output(ws, &request.out, &inputs, progress)?;
    observer.phase("materializing inputs", clock.elapsed());

    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let workdir = ws.relative(&cwd).map(|(_, rel)| rel).map_err(|_| {
        setup("run it from inside the workspace (the directory it runs in is recorded)")
    })?;
    let excluded: Vec<PathBuf> = inputs
        .iter()
        .map(|i| i.dir.as_path())
        .chain([out.as_path()])
        .filter_map(|dir| dir.canonicalize().ok())
        .collect();
    let mut code_paths = request.code.clone();
    code_paths.extend(named_code_files(ws, &cwd, &request.argv, &excluded));
    code_paths.dedup();
    let env = command_env(&request.params, &inputs, &out);
    // The code as it is when the command starts is what ran; the workspace around the output
    // is listed so that writes elsewhere are seen.
    let out_rel = ws.relative(&out)?.1;
    let exempt: Vec<&str> = inputs
        .iter()
        .map(|i| i.rel.as_str())
        .chain([out_rel.as_str()])
        .collect();
    let before = guard::Before::take(ws, &code_paths, &exempt)?;
    let code_revision = crate::commit::code_revision_of(&code_paths);

    let clock = Instant::now();
    let (probed, execution) = probe_while(&request.argv[0], &cwd, || {
        execute(&request.argv, &cwd, &env, false, &|| observer.shown())
    });
    let execution = execution?;
    observer.phase("running", clock.elapsed());
    let run_id = history::new_id(&execution.started_at, &request.argv);
    let mut entry = RunEntry {
        id: run_id.clone(),
        outcome: Outcome::Failed,
        dataset: request.dataset.clone(),
        stage: request.stage.clone(),
        argv: request.argv.clone(),
        workdir: workdir.clone(),
        params: request.params.clone(),
        inputs: run_inputs(&inputs),
        exit_status: execution.status,
        started_at: execution.started_at.clone(),
        duration_ms: execution.duration_ms,
        version: None,
        modified_inputs: Vec::new(),
        changed_code: Vec::new(),
        written_elsewhere: Vec::new(),
    };
    let logs = (execution.stdout.path(), execution.stderr.path());
    if execution.status != 0 {
        history::record(ws, &entry, Some(logs))?;
        return Err(Error::RunFailed {
            status: execution.status,
            run: run_id,
        });
    }
    let modified = modified_inputs(ws, &inputs, progress)?;
    if !modified.is_empty() {
        entry.outcome = Outcome::ModifiedInputs;
        entry.modified_inputs = modified.clone();
        history::record(ws, &entry, Some(logs))?;
        return Err(Error::InputsModified {
            files: modified,
            run: run_id,
        });
    }

    let changed = before.changed_code();
    if !changed.is_empty() {
        entry.outcome = Outcome::CodeChanged;
        entry.changed_code = guard::named(&changed);
        history::record(ws, &entry, Some(logs))?;
        return Err(Error::CodeChanged {
            files: changed,
            run: run_id,
        });
    }
    let elsewhere = before.writes_elsewhere(ws)?;
    if !elsewhere.is_empty() && !request.allow_writes_elsewhere {
        entry.outcome = Outcome::WroteElsewhere;
        entry.written_elsewhere = guard::named(&elsewhere);
        history::record(ws, &entry, Some(logs))?;
        return Err(Error::WroteElsewhere {
            files: elsewhere,
            run: run_id,
        });
    }

    let clock = Instant::now();
    let (stdout, stderr, packages) = store_logs(ws, &execution, probed.as_ref())?;
    let code = before.code();
    let workspace_in_repository = code
        .iter()
        .any(|file| file.base == CodeBase::Repository)
        .then(|| workspace_in_repository(ws))
        .flatten();
    let record = RunRecord {
        argv: request.argv.clone(),
        workdir,
        inputs: entry.inputs.clone(),
        workspace_in_repository,
        exit_status: execution.status,
        started_at: execution.started_at.clone(),
        ended_at: execution.ended_at.clone(),
        duration_ms: execution.duration_ms,
        os: environment::os(),
        interpreter: probed.map(|p| Interpreter {
            program: p.program,
            version: p.version,
            packages,
        }),
        env: recorded_env(&request.record_env),
        stdout,
        stderr,
        written_elsewhere: (!elsewhere.is_empty()).then(|| WrittenElsewhere {
            paths: elsewhere
                .iter()
                .take(guard::MAX_NAMED_PATHS)
                .cloned()
                .collect(),
            total: elsewhere.len() as u64,
        }),
    };
    let commit = crate::commit::commit(
        ws,
        &CommitRequest {
            path: out,
            dataset: request.dataset.clone(),
            stage: request.stage.clone(),
            inputs: inputs.iter().map(|i| i.id.to_hex()).collect(),
            transform: Some(crate::provenance::shell_words(&request.argv)),
            stored_code: code,
            code_revision,
            params: request.params.clone(),
            message: request.message.clone(),
            allow_failing: request.allow_failing,
            run: Some(record),
            ..CommitRequest::default()
        },
        progress,
    )?;
    observer.phase("committing", clock.elapsed());
    entry.outcome = if commit.created {
        Outcome::Committed
    } else {
        Outcome::Unchanged
    };
    entry.version = Some(commit.id);
    history::record(ws, &entry, None)?;
    Ok(RunOutcome {
        run: run_id,
        commit,
    })
}

/// Asks the interpreter what it is while `work` runs (the question costs a Python start-up).
fn probe_while<T>(
    program: &str,
    cwd: &Path,
    work: impl FnOnce() -> T,
) -> (Option<environment::Probed>, T) {
    std::thread::scope(|scope| {
        let probe = scope.spawn(|| environment::probe(program, cwd));
        let done = work();
        (probe.join().expect("probing does not panic"), done)
    })
}

fn setup(message: impl Into<String>) -> Error {
    Error::RunSetup {
        message: message.into(),
    }
}

/// Puts every input in place (writing only what differs from the version) and names it.
fn place_inputs(
    ws: &Workspace,
    inputs: &[(String, Option<PathBuf>)],
    fetch: crate::available::Fetch,
    progress: &dyn Progress,
    observer: &dyn RunObserver,
) -> Result<Vec<Placed>> {
    let mut placed: Vec<Placed> = Vec::new();
    let tracked = crate::worktree::load(ws)?;
    for (rev, path) in inputs {
        let id = crate::revision::resolve(ws, rev)?;
        crate::lifecycle::ensure_usable(ws, &id)?;
        let version = load(ws, &id)?;
        let to = match path {
            Some(path) => Some(path.clone()),
            // The directory already tracking exactly this version, if one does.
            None => tracked
                .iter()
                .find(|(_, t)| t.version == id)
                .map(|(rel, _)| ws.absolute(rel)),
        };
        let need = crate::available::Need::Data;
        if let Some(report) = crate::available::ensure_here(ws, &[id], need, fetch, progress)? {
            observer.fetched(&report);
        }
        let report = checkout(
            ws,
            &CheckoutRequest {
                id,
                to,
                force: false,
            },
            progress,
        )?;
        let dir = report.target;
        let rel = ws.relative(&dir).map(|(_, rel)| rel).map_err(|_| {
            setup(format!(
                "input {rev} is placed at {}, outside the workspace; give a path inside it with --from {rev}=PATH",
                dir.display()
            ))
        })?;
        let mut name = version.dataset.clone();
        if placed.iter().any(|p| p.name == name) {
            name = format!("{}@{}", version.dataset, version.stage);
        }
        if placed.iter().any(|p| p.name == name) {
            name = format!("{name}~{}", id.short(8));
        }
        placed.push(Placed { name, id, dir, rel });
    }
    Ok(placed)
}

fn load(ws: &Workspace, id: &VersionId) -> Result<Version> {
    ws.version(id)
}

/// Makes the output directory empty, refusing to discard anything not stored: a directory that
/// holds exactly the version it tracks is emptied (its files are in the store).
fn prepare_output(
    ws: &Workspace,
    out: &Path,
    inputs: &[Placed],
    progress: &dyn Progress,
) -> Result<PathBuf> {
    let (abs, rel) = ws.relative(out)?;
    if rel.is_empty() {
        return Err(setup("--out cannot be the workspace root"));
    }
    for input in inputs {
        if abs.starts_with(&input.dir) || input.dir.starts_with(&abs) {
            return Err(setup(format!(
                "--out {} overlaps the input {} at {}",
                out.display(),
                input.name,
                input.dir.display()
            )));
        }
    }
    match std::fs::read_dir(&abs) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::fs_util::create_dirs(&abs)?;
        }
        Err(e) => return Err(Error::io(&abs, e)),
        Ok(mut entries) => {
            if entries.next().is_some() {
                let tracked = crate::worktree::load(ws)?;
                let stored = match tracked.get(&rel) {
                    Some(t) => crate::verify::verify(ws, &t.version, &abs, true, progress)?.ok(),
                    None => false,
                };
                if !stored {
                    return Err(Error::OutputNotEmpty { path: abs });
                }
                std::fs::remove_dir_all(&abs).map_err(|e| Error::io(&abs, e))?;
                crate::fs_util::create_dirs(&abs)?;
            }
        }
    }
    Ok(abs)
}

/// Every argument naming an existing file inside the workspace or its git repository (not
/// inside the data), and the program itself when it is such a file: the code that ran.
fn named_code_files(ws: &Workspace, cwd: &Path, argv: &[String], data: &[PathBuf]) -> Vec<PathBuf> {
    let repository = crate::provenance::repository_root(ws.root());
    let mut files = Vec::new();
    for arg in argv {
        let path = cwd.join(arg);
        let Ok(canonical) = path.canonicalize() else {
            continue;
        };
        if !canonical.is_file() || data.iter().any(|dir| canonical.starts_with(dir)) {
            continue;
        }
        let inside = canonical.starts_with(ws.root())
            || repository
                .as_ref()
                .is_some_and(|root| canonical.starts_with(root));
        if inside && !canonical.starts_with(ws.dv_dir()) {
            files.push(canonical);
        }
    }
    files
}

/// Where the workspace root lies in its git repository (`""` at the root).
fn workspace_in_repository(ws: &Workspace) -> Option<String> {
    let root = crate::provenance::repository_root(ws.root())?;
    let rel = ws.root().canonicalize().ok()?;
    let rel = rel.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn run_inputs(inputs: &[Placed]) -> Vec<RunInput> {
    inputs
        .iter()
        .map(|i| RunInput {
            name: i.name.clone(),
            id: i.id,
            path: i.rel.clone(),
        })
        .collect()
}

/// `DV_PARAMS`, `DV_PARAM_<KEY>`, `DV_INPUTS`, `DV_OUTPUT`.
pub fn command_env(
    params: &Map<String, Value>,
    inputs: &[Placed],
    out: &Path,
) -> Vec<(String, String)> {
    let mut env = vec![(
        "DV_PARAMS".to_string(),
        Value::Object(params.clone()).to_string(),
    )];
    for (key, value) in params {
        let name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        env.push((format!("DV_PARAM_{name}"), text));
    }
    let described: Map<String, Value> = inputs
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                serde_json::json!({"path": i.dir.display().to_string(), "id": i.id.to_hex()}),
            )
        })
        .collect();
    env.push(("DV_INPUTS".into(), Value::Object(described).to_string()));
    env.push(("DV_OUTPUT".into(), out.display().to_string()));
    env
}

fn recorded_env(names: &[String]) -> BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
        .collect()
}

/// Runs `argv` in `cwd` (no shell), both its streams shown on dv's stderr (dv's stdout carries
/// only dv's own answer, an id or JSON) and captured into files.
pub fn execute(
    argv: &[String],
    cwd: &Path,
    env: &[(String, String)],
    recorded: bool,
    shown: Shown<'_>,
) -> Result<Execution> {
    let capture = || tempfile::NamedTempFile::new().map_err(|e| Error::io("temporary file", e));
    let (stdout, stderr) = (capture()?, capture()?);
    let started_at = crate::provenance::timestamp()?;
    let clock = Instant::now();
    let mut child = crate::process::spawn(
        Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::CommandNotFound {
            program: argv[0].clone(),
            recorded,
        },
        _ => Error::io(&argv[0], e),
    })?;
    let child_out = child.stdout.take().expect("stdout is piped");
    let child_err = child.stderr.take().expect("stderr is piped");
    let (out_file, err_file) = (
        stdout.reopen().map_err(|e| Error::io(stdout.path(), e))?,
        stderr.reopen().map_err(|e| Error::io(stderr.path(), e))?,
    );
    let (show_out, show_err) = (shown(), shown());
    let copied = std::thread::scope(|scope| {
        let out = scope.spawn(move || tee(child_out, out_file, show_out));
        let err = scope.spawn(move || tee(child_err, err_file, show_err));
        (out.join(), err.join())
    });
    for result in [copied.0, copied.1] {
        result
            .expect("copying output does not panic")
            .map_err(|e| Error::io("the command's output", e))?;
    }
    let status = child.wait().map_err(|e| Error::io(&argv[0], e))?;
    let duration_ms = clock.elapsed().as_millis() as u64;
    let ended_at = crate::provenance::timestamp()?;
    use std::os::unix::process::ExitStatusExt;
    let status = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Execution {
        status,
        started_at,
        ended_at,
        duration_ms,
        stdout,
        stderr,
    })
}

/// Copies a stream to a file and to a terminal stream; a closed terminal does not stop the
/// capture.
fn tee(mut from: impl Read, mut file: std::fs::File, mut shown: impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut showing = true;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        file.write_all(&buf[..n])?;
        if showing
            && shown
                .write_all(&buf[..n])
                .and_then(|_| shown.flush())
                .is_err()
        {
            showing = false;
        }
    }
    file.flush()
}

/// The input files the command changed (an input directory that no longer matches).
fn modified_inputs(
    ws: &Workspace,
    inputs: &[Placed],
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let mut modified = Vec::new();
    for input in inputs {
        let verification = crate::verify::verify(ws, &input.id, &input.dir, true, progress)?;
        for change in &verification.changes {
            let path = String::from_utf8_lossy(&change.path);
            modified.push(format!("{}/{path}", input.rel));
        }
    }
    Ok(modified)
}

/// Stores the captured logs (and a Python distributions listing) as objects.
fn store_logs(
    ws: &Workspace,
    execution: &Execution,
    probed: Option<&environment::Probed>,
) -> Result<(StoredFile, StoredFile, Option<StoredFile>)> {
    let batch = ws.store.batch();
    let put = |path: &Path| -> Result<StoredFile> {
        let stored = batch.put_file(path, None)?;
        Ok(StoredFile {
            blob: BlobId(stored.id),
            size: stored.size,
        })
    };
    let stdout = put(execution.stdout.path())?;
    let stderr = put(execution.stderr.path())?;
    let packages = match probed.and_then(|p| p.packages.as_ref()) {
        Some(listing) => {
            let mut file =
                tempfile::NamedTempFile::new().map_err(|e| Error::io("temporary file", e))?;
            file.write_all(listing.as_bytes())
                .map_err(|e| Error::io(file.path(), e))?;
            Some(put(file.path())?)
        }
        None => None,
    };
    batch.finish()?;
    Ok((stdout, stderr, packages))
}
