//! `dv push`: sends a remote what it lacks of some versions, in an order that never lets the
//! remote name data it does not hold.
//!
//! A version the remote already lists is complete there (it was written last), so only the
//! versions it lacks are walked: their trees, files, chunks and delta bases, each sent unless
//! the remote's pack indexes or loose objects already hold it. Small objects travel in new packs
//! of up to [`REMOTE_PACK_BYTES`], built in memory from the local object files (no
//! recompression), several uploading at once; larger ones as objects of their own in parts.
//! A push that is interrupted leaves whole packs behind, which the next push counts as sent.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::Semaphore;

use super::catalog::Catalog;
use super::layout;
use super::records::{list_lifecycle, list_records};
use super::{Remote, TagConflict, TransferReport};
use crate::error::Result;
use crate::id::{Hash, VersionId};
use crate::object::Version;
use crate::progress::{Progress, Unit};
use crate::store::{Kind, MAX_PACKED_OBJECT, PackIndex, PackWriter, RawObject, Store};
use crate::workspace::Workspace;

/// A pack sent to a remote is closed at this size and the next one started.
pub const REMOTE_PACK_BYTES: u64 = 32 << 20;

/// What to push: every version and tag, or some versions (with everything they were made from)
/// and the tags that name them.
pub enum Selection {
    All,
    Versions(Vec<VersionId>),
}

/// Pushes versions, their data and tags to a remote; returns what was sent.
pub fn push(
    ws: &Workspace,
    remote: &Remote,
    selection: &Selection,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    let client = &remote.client;
    if remote.check_format()?.is_none() {
        let marker = super::Marker {
            format: layout::REMOTE_FORMAT,
            stages: Some(ws.stages().to_vec()),
        };
        let json = serde_json::to_vec(&marker).expect("the marker serializes");
        remote.block_on(client.put(layout::MARKER, Bytes::from(json)))?;
    }
    // Shared with other pushes; a pruning gc waits for it (and this push for a gc).
    let lock = super::lock::RemoteLock::acquire(remote, "push", false)?;
    let (remote_versions, remote_tags) = list_records(remote)?;
    let versions = chosen_versions(ws, selection)?;
    let missing: Vec<&(VersionId, Version)> = versions
        .iter()
        .filter(|(id, _)| !remote_versions.contains(&id.0))
        .collect();
    // A version listed there is complete there: with none missing, no data is looked at.
    let cache = super::catalog::index_cache(ws, client);
    let mut catalog = if missing.is_empty() {
        Catalog::default()
    } else {
        Catalog::load(remote, cache.as_deref())?
    };

    progress.begin("pushing", 0, Unit::Bytes);
    let mut sender = Sender::new(remote, progress);
    let starts = missing.iter().flat_map(|(_, version)| version.objects());
    crate::reach::walk(&ws.store, starts, |kind, id| {
        let raw = ws.store.raw_object(kind, id)?;
        let parts = match &raw {
            RawObject::Bytes(bytes) => Store::object_file_dependencies(kind, id, bytes)?,
            RawObject::File { .. } => ws.store.dependencies(kind, id)?,
        };
        if !catalog.has(kind, id) {
            sender.add(kind, *id, raw)?;
        }
        Ok(Some(parts))
    })?;
    for index in sender.finish(&mut catalog)? {
        if let Some(cache) = &cache {
            super::catalog::remember_index(cache, &index);
        }
        catalog.add_pack(&index);
    }

    // Version records, once everything they name is there (and still there: no gc ran).
    lock.check_held()?;
    let records: Vec<(Hash, Vec<u8>)> = missing
        .iter()
        .map(|(id, _)| match ws.store.raw_object(Kind::Version, &id.0)? {
            RawObject::Bytes(bytes) => Ok((id.0, bytes)),
            RawObject::File { path, .. } => Err(crate::error::Error::CorruptObject {
                kind: "version",
                id: id.0,
                reason: format!(
                    "{} is larger than any version object may be",
                    path.display()
                ),
            }),
        })
        .collect::<Result<_>>()?;
    let sent: Vec<Result<()>> = remote.block_on(
        futures::stream::iter(records.into_iter().map(|(id, bytes)| async move {
            client
                .put(&layout::version_key(&id), Bytes::from(bytes))
                .await
        }))
        .buffer_unordered(client.jobs)
        .collect(),
    );
    sent.into_iter().collect::<Result<Vec<()>>>()?;

    // Tags last: each is an append-only record, so two pushes cannot overwrite each other; a
    // tag naming another version there is a conflict, reported and left alone.
    let pushed: HashSet<VersionId> = versions.iter().map(|(id, _)| *id).collect();
    let mut report = remote.report(true);
    report.versions = missing.len() as u64;
    report.objects += report.versions;
    let mut written = Vec::new();
    for (name, id) in ws.index.tags()? {
        if !pushed.contains(&id) {
            continue;
        }
        let there = remote_tags.get(&name).cloned().unwrap_or_default();
        if there.contains(&id.0) && there.len() == 1 {
            continue;
        }
        if !there.is_empty() {
            report.conflicts.push(conflict(&name, &id, &there));
            continue;
        }
        remote.block_on(client.put(&layout::tag_key(&name, &id.0), Bytes::new()))?;
        written.push((name, id));
        report.tags += 1;
    }
    // Another push may have tagged the same name at the same moment: both records stay, and
    // both pushers (and every fetch) see the conflict.
    if !written.is_empty() {
        let (_, after) = list_records(remote)?;
        for (name, id) in written {
            if let Some(there) = after.get(&name).filter(|there| there.len() > 1) {
                report.conflicts.push(conflict(&name, &id, there));
            }
        }
    }
    report.lifecycle = push_lifecycle(ws, remote, &pushed)?;
    drop(lock);
    let counted = remote.report(true);
    report.requests = counted.requests;
    report.bytes = counted.bytes;
    progress.finish();
    Ok(report)
}

