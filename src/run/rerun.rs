//! `dv rerun`: running a recorded command again, in a scratch directory laid out as the
//! workspace was, on the recorded inputs, with the recorded code (its stored contents, not
//! today's files), parameters and environment variables; then comparing what it wrote with the
//! version. `--downstream` replays every recorded run below a version with a new version in its
//! place and commits the results: the pipeline, re-run from what was recorded.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{Execution, Placed, environment, execute, setup};
use crate::available::{Fetch, Need};
use crate::checkout::{CheckoutRequest, checkout, write_code_files};
use crate::commit::CommitRequest;
use crate::diff::{Against, Comparison, compare};
use crate::error::{Error, Result};
use crate::id::VersionId;
use crate::object::{CodeBase, Interpreter, RunInput, RunRecord, Version};
use crate::progress::Progress;
use crate::workspace::Workspace;

/// Where a rerun happened: a directory the user keeps, or one removed when dropped.
pub enum Scratch {
    Kept(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Scratch {
    pub fn path(&self) -> &Path {
        match self {
            Scratch::Kept(path) => path,
            Scratch::Temporary(dir) => dir.path(),
        }
    }
}

/// What a rerun found.
pub struct RerunReport {
    pub id: VersionId,
    pub exit_status: i32,
    /// The version against what the command wrote this time.
    pub comparison: Option<Comparison>,
    /// What differed in the environment: interpreter, packages, system.
    pub environment: Vec<String>,
    /// The directory the command wrote (inside the scratch directory).
    pub output: PathBuf,
    pub scratch: Scratch,
}

impl RerunReport {
    pub fn identical(&self) -> bool {
        self.exit_status == 0 && self.comparison.as_ref().is_some_and(|c| c.files.is_empty())
    }
}

/// A recorded command, run again.
struct Replayed {
    execution: Execution,
    output: PathBuf,
    inputs: Vec<Placed>,
    environment: Vec<String>,
    probed: Option<environment::Probed>,
}

/// Runs version `id`'s recorded command again and compares its output with the version.
pub fn rerun(
    ws: &Workspace,
    id: &VersionId,
    keep: Option<&Path>,
    fetch: Fetch,
    progress: &dyn Progress,
    observer: &dyn super::RunObserver,
) -> Result<RerunReport> {
    let version = super::load(ws, id)?;
    let scratch = match keep {
        Some(dir) => {
            let dir = crate::fs_util::absolute(dir)?;
            if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
                return Err(setup(format!(
                    "--keep {} is not empty; give a new or empty directory",
                    dir.display()
                )));
            }
            crate::fs_util::create_dirs(&dir)?;
            Scratch::Kept(dir)
        }
        None => Scratch::Temporary(
            tempfile::Builder::new()
                .prefix("dv-rerun.")
                .tempdir()
                .map_err(|e| Error::io("temporary directory", e))?,
        ),
    };
    if let Some(report) = crate::available::ensure_here(ws, &[*id], Need::Trees, fetch, progress)? {
        observer.fetched(&report);
    }
    let replayed = replay_in(
        ws,
        &version,
        &version.inputs,
        scratch.path(),
        fetch,
        progress,
        observer,
    )?;
    let comparison = match replayed.execution.status {
        0 => Some(compare(
            ws,
            id,
            &Against::Directory(replayed.output.clone()),
            &[],
            progress,
        )?),
        _ => None,
    };
    Ok(RerunReport {
        id: *id,
        exit_status: replayed.execution.status,
        comparison,
        environment: replayed.environment,
        output: replayed.output,
        scratch,
    })
}

/// Lays out `root` as the workspace was, runs `version`'s command there with `inputs` in
/// place of its recorded ones, and returns what it did.
fn replay_in(
    ws: &Workspace,
    version: &Version,
    inputs: &[VersionId],
    root: &Path,
    fetch: Fetch,
    progress: &dyn Progress,
    observer: &dyn super::RunObserver,
) -> Result<Replayed> {
    let id = version.id();
    let Some(run) = &version.run else {
        return Err(Error::NoRunRecord {
            id,
            dataset: version.dataset.clone(),
            stage: version.stage.clone(),
        });
    };
    // The workspace root inside the scratch directory, and the code's repository root.
    let (workspace, repository) = match &run.workspace_in_repository {
        Some(rel) => (join(root, rel), root.to_path_buf()),
        None => (root.join("workspace"), root.join("repository")),
    };
    for (ids, need) in [(inputs, Need::Data), (&[id][..], Need::Code)] {
        if let Some(report) = crate::available::ensure_here(ws, ids, need, fetch, progress)? {
            observer.fetched(&report);
        }
    }
    let mut placed = Vec::new();
    for (recorded, id) in run.inputs.iter().zip(inputs) {
        crate::lifecycle::ensure_usable(ws, id)?;
        let dir = join(&workspace, &recorded.path);
        checkout(
            ws,
            &CheckoutRequest {
                id: *id,
                to: Some(dir.clone()),
                force: false,
            },
            progress,
        )?;
        placed.push(Placed {
            name: recorded.name.clone(),
            id: *id,
            dir,
            rel: recorded.path.clone(),
        });
    }
    let by_base = |base: CodeBase| -> Vec<crate::object::CodeFile> {
        version
            .code
            .iter()
            .filter(|code| (code.base == CodeBase::Repository) == (base == CodeBase::Repository))
            .cloned()
            .collect()
    };
    write_code_files(ws, &by_base(CodeBase::Workspace), &workspace, true)?;
    let in_repository = by_base(CodeBase::Repository);
    if !in_repository.is_empty() {
        write_code_files(ws, &in_repository, &repository, true)?;
    }
    let output = join(&workspace, &version.path);
    crate::fs_util::create_dirs(&output)?;
    let cwd = join(&workspace, &run.workdir);
    crate::fs_util::create_dirs(&cwd)?;
    // A program run by its path (`./clean.sh`) is a recorded code file: it must be executable.
    // (Only inside the scratch directory: the argv came from a version, maybe from elsewhere.)
    let program = cwd.join(&run.argv[0]).canonicalize();
    let scratch = root.canonicalize().map_err(|e| Error::io(root, e))?;
    if let Ok(program) = program
        && run.argv[0].contains('/')
        && program.starts_with(&scratch)
        && program.is_file()
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(&program, e))?;
    }

    let mut env = super::command_env(&version.params, &placed, &output);
    env.extend(run.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let (probed, execution) = super::probe_while(&run.argv[0], &cwd, || {
        execute(&run.argv, &cwd, &env, true, &|| observer.shown())
    });
    // A missing program is reported as such, not as a changed environment.
    let execution = execution?;
    let environment = environment_changes(ws, run, probed.as_ref())?;
    Ok(Replayed {
        execution,
        output,
        inputs: placed,
        environment,
        probed,
    })
}

