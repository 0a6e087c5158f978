//! `dv gc --remote`: removing from a remote what none of its live versions needs, with the
//! rules of the local gc (see [`crate::gc`]).
//!
//! **Live** on a remote is what its versions that are not retired reach (by the lifecycle
//! events the remote holds), and what any version reaches that the remote tags or this
//! workspace pins. Version records, tags and lifecycle events are never removed.
//!
//! Marking needs the remote's own encoding of every live object: another workspace may have
//! pushed a file as a delta or a chunk list where this one stores it whole. So the trees of the
//! live versions are brought here (verified, as `dv pull` would), and then each live object's
//! first bytes are read from the remote (neighbours merged into one request) to learn its delta
//! base or chunks, round after round until nothing new is reached.
//!
//! Pruning holds the remote's exclusive lock (see [`super::lock`]), so no push runs meanwhile:
//! a push relies on what the remote's packs held when it started, and writes version records
//! that name it. Readers take no lock; a pull that finds a pack rewritten under it lists the
//! remote again and goes on (see `pull::once_more_if_gone`). Packs are rewritten before the old ones are
//! deleted (index first, so readers stop using a pack before it goes), so a gc stopped at any
//! point loses nothing; the leftovers are removed by the next one.

use std::collections::HashSet;
use std::time::SystemTime;

use futures::StreamExt;
use serde::Serialize;

use super::catalog::{Catalog, Place};
use super::layout;
use super::lock::RemoteLock;
use super::push::Sender;
use super::records::list_records;
use super::{Remote, ranges};
use crate::error::{Error, Result};
use crate::gc::{GcOptions, GcReport};
use crate::id::{Hash, VersionId};
use crate::lifecycle::State;
use crate::progress::{Progress, Unit};
use crate::reach::Need;
use crate::store::{DEPENDENCY_PREFIX, Kind, MAX_METADATA_OBJECT, PackIndex, RawObject, Store};
use crate::workspace::Workspace;

type ObjectKey = (Kind, Hash);

/// What a remote gc found and did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RemoteGcReport {
    pub remote: String,
    #[serde(flatten)]
    pub gc: GcReport,
    /// Pack files without their index and indexes without their pack (left by an interrupted
    /// push or gc) that were (or would be) removed.
    pub leftovers_removed: u64,
    /// Requests made to the remote.
    pub requests: u64,
}

/// Finds (and with `prune`, removes) what no live version of the remote needs.
pub fn gc(
    ws: &Workspace,
    remote: &Remote,
    options: GcOptions,
    progress: &dyn Progress,
) -> Result<RemoteGcReport> {
    remote.require_format()?;
    let client = &remote.client;
    let lock = match options.prune {
        true => Some(RemoteLock::acquire(remote, "gc", true)?),
        false => None,
    };
    // Ages are judged by the remote's clock when it told us the time.
    let now = lock
        .as_ref()
        .map_or_else(SystemTime::now, |lock| lock.remote_now);
    let cutoff = now
        .checked_sub(options.grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);

    super::fetch(ws, remote, progress)?;
    let (roots, recorded) = roots(ws, remote)?;
    super::pull(ws, remote, &roots, &[], Need::Trees, progress)?;
    let cache = super::catalog::index_cache(ws, client);
    let catalog = Catalog::load(remote, cache.as_deref())?;
    // Profiles stay with the records, so a retired version can still be described.
    super::pull(ws, remote, &recorded, &[], Need::Profiles, progress)?;
    let live = mark(ws, remote, &catalog, &roots, &recorded, progress)?;
    crate::failpoint::hit("remote-gc", "marked").map_err(|e| Error::io("remote gc", e))?;

    let mut report = GcReport {
        pruned: options.prune,
        live_versions: roots.len() as u64,
        live_objects: live.len() as u64,
        ..GcReport::default()
    };
    let mut rewrite: Vec<&PackIndex> = Vec::new();
    let mut doomed_packs: Vec<Hash> = Vec::new();
    for (index, stored) in &catalog.packs {
        let (mut total, mut live_bytes, mut garbage, mut garbage_bytes) = (0, 0, 0, 0);
        for record in index.records() {
            let Some(kind) = Kind::from_code(record.kind) else {
                continue;
            };
            total += record.slot.length;
            if live.contains(&(kind, record.id)) {
                live_bytes += record.slot.length;
            } else {
                garbage += 1;
                garbage_bytes += record.slot.length;
            }
        }
        if garbage == 0 {
            continue;
        }
        report.garbage_objects += garbage;
        report.garbage_bytes += garbage_bytes;
        if stored.modified > cutoff {
            report.young_objects += garbage;
            continue;
        }
        if live_bytes > 0 && garbage_bytes as f64 <= options.max_unused * total as f64 {
            continue;
        }
        report.removed_objects += garbage;
        report.removed_bytes += garbage_bytes;
        if live_bytes == 0 {
            report.packs_removed += 1;
        } else {
            report.packs_rewritten += 1;
            rewrite.push(index);
        }
        doomed_packs.push(index.pack_id());
    }
    let mut doomed_keys: Vec<String> = Vec::new();
    for (&(kind, id), stored) in catalog.loose() {
        if live.contains(&(kind, id)) {
            continue;
        }
        report.garbage_objects += 1;
        report.garbage_bytes += stored.size;
        if stored.modified > cutoff {
            report.young_objects += 1;
            continue;
        }
        report.removed_objects += 1;
        report.removed_bytes += stored.size;
        doomed_keys.push(layout::object_key(kind, &id));
    }
    let leftovers: Vec<&str> = catalog
        .orphans
        .iter()
        .filter(|orphan| orphan.modified <= cutoff)
        .map(|orphan| orphan.key.as_str())
        .collect();

    if let Some(lock) = &lock {
        if !rewrite.is_empty() {
            repack(remote, &rewrite, &live, progress)?;
            crate::failpoint::hit("remote-gc", "repacked")
                .map_err(|e| Error::io("remote gc", e))?;
        }
        for pack in &doomed_packs {
            lock.check_held()?;
            // The index first: a reader only uses packs whose index it lists.
            remote.block_on(client.delete(&layout::index_key(pack)))?;
            crate::failpoint::hit("remote-gc", "index-removed")
                .map_err(|e| Error::io(layout::index_key(pack), e))?;
            remote.block_on(client.delete(&layout::pack_key(pack)))?;
            if let Some(cache) = &cache {
                super::catalog::forget_index(cache, pack);
            }
        }
        let keys = doomed_keys
            .iter()
            .map(String::as_str)
            .chain(leftovers.iter().copied());
        let deleted: Vec<Result<()>> = remote.block_on(
            futures::stream::iter(keys.map(|key| client.delete(key)))
                .buffer_unordered(client.jobs)
                .collect(),
        );
        deleted.into_iter().collect::<Result<Vec<()>>>()?;
    }
    drop(lock);
    Ok(RemoteGcReport {
        remote: client.name.clone(),
        gc: report,
        leftovers_removed: leftovers.len() as u64,
        requests: remote.report(false).requests,
    })
}

