//! Making a workspace from a remote: every version record, tag and lifecycle event, every
//! version's profile, and (unless only metadata is asked for) the data of the live versions.
//!
//! A clone that fails leaves nothing behind: the `.dv` it made (and the directory, when the
//! clone created it) is removed. A version whose record or data the remote sends damaged is
//! left out and named in the report, so one bad object does not cost the whole remote.

use std::path::Path;

use super::{Remote, RemoteSpec, Remotes, TransferReport, Unavailable};
use crate::error::Result;
use crate::progress::Progress;
use crate::reach::Need;
use crate::workspace::Workspace;

/// The name a cloned workspace gives its remote.
pub const ORIGIN: &str = "origin";

/// Clones the remote at `spec` into `dir` (created if missing; must not hold a workspace).
pub fn clone(
    dir: &Path,
    spec: RemoteSpec,
    jobs: Option<usize>,
    data: bool,
    progress: &dyn Progress,
) -> Result<(Workspace, TransferReport)> {
    let remote = Remote::connect(ORIGIN, &spec, false)?.with_jobs(jobs);
    let stages = super::remote_stages(&remote)?;
    let existed = dir.exists();
    let ws = Workspace::init(dir, stages)?;
    let root = ws.root().to_path_buf();
    match fill(ws, spec, &remote, data, progress) {
        Ok(done) => Ok(done),
        Err(e) => {
            // Only what this clone made is removed: `init` refused a directory holding a
            // workspace, so `.dv` is ours.
            let _ = std::fs::remove_dir_all(root.join(crate::workspace::DV_DIR));
            if !existed {
                let _ = std::fs::remove_dir(&root);
            }
            Err(e)
        }
    }
}

fn fill(
    ws: Workspace,
    spec: RemoteSpec,
    remote: &Remote,
    data: bool,
    progress: &dyn Progress,
) -> Result<(Workspace, TransferReport)> {
    let mut remotes = Remotes::default();
    remotes.add(ORIGIN, spec, true)?;
    remotes.save(&ws.dv_dir())?;
    let ws = Workspace::open_at(ws.root().to_path_buf())?;
    let fetched = super::fetch(&ws, remote, progress)?;
    // Every version's profile comes (metadata, like the records); data only for live ones
    // (retired versions' data may be gone from the remote).
    let all: Vec<_> = ws
        .index
        .log(&crate::index::LogFilter::default())?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let (mut report, mut unavailable) = pull_each(&ws, remote, &all, Need::Profiles, progress)?;
    if data {
        // A version whose profile could not be had is not asked for again.
        let live: Vec<_> = crate::gc::live_versions(&ws)?
            .into_iter()
            .filter(|id| !unavailable.iter().any(|u| u.version == id.to_hex()))
            .collect();
        let (data_report, more) = pull_each(&ws, remote, &live, Need::Data, progress)?;
        report = data_report;
        unavailable.extend(more);
    }
    report.versions = fetched.versions;
    report.tags = fetched.tags;
    report.lifecycle = fetched.lifecycle;
    report.conflicts = fetched.conflicts;
    report.unavailable = fetched.unavailable;
    report.unavailable.extend(unavailable);
    Ok((ws, report))
}

/// Pulls `versions` together; when that fails, one at a time, so the versions that can be
/// had arrive and each one that cannot is named with its reason. Fails only when none could.
fn pull_each(
    ws: &Workspace,
    remote: &Remote,
    versions: &[crate::id::VersionId],
    need: Need,
    progress: &dyn Progress,
) -> Result<(TransferReport, Vec<Unavailable>)> {
    let first = match super::pull(ws, remote, versions, &[], need, progress) {
        Ok(report) => return Ok((report, Vec::new())),
        Err(e) => e,
    };
    let mut unavailable = Vec::new();
    for id in versions {
        if let Err(e) = super::pull(ws, remote, &[*id], &[], need, progress) {
            unavailable.push(Unavailable {
                version: id.to_hex(),
                reason: e.to_string(),
            });
        }
    }
    if unavailable.len() == versions.len() {
        return Err(first);
    }
    Ok((remote.report(false), unavailable))
}