fn join(base: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// What differs between the recorded environment and this one.
fn environment_changes(
    ws: &Workspace,
    run: &RunRecord,
    now: Option<&environment::Probed>,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    if run.os != environment::os() {
        changes.push(format!(
            "system: {} then, {} now",
            run.os,
            environment::os()
        ));
    }
    let Some(then) = &run.interpreter else {
        return Ok(changes);
    };
    let Some(now) = now else {
        changes.push(format!(
            "{}: {} then, did not say its version now",
            then.program, then.version
        ));
        return Ok(changes);
    };
    if then.version != now.version {
        changes.push(format!(
            "{}: {} then, {} now",
            then.program, then.version, now.version
        ));
    }
    if let (Some(recorded), Some(current)) = (then.packages, &now.packages) {
        let bytes = ws
            .store
            .get_bytes(crate::store::Kind::Blob, &recorded.blob.0)?;
        let recorded = String::from_utf8_lossy(&bytes);
        for change in environment::package_changes(&recorded, current) {
            changes.push(format!("package {change}"));
        }
    }
    Ok(changes)
}

/// The versions below `old` (made from it, directly or not), each after its inputs.
pub fn downstream(ws: &Workspace, old: &VersionId) -> Result<Vec<(VersionId, Version)>> {
    let graph = crate::lineage::lineage(ws, *old, crate::lineage::Direction::Down, None)?;
    // By creation time, which respects inputs (an input exists before what is made from
    // it), then id.
    let mut ordered: Vec<(VersionId, Version)> = graph
        .nodes
        .into_iter()
        .filter(|node| node.id != *old)
        .map(|node| (node.id, node.version))
        .collect();
    ordered.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then(a.0.cmp(&b.0)));
    Ok(ordered)
}

/// One step of a downstream replay: the version replayed and the one it made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replay {
    pub old: VersionId,
    pub dataset: String,
    pub stage: String,
    pub inputs: Vec<VersionId>,
    /// In a dry run: the inputs that are themselves replayed first (their replays, not
    /// these, will be used).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replayed_first: Vec<VersionId>,
    /// The new version (none in a dry run).
    pub new: Option<VersionId>,
}