/// The remote's versions whose data is live: not retired there, tagged there, or pinned here;
/// and every version the remote records.
fn roots(ws: &Workspace, remote: &Remote) -> Result<(Vec<VersionId>, Vec<VersionId>)> {
    let (versions, tags) = list_records(remote)?;
    let events = super::records::list_lifecycle(remote)?;
    let states =
        crate::lifecycle::states_from(ws, |version, id| events.contains(&(version.0, *id)))?;
    let mut keep: HashSet<VersionId> = versions
        .iter()
        .map(|id| VersionId(*id))
        .filter(|id| states.get(id).is_none_or(|s| s.state != State::Retired))
        .collect();
    keep.extend(tags.into_values().flatten().map(VersionId));
    keep.extend(crate::pin::consumers(ws)?.into_iter().map(|c| c.id));
    let mut roots: Vec<VersionId> = keep
        .into_iter()
        .filter(|id| versions.contains(&id.0))
        .collect();
    roots.sort();
    Ok((roots, versions.into_iter().map(VersionId).collect()))
}

/// Every remote object the roots reach, and the profiles of every `recorded` version: the trees
/// and files they list (from the trees brought here), then the chunks and delta bases of each
/// as the remote stores it.
fn mark(
    ws: &Workspace,
    remote: &Remote,
    catalog: &Catalog,
    roots: &[VersionId],
    recorded: &[VersionId],
    progress: &dyn Progress,
) -> Result<HashSet<ObjectKey>> {
    let mut starts = Vec::new();
    for id in roots {
        starts.extend(ws.version(id)?.objects());
    }
    // Every recorded version's profile, a retired one's too. A profile tree the remote does
    // not hold either is no one's to keep; one it holds was brought here above (else the walk
    // stops rather than let its tables look like garbage).
    for id in recorded {
        if let Some(version) = ws.index.version(id)? {
            starts.extend(version.profile_objects().filter(|(kind, id)| {
                *kind == Kind::Blob || ws.store.has(*kind, id) || catalog.has(*kind, id)
            }));
        }
    }
    let mut listed = Vec::new();
    crate::reach::walk(&ws.store, starts, |kind, id| {
        if kind == Kind::Tree && !ws.store.has(kind, id) {
            // Unlisted entries would look like garbage: stop rather than guess.
            return Err(remote.client.error(format!(
                "tree {id} of a live version could not be brought here, so nothing was removed"
            )));
        }
        listed.push((kind, *id));
        Ok(Some(Vec::new()))
    })?;

    progress.begin("marking", 0, Unit::Objects);
    let mut live = HashSet::new();
    let mut frontier = listed;
    while !frontier.is_empty() {
        let held: Vec<ObjectKey> = frontier
            .drain(..)
            .filter(|object| live.insert(*object))
            .filter(|(kind, id)| catalog.has(*kind, id))
            .collect();
        progress.advance(held.len() as u64);
        frontier = remote_dependencies(remote, catalog, held)?
            .into_iter()
            .filter(|object| !live.contains(object))
            .collect();
    }
    progress.finish();
    live.retain(|(kind, id)| catalog.has(*kind, id));
    Ok(live)
}

