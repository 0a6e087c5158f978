//! Committing: snapshot a path and record it, with its provenance, as a new version.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::{BlobId, TreeId, VersionId};
use crate::lock::WorkspaceLock;
use crate::object::version::VERSION_FORMAT;
use crate::object::{CodeFile, Version};
use crate::progress::Progress;
use crate::snapshot::{Mode, snapshot};
use crate::store::Kind;
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
    pub code: Vec<PathBuf>,
    pub params: Map<String, Value>,
    pub message: Option<String>,
}

/// What a commit did.
#[derive(Clone, Debug)]
pub struct CommitOutcome {
    pub id: VersionId,
    pub version: Version,
    /// False when an identical version (same tree and provenance) already was the dataset's
    /// newest at that stage, and it was reported instead of making a new one.
    pub created: bool,
}

/// Snapshots `request.path` and records a version (or finds the identical existing one).
pub fn commit(
    ws: &Workspace,
    request: &CommitRequest,
    progress: &dyn Progress,
) -> Result<CommitOutcome> {
    crate::names::check("dataset", &request.dataset)?;
    ws.check_stage(&request.stage)?;
    ws.remove_stale_temp_files()?;
    // A gc that removes objects while this commit runs bumps the epoch (see below).
    let gc_epoch = crate::gc::epoch(ws);
    let inputs = request
        .inputs
        .iter()
        .map(|rev| revision::resolve(ws, rev))
        .collect::<Result<Vec<_>>>()?;
    let (abs, rel) = ws.relative(&request.path)?;
    let code = store_code_files(ws, &request.code)?;
    // The git repository of the first code file, or of the current directory.
    let code_dir = request
        .code
        .first()
        .and_then(|file| file.parent())
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let code_revision = provenance::code_revision(code_dir);
    let created_at = provenance::timestamp()?;

    // Delta bases: the stage's previous version first (the closest in content), then the
    // version this one was made from.
    let mut previous = Vec::new();
    if let Some(latest) = ws.index.latest(&request.dataset, Some(&request.stage))?
        && let Some(version) = ws.index.version(&latest)?
    {
        previous.push(version.tree);
    }
    if let Some(first) = inputs.first()
        && let Some(version) = ws.index.version(first)?
    {
        previous.push(version.tree);
    }
    let snap = match snapshot(ws, &abs, Some(&rel), Mode::Store, &previous, progress) {
        Err(Error::PathNotFound { .. }) => {
            return Err(Error::PathNotFound {
                path: request.path.clone(),
            });
        }
        other => other?,
    };
    let version = Version {
        format: VERSION_FORMAT,
        dataset: request.dataset.clone(),
        stage: request.stage.clone(),
        tree: snap.root,
        path: rel.clone(),
        single_file: !abs.is_dir(),
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
    };

    let _lock = WorkspaceLock::acquire(&ws.dv_dir())?;
    // Objects this commit found already stored (and did not write) may have been garbage a
    // concurrent gc removed: then check that everything the version needs is still here.
    if crate::gc::epoch(ws) != gc_epoch {
        let code: Vec<crate::id::Hash> = version.code.iter().map(|c| c.blob.0).collect();
        crate::gc::check_complete(ws, &version.tree, &code)?;
    }
    if let Some(existing_id) = ws.index.latest(&version.dataset, Some(&version.stage))?
        && let Some(existing) = ws.index.version(&existing_id)?
        && same_provenance(&existing, &version)
        && same_content(ws, &existing.tree, &version.tree)?
    {
        worktree::record(ws, &rel, Tracked::at(&version.dataset, existing_id))?;
        return Ok(CommitOutcome {
            id: existing_id,
            version: existing,
            created: false,
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
    worktree::record(ws, &rel, Tracked::at(&version.dataset, id))?;
    Ok(CommitOutcome {
        id,
        version,
        created: true,
    })
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

/// Stores each code file's content and records its hash and path.
fn store_code_files(ws: &Workspace, files: &[PathBuf]) -> Result<Vec<CodeFile>> {
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
            let stored = batch.put_file(file, None)?;
            let path = match ws.relative(file) {
                Ok((_, rel)) => rel,
                Err(_) => crate::fs_util::absolute(file)?
                    .to_string_lossy()
                    .into_owned(),
            };
            Ok(CodeFile {
                path,
                blob: BlobId(stored.id),
                size: stored.size,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    batch.finish()?;
    Ok(code)
}