/// Replays every recorded run below `old` with `new` in its place, committing each result
/// (or, with `dry_run`, only plans it). Stops before running anything when a version below was
/// not made by `dv run`.
pub fn replay_downstream(
    ws: &Workspace,
    old: &VersionId,
    new: &VersionId,
    dry_run: bool,
    fetch: Fetch,
    progress: &dyn Progress,
    observer: &dyn super::RunObserver,
) -> Result<Vec<Replay>> {
    // NEW may itself be made from OLD (a new raw version committed `--from` the previous
    // one): it is the replacement, and what is made from it is already of the new line.
    let replacement: HashSet<VersionId> = downstream(ws, new)?
        .into_iter()
        .map(|(id, _)| id)
        .chain([*new])
        .collect();
    let below: Vec<(VersionId, Version)> = downstream(ws, old)?
        .into_iter()
        .filter(|(id, _)| !replacement.contains(id))
        .collect();
    let plain: Vec<String> = below
        .iter()
        .filter(|(_, v)| v.run.is_none())
        .map(|(id, v)| format!("{} ({}@{})", id.short(12), v.dataset, v.stage))
        .collect();
    if !plain.is_empty() {
        return Err(setup(format!(
            "these versions below {} were made by `dv commit`, which records no command, so the \
             replay cannot make them again: {}; nothing was run",
            old.short(12),
            plain.join(", ")
        )));
    }
    let mut replaced: HashMap<VersionId, VersionId> = HashMap::from([(*old, *new)]);
    let mut steps = Vec::new();
    for (id, version) in below {
        let inputs: Vec<VersionId> = version
            .inputs
            .iter()
            .map(|input| replaced.get(input).copied().unwrap_or(*input))
            .collect();
        let mut step = Replay {
            old: id,
            dataset: version.dataset.clone(),
            stage: version.stage.clone(),
            inputs: inputs.clone(),
            replayed_first: Vec::new(),
            new: None,
        };
        if dry_run {
            step.replayed_first = inputs
                .iter()
                .filter(|input| steps.iter().any(|s: &Replay| s.old == **input))
                .copied()
                .collect();
        } else {
            let made = replay_one(ws, &version, &inputs, fetch, progress, observer)?;
            replaced.insert(id, made);
            step.new = Some(made);
        }
        steps.push(step);
    }
    Ok(steps)
}

/// Replays one version's run with `inputs` and commits what it wrote.
fn replay_one(
    ws: &Workspace,
    version: &Version,
    inputs: &[VersionId],
    fetch: Fetch,
    progress: &dyn Progress,
    observer: &dyn super::RunObserver,
) -> Result<VersionId> {
    let scratch = tempfile::Builder::new()
        .prefix("dv-replay.")
        .tempdir()
        .map_err(|e| Error::io("temporary directory", e))?;
    let clock = std::time::Instant::now();
    let replayed = replay_in(
        ws,
        version,
        inputs,
        scratch.path(),
        fetch,
        progress,
        observer,
    )?;
    observer.phase(
        &format!("running {}@{}", version.dataset, version.stage),
        clock.elapsed(),
    );
    let run = version.run.as_ref().expect("replay_in checked the record");
    let execution = &replayed.execution;
    if execution.status != 0 {
        return Err(setup(format!(
            "replaying {} ({}@{}) failed: the command exited with status {}",
            version.id().short(12),
            version.dataset,
            version.stage,
            execution.status
        )));
    }
    let (stdout, stderr, packages) = super::store_logs(ws, execution, replayed.probed.as_ref())?;
    let record = RunRecord {
        inputs: replayed
            .inputs
            .iter()
            .map(|i| RunInput {
                name: i.name.clone(),
                id: i.id,
                path: i.rel.clone(),
            })
            .collect(),
        exit_status: 0,
        started_at: execution.started_at.clone(),
        ended_at: execution.ended_at.clone(),
        duration_ms: execution.duration_ms,
        os: environment::os(),
        interpreter: replayed.probed.map(|p| Interpreter {
            program: p.program,
            version: p.version,
            packages,
        }),
        stdout,
        stderr,
        ..run.clone()
    };
    let outcome = crate::commit::commit(
        ws,
        &CommitRequest {
            path: replayed.output.clone(),
            recorded_path: Some(version.path.clone()),
            dataset: version.dataset.clone(),
            stage: version.stage.clone(),
            inputs: inputs.iter().map(|id| id.to_hex()).collect(),
            transform: version.transform.clone(),
            stored_code: version.code.clone(),
            params: version.params.clone(),
            code_revision: version.code_revision.clone(),
            message: Some(format!("replay of {}", version.id().short(12))),
            run: Some(record),
            // A version committed failing the rules is replayed the same way.
            allow_failing: !version.failed_rules.is_empty(),
            ..CommitRequest::default()
        },
        progress,
    )?;
    Ok(outcome.id)
}
