//! `dv fetch` and `dv pull`: bringing version records, tags and lifecycle events (metadata,
//! validated before they enter the workspace), then the data of chosen versions through the
//! transfer engine (`transfer`), verified before anything enters the local store.

use std::sync::Arc;

use futures::StreamExt;

use super::layout;
use super::records::list_records;
use super::transfer::{Fetcher, rejected};
use super::{Remote, TagConflict, TransferReport};
use crate::error::{Error, Result};
use crate::id::{Hash, VersionId};
use crate::object::Version;
use crate::progress::{Progress, Unit};
use crate::reach::Need;
use crate::store::{Kind, Overlay};
use crate::workspace::Workspace;

/// The largest version object a remote may send: a record is stored raw unless zstd makes it
/// smaller, so its file is at most its decoded bound and a header.
const MAX_VERSION_FILE: u64 = crate::store::MAX_VERSION_OBJECT + crate::store::HEADER_LEN as u64;

/// Brings every version record and tag of a remote (no data).
pub fn fetch(ws: &Workspace, remote: &Remote, progress: &dyn Progress) -> Result<TransferReport> {
    remote.require_format()?;
    let client = &remote.client;
    let (versions, tags) = list_records(remote)?;
    let missing: Vec<Hash> = versions
        .into_iter()
        .filter(|id| !ws.store.has(Kind::Version, id))
        .collect();
    progress.begin("fetching", missing.len() as u64, Unit::Objects);
    let received: Vec<Result<(Hash, Vec<u8>)>> = remote.block_on(
        futures::stream::iter(missing.iter().map(|id| async move {
            let key = layout::version_key(id);
            let bytes = client.get(&key, MAX_VERSION_FILE).await?.ok_or_else(|| {
                client.error(format!("{key} disappeared while it was being read"))
            })?;
            Ok((*id, bytes.to_vec()))
        }))
        .buffer_unordered(client.jobs)
        .collect(),
    );
    let mut records = Vec::new();
    let mut unavailable = Vec::new();
    for item in received {
        let (id, bytes) = item?;
        let view = ws.store.with_overlay(Arc::new(Overlay::from([(
            (Kind::Version, id),
            bytes.clone(),
        )])));
        progress.advance(1);
        // A damaged record costs only its own version.
        match view
            .get_bytes(Kind::Version, &id)
            .and_then(|content| Version::decode(&content, &VersionId(id)))
        {
            Ok(version) => records.push((VersionId(id), version, bytes)),
            Err(e) => unavailable.push(super::Unavailable {
                version: id.to_hex(),
                reason: rejected(client, Kind::Version, &id, &e).to_string(),
            }),
        }
    }
    {
        let _lock = crate::lock::WorkspaceLock::acquire(&ws.dv_dir())?;
        let batch = ws.store.batch();
        for (id, _, bytes) in &records {
            batch.put_object_file(Kind::Version, &id.0, bytes)?;
        }
        batch.finish()?;
        for (id, version, _) in &records {
            ws.index.insert_version(id, version)?;
        }
    }
    client
        .stats
        .objects
        .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let mut report = remote.report(false);
    report.versions = records.len() as u64;
    report.unavailable = unavailable;

    report.lifecycle = fetch_lifecycle(ws, remote)?;

    // Tags: taken when the name is free here; a name that differs is a conflict, left alone.
    for (name, ids) in tags {
        let local = ws.index.tag(&name)?;
        let single = (ids.len() == 1).then(|| VersionId(*ids.first().expect("one")));
        match (single, local) {
            (Some(id), Some(local)) if id == local => {}
            (Some(id), None) if ws.store.has(Kind::Version, &id.0) => {
                crate::refs::set_tag(ws, &name, &id, false)?;
                report.tags += 1;
            }
            // A tag naming a version the remote does not list is not taken.
            (Some(_), None) => {}
            (_, local) => report.conflicts.push(TagConflict {
                tag: name,
                local: local.map(|id| id.to_hex()),
                remote: ids.iter().map(Hash::to_hex).collect(),
            }),
        }
    }
    progress.finish();
    Ok(report)
}