/// Sends the lifecycle events of the pushed versions the remote lacks (after the versions:
/// an event never names a version the remote does not hold). Returns how many were sent.
fn push_lifecycle(ws: &Workspace, remote: &Remote, pushed: &HashSet<VersionId>) -> Result<u64> {
    let events = crate::lifecycle::recorded(ws, Some(pushed))?;
    if events.is_empty() {
        return Ok(0);
    }
    let client = &remote.client;
    let there = list_lifecycle(remote)?;
    let missing: Vec<_> = events
        .into_iter()
        .filter(|(version, id, _)| !there.contains(&(version.0, *id)))
        .collect();
    let count = missing.len() as u64;
    let sent: Vec<Result<()>> = remote.block_on(
        futures::stream::iter(missing.into_iter().map(|(version, id, bytes)| async move {
            client
                .put(&layout::lifecycle_key(&version.0, &id), Bytes::from(bytes))
                .await
        }))
        .buffer_unordered(client.jobs)
        .collect(),
    );
    sent.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(count)
}

fn conflict(name: &str, local: &VersionId, there: &BTreeSet<Hash>) -> TagConflict {
    TagConflict {
        tag: name.to_string(),
        local: Some(local.to_hex()),
        remote: there.iter().map(Hash::to_hex).collect(),
    }
}

/// The versions a push covers: all of them, or the chosen ones and every version they were
/// made from (so lineage is whole wherever they are cloned).
fn chosen_versions(ws: &Workspace, selection: &Selection) -> Result<Vec<(VersionId, Version)>> {
    let roots = match selection {
        Selection::All => return ws.index.log(&crate::index::LogFilter::default()),
        Selection::Versions(ids) => ids.clone(),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack = roots;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let version = ws.version(&id)?;
        stack.extend(version.inputs.iter().copied());
        out.push((id, version));
    }
    Ok(out)
}

/// Packs objects into memory and uploads each full pack while the next one fills.
pub(super) struct Sender<'a> {
    remote: &'a Remote,
    progress: &'a dyn Progress,
    writer: Option<PackWriter<Vec<u8>>>,
    uploads: Vec<tokio::task::JoinHandle<Result<PackIndex>>>,
    in_flight: Arc<Semaphore>,
    loose: Vec<(Kind, Hash, RawObject)>,
    objects: u64,
}

