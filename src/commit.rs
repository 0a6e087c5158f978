//! Committing: snapshot a path and record it, with its provenance, as a new version.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use std::sync::atomic::AtomicUsize;

use crate::error::{Error, Result};
use crate::id::{BlobId, TreeId, VersionId};
use crate::lock::WorkspaceLock;
use crate::object::version::VERSION_FORMAT_PLAIN;
use crate::object::{CodeBase, CodeFile, RunRecord, Version};
use crate::profile::{self, Profile};
use crate::progress::Progress;
use crate::rules::Rules;
use crate::snapshot::{Listener, Mode, snapshot_listing};
use crate::store::Kind;
use crate::table::Format;
use crate::workspace::Workspace;
use crate::worktree::{self, Tracked};
use crate::{provenance, revision};

/// Everything `dv commit` is told.
#[derive(Clone, Debug, Default)]
pub struct CommitRequest {
    pub path: PathBuf,
    pub dataset: String,
    pub stage: String,
    /// Revisions of the input versions, first one first.
    pub inputs: Vec<String>,
    pub transform: Option<String>,
    /// Code files to read and record.
    pub code: Vec<PathBuf>,
    /// Code files already stored (a replayed run's), recorded after `code`.
    pub stored_code: Vec<CodeFile>,
    pub params: Map<String, Value>,
    pub message: Option<String>,
    /// How `dv run` made the data.
    pub run: Option<RunRecord>,
    /// The code's git state when it is known (a replay's: the recorded one); otherwise it is
    /// read from the repository holding the first code file, or the current directory.
    pub code_revision: Option<crate::object::CodeRevision>,
    /// Snapshot `path` from outside the workspace (a replay's scratch directory) and record it
    /// as committed from this workspace path; no directory of the workspace tracks it.
    pub recorded_path: Option<String>,
    /// Commit even when the stage rules in `dv.toml` fail; the failures are recorded.
    pub allow_failing: bool,
}

/// What a commit did.
#[derive(Clone, Debug)]
pub struct CommitOutcome {
    pub id: VersionId,
    pub version: Version,
    /// False when an identical version (same tree and provenance) already was the dataset's
    /// newest at that stage, and it was reported instead of making a new one.
    pub created: bool,
    /// Tables read to profile them: those whose content no earlier profile of the stage (or of
    /// the version it was made from) describes. The rest cost nothing.
    pub tables_read: usize,
}