/// Brings the lifecycle events of local versions that are not here yet, each checked against
/// its name before it is recorded. Returns how many arrived.
fn fetch_lifecycle(ws: &Workspace, remote: &Remote) -> Result<u64> {
    let client = &remote.client;
    let listed = remote.block_on(client.list(layout::LIFECYCLE))?;
    let mut wanted = Vec::new();
    for item in listed {
        let (version, event) = layout::parse_lifecycle_key(client, &item.key)?;
        let local = ws
            .dv_dir()
            .join("lifecycle")
            .join(version.to_hex())
            .join(event.to_hex());
        if ws.store.has(Kind::Version, &version) && !local.exists() {
            wanted.push((version, event));
        }
    }
    let received: Vec<Result<(Hash, Hash, bytes::Bytes)>> = remote.block_on(
        futures::stream::iter(wanted.iter().map(|(version, event)| async move {
            let key = layout::lifecycle_key(version, event);
            let bytes = client
                .get(&key, crate::lifecycle::MAX_EVENT_BYTES)
                .await?
                .ok_or_else(|| {
                    client.error(format!("{key} disappeared while it was being read"))
                })?;
            Ok((*version, *event, bytes))
        }))
        .buffer_unordered(client.jobs)
        .collect(),
    );
    let mut count = 0;
    for item in received {
        let (version, event, bytes) = item?;
        crate::lifecycle::receive(ws, &VersionId(version), &event, &bytes).map_err(|reason| {
            client.error(format!(
                "{} is damaged, so it was not recorded: {reason}",
                layout::lifecycle_key(&version, &event)
            ))
        })?;
        count += 1;
    }
    Ok(count)
}

/// `dv pull`: every record, tag and lifecycle event, then the data of `versions` (each must be
/// usable), or when none are named, of every live version (a retired version's data may be
/// gone from the remote). One report for both.
pub fn pull_versions(
    ws: &Workspace,
    remote: &Remote,
    versions: &[VersionId],
    paths: &[String],
    progress: &dyn Progress,
) -> Result<TransferReport> {
    let fetched = fetch(ws, remote, progress)?;
    let ids = if versions.is_empty() {
        crate::gc::live_versions(ws)?
    } else {
        for id in versions {
            crate::lifecycle::ensure_usable(ws, id)?;
        }
        versions.to_vec()
    };
    let mut report = pull(ws, remote, &ids, paths, Need::Data, progress)?;
    report.versions = fetched.versions;
    report.tags = fetched.tags;
    report.lifecycle = fetched.lifecycle;
    report.conflicts = fetched.conflicts;
    report.unavailable = fetched.unavailable;
    Ok(report)
}

/// Fetches the data of `versions` (restricted to `paths` inside them when given) that is not
/// local yet; everything else is left where it is.
pub fn pull(
    ws: &Workspace,
    remote: &Remote,
    versions: &[VersionId],
    paths: &[String],
    need: Need,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    once_more_if_gone(|| pull_once(ws, remote, versions, paths, need, progress))
}

/// Runs `fetch` again if a pack it was reading was rewritten by a gc on the remote (readers
/// take no lock): the second run lists the remote afresh and fetches only what is still
/// missing, since what arrived was stored.
pub(super) fn once_more_if_gone<T>(mut fetch: impl FnMut() -> Result<T>) -> Result<T> {
    match fetch() {
        Err(Error::RemoteGone { .. }) => fetch(),
        other => other,
    }
}

fn pull_once(
    ws: &Workspace,
    remote: &Remote,
    versions: &[VersionId],
    paths: &[String],
    need: Need,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    let fetcher = Fetcher::new(ws, remote, progress)?;
    // A version's profile is metadata: it comes with every kind of pull.
    let mut attached = Vec::new();
    let mut blobs = Vec::new();
    for id in versions {
        let version = ws.version(id)?;
        if matches!(need, Need::Trees | Need::Data) {
            fetcher.walk(id, version.tree, paths, &mut blobs)?;
        }
        if let Some(tables) = version.profile_tables {
            fetcher.walk(id, tables, &[], &mut attached)?;
        }
        if paths.is_empty() && matches!(need, Need::Code | Need::Data) {
            attached.extend(version.blobs().map(|blob| blob.0));
        } else {
            attached.extend(version.profile.map(|file| file.blob.0));
        }
    }
    if need != Need::Trees {
        fetcher.acquire_blobs(blobs)?;
    }
    fetcher.acquire_blobs(attached)?;
    progress.finish();
    Ok(remote.report(false))
}