impl<'a> Sender<'a> {
    pub(super) fn new(remote: &'a Remote, progress: &'a dyn Progress) -> Self {
        Sender {
            remote,
            progress,
            writer: None,
            uploads: Vec::new(),
            in_flight: Arc::new(Semaphore::new((remote.client.jobs / 4).max(2))),
            loose: Vec::new(),
            objects: 0,
        }
    }

    pub(super) fn add(&mut self, kind: Kind, id: Hash, raw: RawObject) -> Result<()> {
        self.objects += 1;
        let bytes = match raw {
            RawObject::Bytes(bytes) if bytes.len() as u64 <= MAX_PACKED_OBJECT => bytes,
            other => {
                self.loose.push((kind, id, other));
                return Ok(());
            }
        };
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => self
                .writer
                .insert(PackWriter::new(Vec::new()).expect(IN_MEMORY)),
        };
        let (header, payload) = bytes.split_at(crate::store::HEADER_LEN);
        writer
            .append(kind.code(), &id, header, payload)
            .expect(IN_MEMORY);
        if writer.size() >= REMOTE_PACK_BYTES {
            self.ship()?;
        }
        Ok(())
    }

    /// Starts uploading the pack being filled, waiting while too many are in flight.
    fn ship(&mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let (index, pack) = writer.finish_into().expect(IN_MEMORY);
        let permit = self
            .remote
            .block_on(Arc::clone(&self.in_flight).acquire_owned())
            .expect("the semaphore is never closed");
        let client = self.remote.client.clone();
        let size = pack.len() as u64;
        let progress_total = size;
        self.uploads.push(self.remote.runtime.spawn(async move {
            let id = index.pack_id();
            // The pack before its index: a reader only uses packs whose index it sees.
            client
                .put(&layout::pack_key(&id), Bytes::from(pack))
                .await?;
            client
                .put(&layout::index_key(&id), Bytes::from(index.encode()))
                .await?;
            drop(permit);
            crate::failpoint::hit("push", "pack-sent")
                .map_err(|e| crate::error::Error::io(layout::pack_key(&id), e))?;
            Ok(index)
        }));
        self.progress.advance(progress_total);
        Ok(())
    }

    /// Uploads the last pack and the large objects; returns the indexes of the packs sent.
    pub(super) fn finish(mut self, catalog: &mut Catalog) -> Result<Vec<PackIndex>> {
        self.ship()?;
        let uploads = std::mem::take(&mut self.uploads);
        let mut indexes = Vec::new();
        let mut first_error = None;
        for upload in uploads {
            match self
                .remote
                .block_on(upload)
                .expect("upload tasks do not panic")
            {
                Ok(index) => indexes.push(index),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let client = &self.remote.client;
        let loose = std::mem::take(&mut self.loose);
        let sent: Vec<Result<(Kind, Hash, u64)>> = self.remote.block_on(
            futures::stream::iter(loose.into_iter().map(|(kind, id, raw)| async move {
                let key = layout::object_key(kind, &id);
                let size = match raw {
                    RawObject::Bytes(bytes) => {
                        let size = bytes.len() as u64;
                        client.put(&key, Bytes::from(bytes)).await?;
                        size
                    }
                    RawObject::File { path, size } => {
                        client.put_file(&key, &path).await?;
                        size
                    }
                };
                Ok((kind, id, size))
            }))
            .buffer_unordered((client.jobs / 4).max(2))
            .collect(),
        );
        for result in sent {
            let (kind, id, size) = result?;
            self.progress.advance(size);
            catalog.add_loose(kind, id, size);
        }
        client
            .stats
            .objects
            .fetch_add(self.objects, std::sync::atomic::Ordering::Relaxed);
        Ok(indexes)
    }
}

/// Packs being sent are built in memory, where writing cannot fail.
const IN_MEMORY: &str = "writing to memory cannot fail";
