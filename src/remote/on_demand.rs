//! Fetch on demand: the data a command needs but the workspace lacks, brought from the default
//! remote, or the reason it cannot be (`--offline`, no remote, a read-only workspace).

use std::collections::HashSet;

use super::pull::{once_more_if_gone, pull};
use super::records::list_records;
use super::transfer::Fetcher;
use super::{Remote, Remotes, TransferReport};
use crate::error::{Error, Result};
use crate::id::{Hash, VersionId};
use crate::progress::Progress;
use crate::reach::Fetch;
use crate::reach::{Need, missing_of};
use crate::store::Kind;
use crate::workspace::Workspace;

/// Makes the data of `versions` local before a command uses it, fetching what is missing from
/// the default remote. `None` when everything was already here (no remote is contacted).
pub fn ensure_local(
    ws: &Workspace,
    versions: &[VersionId],
    need: Need,
    fetch: Fetch,
    progress: &dyn Progress,
) -> Result<Option<TransferReport>> {
    let mut missing = 0;
    let mut short = Vec::new();
    for id in versions {
        let count = missing_of(ws, id, need)?;
        if count > 0 {
            missing += count;
            short.push(*id);
        }
    }
    let what = match short.as_slice() {
        [one] => format!("The data of version {one}"),
        many => format!("The data of {} versions", many.len()),
    };
    fetch_missing(ws, what, missing, fetch, |remote| {
        pull(ws, remote, &short, &[], need, progress)
    })
}

/// Makes file contents local (the files a row diff reads), fetching the missing ones from the
/// default remote.
pub fn ensure_blobs(
    ws: &Workspace,
    blobs: &[Hash],
    fetch: Fetch,
    progress: &dyn Progress,
) -> Result<Option<TransferReport>> {
    let absent: Vec<Hash> = blobs
        .iter()
        .filter(|id| !ws.store.has(Kind::Blob, id))
        .copied()
        .collect();
    let what = format!("The content of {} files", absent.len());
    fetch_missing(ws, what, absent.len(), fetch, |remote| {
        once_more_if_gone(|| {
            let fetcher = Fetcher::new(ws, remote, progress)?;
            fetcher.acquire_blobs(absent.clone())?;
            progress.finish();
            Ok(remote.report(false))
        })
    })
}

/// The default remote's name and the versions it lists (each complete there); `None` when
/// no remote is configured.
pub fn default_remote_versions(ws: &Workspace) -> Result<Option<(String, HashSet<VersionId>)>> {
    if Remotes::load(&ws.dv_dir())?.default.is_none() {
        return Ok(None);
    }
    let remote = Remote::open(ws, None, false)?;
    if remote.check_format()?.is_none() {
        return Ok(Some((remote.client.name.clone(), HashSet::new())));
    }
    let (versions, _) = list_records(&remote)?;
    let versions = versions.into_iter().map(VersionId).collect();
    Ok(Some((remote.client.name.clone(), versions)))
}

/// Runs `fetch` against the default remote when `missing` objects are needed, or says why
/// they cannot be.
fn fetch_missing(
    ws: &Workspace,
    what: String,
    missing: usize,
    policy: Fetch,
    fetch: impl FnOnce(&Remote) -> Result<TransferReport>,
) -> Result<Option<TransferReport>> {
    if missing == 0 {
        return Ok(None);
    }
    let not_local = |reason: &str| Error::NotLocal {
        what: what.clone(),
        missing,
        reason: reason.to_string(),
    };
    if policy == Fetch::Offline {
        return Err(not_local("--offline was given"));
    }
    if Remotes::load(&ws.dv_dir())?.default.is_none() {
        return Err(not_local("no remote is configured to fetch it from"));
    }
    if !ws.writable() {
        return Err(not_local("the workspace is opened read-only"));
    }
    let remote = Remote::open(ws, None, false)?;
    fetch(&remote).map(Some)
}