/// Snapshots `request.path` and records a version (or finds the identical existing one).
pub fn commit(
    ws: &Workspace,
    request: &CommitRequest,
    progress: &dyn Progress,
) -> Result<CommitOutcome> {
    crate::names::check("dataset", &request.dataset)?;
    ws.check_stage(&request.stage)?;
    if let Some(message) = &request.message
        && message.len() > crate::object::version::MAX_MESSAGE
    {
        return Err(Error::MessageTooLong {
            bytes: message.len(),
            max: crate::object::version::MAX_MESSAGE,
        });
    }
    ws.remove_stale_temp_files()?;
    // Rules are read first: a mistake in dv.toml stops the commit before any work.
    let rules = Rules::load(ws.root(), ws.stages())?;
    // A gc that removes objects while this commit runs bumps the epoch (see below).
    let gc_epoch = crate::gc::epoch(ws);
    let inputs = request
        .inputs
        .iter()
        .map(|rev| revision::resolve(ws, rev))
        .collect::<Result<Vec<_>>>()?;
    let (abs, rel, cache_key) = match &request.recorded_path {
        Some(recorded) => (
            crate::fs_util::absolute(&request.path)?,
            recorded.clone(),
            None,
        ),
        None => {
            let (abs, rel) = ws.relative(&request.path)?;
            (abs, rel.clone(), Some(rel))
        }
    };
    let mut code = store_code_files(ws, &request.code)?;
    code.extend(request.stored_code.iter().cloned());
    let code_revision = match &request.code_revision {
        Some(known) => Some(known.clone()),
        None => code_revision_of(&request.code),
    };
    let created_at = provenance::timestamp()?;

    let previous_versions = delta_bases(ws, request, &inputs)?;
    let source = Source {
        abs: &abs,
        cache_key: cache_key.as_deref(),
        given: &request.path,
    };
    let settings = rules
        .profiles(&request.stage)
        .then(|| rules.settings(&request.stage));
    let Snapped {
        snap,
        single_file,
        mut profile,
        known,
        tables_read,
    } = snapshot_and_profile(
        ws,
        &source,
        &previous_versions,
        settings.as_ref(),
        gc_epoch,
        progress,
    )?;
    let mut version = Version {
        format: VERSION_FORMAT_PLAIN,
        dataset: request.dataset.clone(),
        stage: request.stage.clone(),
        tree: snap.root,
        path: rel.clone(),
        single_file,
        inputs,
        transform: request.transform.clone(),
        code,
        params: request.params.clone(),
        code_revision,
        message: request.message.clone(),
        author: provenance::author(),
        host: provenance::host(),
        dv_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at,
        files: snap.files,
        bytes: snap.bytes,
        run: request.run.clone(),
        profile: None,
        failed_rules: Vec::new(),
        profile_tables: None,
    };
    if rules.has_stage(&version.stage) {
        let input_stages = input_stages(ws, &version.inputs)?;
        // The rules check every table: the reused ones are read (small files) for them.
        if let Some(made) = &mut profile {
            made.load_reused(&ws.store)?;
        }
        let failures = rules.check(
            &version,
            &input_stages,
            profile
                .as_ref()
                .map_or(&Profile::default(), |made| &made.profile),
        );
        if !failures.is_empty() && !request.allow_failing {
            return Err(Error::RulesFailed {
                dataset: version.dataset,
                stage: version.stage,
                failures,
            });
        }
        version.failed_rules = failures;
    }
    if let Some(made) = &profile {
        let (summary, tables) = made.store(&ws.store, &known)?;
        version.profile = Some(summary);
        version.profile_tables = Some(tables);
    }
    version.format = version.format_for();

    let tracked_as = cache_key.is_some().then_some(rel.as_str());
    let outcome = publish(ws, version, gc_epoch, tracked_as)?;
    Ok(CommitOutcome {
        tables_read,
        ..outcome
    })
}

/// Where a commit reads its data: the absolute path, the workspace-relative key its stat cache
/// is kept under (none for data outside the workspace), and the path as the user gave it.
struct Source<'a> {
    abs: &'a Path,
    cache_key: Option<&'a str>,
    given: &'a Path,
}

/// What [`snapshot_and_profile`] made.
struct Snapped {
    snap: crate::snapshot::Snapshot,
    single_file: bool,
    profile: Option<profile::Made>,
    /// What earlier versions' profiles hold: the profile's delta bases.
    known: profile::Known,
    tables_read: usize,
}