/// The chunks and delta bases of `objects` as the remote stores them, from the first bytes of
/// each (the whole object for chunk lists).
fn remote_dependencies(
    remote: &Remote,
    catalog: &Catalog,
    objects: Vec<ObjectKey>,
) -> Result<Vec<ObjectKey>> {
    let client = &remote.client;
    let damaged = |(kind, id): ObjectKey, err: &Error| {
        client.error(format!(
            "its {} {id} is damaged, so gc stopped before removing anything: {}",
            kind.name(),
            err.object_reason()
        ))
    };
    let prefix = |length: u64| length.min(DEPENDENCY_PREFIX as u64);
    let heads = read_objects(remote, catalog, &objects, prefix)?;
    let mut out = Vec::new();
    let mut whole = Vec::new();
    for (object, head) in heads {
        match Store::prefix_dependencies(object.0, &object.1, &head) {
            Ok(Some(parts)) => out.extend(parts),
            Ok(None) => whole.push(object),
            Err(e) => return Err(damaged(object, &e)),
        }
    }
    for (object, bytes) in read_objects(remote, catalog, &whole, |length| length)? {
        let parts = Store::object_file_dependencies(object.0, &object.1, &bytes)
            .map_err(|e| damaged(object, &e))?;
        out.extend(parts);
    }
    Ok(out)
}

/// Reads the first `length(size)` bytes of each object's file on the remote (all of an object
/// larger than [`MAX_METADATA_OBJECT`] is refused).
fn read_objects(
    remote: &Remote,
    catalog: &Catalog,
    objects: &[ObjectKey],
    length: impl Fn(u64) -> u64,
) -> Result<Vec<(ObjectKey, Vec<u8>)>> {
    let client = &remote.client;
    let mut packed = Vec::new();
    let mut loose = Vec::new();
    for &object in objects {
        match catalog.place(object.0, &object.1) {
            Some(Place::Packed { pack, slot }) => {
                let wanted = length(slot.length).min(MAX_METADATA_OBJECT);
                packed.push((pack, object, slot.offset..slot.offset + wanted));
            }
            Some(Place::Loose { size }) => loose.push((object, length(size))),
            None => {}
        }
    }
    let mut out = remote.block_on(ranges::read(
        client,
        ranges::merge(packed),
        |object, bytes| (object, bytes.to_vec()),
    ))?;
    let from_loose: Vec<Result<(ObjectKey, Vec<u8>)>> = remote.block_on(
        futures::stream::iter(loose.into_iter().map(|((kind, id), wanted)| async move {
            if wanted > MAX_METADATA_OBJECT {
                return Err(client.error(format!(
                    "its {} {id} is a chunk list of {wanted} bytes, more than any may be",
                    kind.name()
                )));
            }
            let bytes = client
                .get_range(&layout::object_key(kind, &id), 0..wanted)
                .await?;
            Ok(((kind, id), bytes.to_vec()))
        }))
        .buffer_unordered(client.jobs)
        .collect(),
    );
    for item in from_loose {
        out.push(item?);
    }
    Ok(out)
}

/// Writes the live objects of `packs` into new packs (uploaded, with their indexes, before
/// anything is deleted).
fn repack(
    remote: &Remote,
    packs: &[&PackIndex],
    live: &HashSet<ObjectKey>,
    progress: &dyn Progress,
) -> Result<()> {
    progress.begin("repacking", 0, Unit::Bytes);
    let mut sender = Sender::new(remote, progress);
    for index in packs {
        let pieces = index.records().filter_map(|record| {
            let kind = Kind::from_code(record.kind)?;
            live.contains(&(kind, record.id)).then(|| {
                let range = record.slot.offset..record.slot.offset + record.slot.length;
                (index.pack_id(), (kind, record.id), range)
            })
        });
        let objects = remote.block_on(ranges::read(
            &remote.client,
            ranges::merge(pieces),
            |object, bytes| (object, bytes.to_vec()),
        ))?;
        // Copied byte for byte, as a push copies local objects.
        for ((kind, id), bytes) in objects {
            sender.add(kind, id, RawObject::Bytes(bytes))?;
        }
    }
    sender.finish(&mut Catalog::default())?;
    progress.finish();
    Ok(())
}
