//! Data availability, decided in one place: what an operation needs of some versions (their
//! trees, code, or all their data) is made local before it runs, fetched from the default
//! remote on demand, or refused with `--offline` ([`Fetch`]). Every operation that may need
//! data the workspace does not hold takes a [`Fetch`] and reports what it transferred.
//!
//! What is missing is counted by reachability ([`crate::reach::missing_of`]); the transfer is
//! the remote's ([`crate::remote::ensure_local`]); the choice is here.

use crate::error::Result;
use crate::id::{Hash, VersionId};
use crate::progress::Progress;
pub use crate::reach::{Fetch, Need};
use crate::remote::{Remotes, TransferReport};
use crate::workspace::Workspace;

/// Makes `need` of versions `ids` local. A version whose data is asked for must be usable (not
/// retired). Without a default remote nothing is contacted and a missing object is left for
/// the operation to report; a workspace opened to read is reopened to write only when
/// something must be fetched. Returns the workspace to go on with and what was transferred.
pub fn ensure(
    ws: Workspace,
    ids: &[VersionId],
    need: Need,
    fetch: Fetch,
    progress: &dyn Progress,
) -> Result<(Workspace, Option<TransferReport>)> {
    if need == Need::Data {
        for id in ids {
            crate::lifecycle::ensure_usable(&ws, id)?;
        }
    }
    if Remotes::load(&ws.dv_dir())?.default.is_none() {
        return Ok((ws, None));
    }
    let mut missing = 0;
    for id in ids {
        missing += crate::reach::missing_of(&ws, id, need)?;
    }
    if missing == 0 {
        return Ok((ws, None));
    }
    let ws = writable(ws, fetch)?;
    let report = crate::remote::ensure_local(&ws, ids, need, fetch, progress)?;
    Ok((ws, report))
}

/// [`ensure`] for a workspace already open to write (a library operation in progress), without
/// the usability check: the caller has made its own.
pub fn ensure_here(
    ws: &Workspace,
    ids: &[VersionId],
    need: Need,
    fetch: Fetch,
    progress: &dyn Progress,
) -> Result<Option<TransferReport>> {
    crate::remote::ensure_local(ws, ids, need, fetch, progress)
}

/// Makes file contents local (the sides of a row diff), fetching the absent ones on demand.
pub fn ensure_blobs(
    ws: Workspace,
    blobs: &[Hash],
    fetch: Fetch,
    progress: &dyn Progress,
) -> Result<(Workspace, Option<TransferReport>)> {
    if blobs
        .iter()
        .all(|id| ws.store.has(crate::store::Kind::Blob, id))
    {
        return Ok((ws, None));
    }
    let ws = writable(ws, fetch)?;
    let report = crate::remote::ensure_blobs(&ws, blobs, fetch, progress)?;
    Ok((ws, report))
}

/// The workspace reopened to write when it was opened to read and may fetch (with `--offline`
/// nothing is written, so it stays as it is and the fetch is refused with the reason).
fn writable(ws: Workspace, fetch: Fetch) -> Result<Workspace> {
    if ws.writable() || fetch == Fetch::Offline {
        return Ok(ws);
    }
    Workspace::open_at(ws.root().to_path_buf())
}