/// Snapshots the data (storing what is new) and, with `settings`, profiles its tables: while
/// the snapshot stores the data from the files it lists, and the rest from the store after.
fn snapshot_and_profile(
    ws: &Workspace,
    source: &Source<'_>,
    previous_versions: &[Version],
    settings: Option<&profile::Settings>,
    gc_epoch: u64,
    progress: &dyn Progress,
) -> Result<Snapped> {
    // Tables are profiled while the snapshot stores the data (both keep the cores busy in
    // turns), from the files the snapshot lists; the rest is profiled once it is done.
    let profiling = settings.is_some();
    let settings = settings.cloned().unwrap_or_default();
    let previous: Vec<TreeId> = previous_versions.iter().map(|v| v.tree).collect();
    let (abs, cache_key) = (source.abs, source.cache_key);
    // Tables whose content the previous versions' profiles describe are not read again.
    let known = if profiling {
        profile::Known::of_versions(&ws.store, previous_versions, &settings)
    } else {
        profile::Known::default()
    };
    let single_file = !abs.is_dir();
    // Tables are profiled as the snapshot hashes them, on the threads that read them.
    let early = profile::Early::new(&settings, &known);
    let hear = |file: crate::snapshot::Listed<'_>| early.hear(file);
    let is_table = |rel: &[u8]| std::str::from_utf8(rel).is_ok_and(|p| Format::of(p).is_some());
    let snap = snapshot_listing(
        ws,
        abs,
        cache_key,
        Mode::Store,
        &previous,
        progress,
        profiling.then_some(Listener {
            wants: &is_table,
            hashed: &hear,
        }),
    );
    let (early, early_reads) = early.finish();
    let snap = match snap {
        Err(Error::PathNotFound { .. }) => {
            return Err(Error::PathNotFound {
                path: source.given.to_path_buf(),
            });
        }
        other => other?,
    };
    let mut tables_read = early_reads;
    let profile = if profiling {
        let worktree = profile::Worktree {
            path: abs.to_path_buf(),
            single_file,
            early,
            tables_read: AtomicUsize::new(early_reads),
        };
        // The snapshot's trees are walked as it holds them; a table not readable from the
        // worktree is read from the store, where a gc running meanwhile may have removed what
        // the snapshot found already stored: that is reported as such.
        let trees = crate::object::tree::Overlay {
            store: &ws.store,
            trees: &snap.trees,
        };
        match profile::profile_tree(
            &ws.store,
            &trees,
            &snap.root,
            &settings,
            &known,
            Some(&worktree),
        ) {
            Ok(profile) => {
                tables_read = worktree.tables_read.into_inner();
                Some(profile)
            }
            Err(e) if crate::gc::epoch(ws) != gc_epoch => {
                crate::gc::check_complete(ws, vec![(Kind::Tree, snap.root.0)])?;
                return Err(e);
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(Snapped {
        snap,
        single_file,
        profile,
        known,
        tables_read,
    })
}

/// The crash-critical step, under the workspace lock: the version is checked complete if a gc
/// ran meanwhile, deduplicated against the stage's newest version, then its object is stored
/// and indexed under a pending marker (see `Workspace::recover`), and the directory it was
/// committed from (`tracked_as`) is recorded as holding it.
fn publish(
    ws: &Workspace,
    version: Version,
    gc_epoch: u64,
    tracked_as: Option<&str>,
) -> Result<CommitOutcome> {
    let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
    // Objects this commit found already stored (and did not write) may have been garbage a
    // concurrent gc removed: then check that everything the version needs is still here.
    if crate::gc::epoch(ws) != gc_epoch {
        crate::gc::check_complete(ws, version.objects().collect())?;
    }
    if let Some(existing_id) = ws.index.latest(&version.dataset, Some(&version.stage))?
        && let Some(existing) = ws.index.version(&existing_id)?
        && same_provenance(&existing, &version)
        && same_content(ws, &existing.tree, &version.tree)?
    {
        if let Some(rel) = tracked_as {
            worktree::record(ws, rel, Tracked::at(&version.dataset, existing_id))?;
        }
        return Ok(CommitOutcome {
            id: existing_id,
            version: existing,
            created: false,
            tables_read: 0,
        });
    }
    // The pending marker lets the next command finish indexing a version whose object was
    // written just before a crash (see `Workspace::recover`).
    let id = version.id();
    let pending = ws.pending_version_path();
    crate::fs_util::write_atomic(&pending, format!("{id}\n").as_bytes(), "pending")?;
    ws.store.put_bytes(Kind::Version, &version.encode())?;
    crate::failpoint::hit("version", "stored").map_err(|e| Error::io(&pending, e))?;
    ws.index.insert_version(&id, &version)?;
    crate::failpoint::hit("version", "indexed").map_err(|e| Error::io(&pending, e))?;
    std::fs::remove_file(&pending).map_err(|e| Error::io(&pending, e))?;
    crate::failpoint::hit("pending", "removed").map_err(|e| Error::io(&pending, e))?;
    if let Some(rel) = tracked_as {
        worktree::record(ws, rel, Tracked::at(&version.dataset, id))?;
    }
    Ok(CommitOutcome {
        id,
        version,
        created: true,
        tables_read: 0,
    })
}

/// The versions whose trees a commit deltas against: the stage's previous version first (the
/// closest in content), then the version this one was made from.
fn delta_bases(
    ws: &Workspace,
    request: &CommitRequest,
    inputs: &[VersionId],
) -> Result<Vec<Version>> {
    let mut versions = Vec::new();
    if let Some(latest) = ws.index.latest(&request.dataset, Some(&request.stage))?
        && let Some(version) = ws.index.version(&latest)?
    {
        versions.push(version);
    }
    if let Some(first) = inputs.first()
        && let Some(version) = ws.index.version(first)?
    {
        versions.push(version);
    }
    Ok(versions)
}

/// The stage of each input version, for the `inputs_from` rule.
pub fn input_stages(ws: &Workspace, inputs: &[VersionId]) -> Result<Vec<String>> {
    inputs
        .iter()
        .map(|id| {
            ws.index
                .version(id)?
                .map(|v| v.stage)
                .ok_or_else(|| Error::UnknownRevision {
                    rev: id.to_hex(),
                    datasets: Vec::new(),
                    tags: Vec::new(),
                })
        })
        .collect()
}

/// Two versions were made the same way (time, author and message aside).
fn same_provenance(a: &Version, b: &Version) -> bool {
    a.inputs == b.inputs
        && a.transform == b.transform
        && a.code == b.code
        && a.params == b.params
        && a.path == b.path
        && a.single_file == b.single_file
}

/// Two trees hold the same files. Equal ids say so at once. A tree written before tree
/// encoding 2 has another id for the same content, so only then are the trees compared file
/// by file (once per dataset and stage, on the first commit after an upgrade).
fn same_content(ws: &Workspace, existing: &TreeId, new: &TreeId) -> Result<bool> {
    if existing == new {
        return Ok(true);
    }
    let existing_bytes = match ws.store.get_bytes(Kind::Tree, &existing.0) {
        // Not fetched from a remote yet (a clone without data): a new version is made.
        Err(Error::MissingObject { .. }) => return Ok(false),
        other => other?,
    };
    if !crate::object::tree::is_format_1(&existing_bytes) {
        return Ok(false);
    }
    let mut differs = false;
    crate::diff::diff_trees_each(&ws.store, existing, new, &mut |_| {
        differs = true;
        Ok(())
    })?;
    Ok(!differs)
}

/// The git state of the repository holding the first code file, or the current directory.
pub(crate) fn code_revision_of(code: &[PathBuf]) -> Option<crate::object::CodeRevision> {
    let dir = code
        .first()
        .and_then(|file| file.parent())
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    provenance::code_revision(dir)
}

/// Stores each code file's content and records its hash and path.
pub(crate) fn store_code_files(ws: &Workspace, files: &[PathBuf]) -> Result<Vec<CodeFile>> {
    let batch = ws.store.batch();
    let code = files
        .iter()
        .map(|file| {
            let meta = std::fs::metadata(file).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::PathNotFound { path: file.clone() },
                _ => Error::io(file, e),
            })?;
            if meta.is_dir() {
                return Err(Error::io(
                    file,
                    std::io::Error::other("it is a directory, --code takes files"),
                ));
            }
            // A FIFO or device would block the read (or never end).
            if !meta.is_file() {
                return Err(Error::NotARegularFile {
                    path: file.clone(),
                    found: crate::fs_util::file_type_name(&meta.file_type()),
                });
            }
            let stored = batch.put_file(file, None)?;
            let (path, base) = code_location(ws, file)?;
            Ok(CodeFile {
                path,
                blob: BlobId(stored.id),
                size: stored.size,
                base,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    batch.finish()?;
    Ok(code)
}

/// Where a code file is recorded: relative to the workspace, else to its git repository, else
/// by its name alone. A machine's absolute path means nothing elsewhere and leaks once shared.
pub fn code_location(ws: &Workspace, file: &Path) -> Result<(String, CodeBase)> {
    let abs = crate::fs_util::absolute(file)?;
    if abs.starts_with(ws.root()) {
        return Ok((ws.relative(file)?.1, CodeBase::Workspace));
    }
    let canonical = abs.canonicalize().map_err(|e| Error::io(&abs, e))?;
    let relative_to = |root: &Path| {
        let rel = canonical.strip_prefix(root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/")).filter(|rel| !rel.is_empty())
    };
    if let Some(rel) = canonical
        .parent()
        .and_then(provenance::repository_root)
        .and_then(|root| relative_to(&root))
    {
        return Ok((rel, CodeBase::Repository));
    }
    let name = abs
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("code")
        .to_string();
    Ok((name, CodeBase::Elsewhere))
}
