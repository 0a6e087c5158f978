//! The transfer engine behind fetch, pull and fetch on demand: objects come as ranged reads out
//! of remote packs (neighbouring objects merged into one request), so one file of a large
//! version costs one small download. An object is stored only once it and everything it is
//! rebuilt from (its chunks, its delta bases) verified against their ids; objects whose chunks
//! or bases are still on their way wait for them. Each group of objects is made durable before
//! the next is fetched, so an interrupted pull keeps what arrived and the next one asks only
//! for the rest.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;

use futures::StreamExt;
use rayon::prelude::*;

use super::Remote;
use super::catalog::{Catalog, Place, index_cache};
use super::client::Client;
use super::layout;
use super::ranges;
use crate::error::{Error, Result};
use crate::id::{Hash, TreeId, VersionId};
use crate::object::tree::{EntryKind, TreeSource};
use crate::object::walk::TreeLevels;
use crate::progress::{Progress, Unit};
use crate::store::{Kind, MAX_METADATA_OBJECT, Overlay, Store};
use crate::workspace::Workspace;

/// Objects fetched (and verified, and made durable) together, by their size on the remote.
const GROUP_BYTES: u64 = 64 << 20;

/// Loose objects larger than this are received into a file rather than memory.
const IN_MEMORY_LOOSE: u64 = 64 << 20;

/// An object: its kind and id.
type ObjectKey = (Kind, Hash);

/// A received object and the chunks or bases it still waits for.
type Waiting = (Received, Vec<ObjectKey>);

/// Received objects, or why they could not be.
type Arrivals = Result<Vec<(ObjectKey, Received)>>;

/// An object as received, before it is verified.
enum Received {
    Bytes(Vec<u8>),
    File(tempfile::NamedTempFile),
}

pub(super) struct Fetcher<'a> {
    ws: &'a Workspace,
    remote: &'a Remote,
    catalog: Catalog,
    progress: &'a dyn Progress,
}

/// Path filters below one tree: each a list of the components still to match.
type Filters = Option<Vec<Vec<Vec<u8>>>>;

/// A path given to `dv pull` as its components (`.` and empty ones dropped).
fn components(path: &str) -> Vec<Vec<u8>> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(|c| c.as_bytes().to_vec())
        .collect()
}

/// Where an entry stands against the path filters of its directory.
enum Narrowed {
    /// No path goes through it.
    Outside,
    /// A path names it: everything below it is wanted.
    Whole,
    /// Paths go on below it, with these components left.
    Below(Vec<Vec<Vec<u8>>>),
}

/// Matches the entry at `path` (its last component is the entry's name) against the filters
/// of its directory, recording the paths it completes in `matched`.
fn narrow(
    filters: &[Vec<Vec<u8>>],
    path: &[Vec<u8>],
    matched: &mut HashSet<Vec<Vec<u8>>>,
) -> Narrowed {
    let name = path.last().expect("an entry's path ends with its name");
    let mut rest = Vec::new();
    let mut whole = false;
    for filter in filters.iter().filter(|f| f.first() == Some(name)) {
        if filter.len() == 1 {
            matched.insert(path.to_vec());
            whole = true;
        } else {
            rest.push(filter[1..].to_vec());
        }
    }
    match (whole, rest.is_empty()) {
        (true, _) => Narrowed::Whole,
        (false, true) => Narrowed::Outside,
        (false, false) => Narrowed::Below(rest),
    }
}

impl<'a> Fetcher<'a> {
    pub(super) fn new(
        ws: &'a Workspace,
        remote: &'a Remote,
        progress: &'a dyn Progress,
    ) -> Result<Self> {
        remote.require_format()?;
        let catalog = Catalog::load(remote, index_cache(ws, &remote.client).as_deref())?;
        crate::failpoint::hit("pull", "catalog-loaded").map_err(|e| Error::io("pull", e))?;
        progress.begin("pulling", 0, Unit::Bytes);
        Ok(Fetcher {
            ws,
            remote,
            catalog,
            progress,
        })
    }

    /// Makes file contents local (each once), with their chunks and bases.
    pub(super) fn acquire_blobs(&self, blobs: Vec<Hash>) -> Result<()> {
        let mut seen = HashSet::new();
        let missing: Vec<ObjectKey> = blobs
            .into_iter()
            .filter(|id| seen.insert(*id) && !self.ws.store.has(Kind::Blob, id))
            .map(|id| (Kind::Blob, id))
            .collect();
        self.acquire(missing)
    }

    /// Makes the trees below `root`, a tree of version `id`, local (only those on the way to
    /// `paths` when given), level by level, and collects the files below them into `blobs`.
    pub(super) fn walk(
        &self,
        id: &VersionId,
        root: TreeId,
        paths: &[String],
        blobs: &mut Vec<Hash>,
    ) -> Result<()> {
        let wanted: Vec<Vec<Vec<u8>>> = paths.iter().map(|p| components(p)).collect();
        // No path, or one naming the version's root: all of it.
        let filters: Filters =
            (!wanted.is_empty() && wanted.iter().all(|p| !p.is_empty())).then(|| wanted.clone());
        let mut matched: HashSet<Vec<Vec<u8>>> = HashSet::new();
        let mut trees = TreeLevels::new([(root, (filters.clone(), Vec::new()))]);
        while let Some(level) = trees.next_level()? {
            let missing: HashSet<Hash> = level
                .iter()
                .map(|(tree, _)| tree.0)
                .filter(|tree| !self.ws.store.has(Kind::Tree, tree))
                .collect();
            self.acquire(missing.into_iter().map(|tree| (Kind::Tree, tree)).collect())?;
            for (tree_id, (filters, at)) in level {
                for entry in self.ws.store.tree(&tree_id)?.entries {
                    let mut path = at.clone();
                    path.push(entry.name.clone());
                    let below = match &filters {
                        None => None,
                        Some(filters) => match narrow(filters, &path, &mut matched) {
                            Narrowed::Outside => continue,
                            Narrowed::Whole => None,
                            Narrowed::Below(rest) => Some(rest),
                        },
                    };
                    match entry.kind {
                        EntryKind::Tree if below.is_none() => {
                            trees.push(TreeId(entry.id), (None, path))
                        }
                        EntryKind::Tree => trees.push_part(TreeId(entry.id), (below, path)),
                        // A file where a path goes on below it matches nothing.
                        _ if below.is_some() => {}
                        _ => blobs.push(entry.id),
                    }
                }
            }
        }
        if filters.is_some()
            && let Some((path, _)) = paths
                .iter()
                .zip(&wanted)
                .find(|(_, parts)| !matched.contains(*parts))
        {
            return Err(Error::PathNotInVersion {
                path: path.clone(),
                version: *id,
            });
        }
        Ok(())
    }

    /// Makes objects local with everything they are rebuilt from, verified, group by group.
    /// The next group downloads while the current one is verified and written.
    pub(super) fn acquire(&self, wanted: Vec<ObjectKey>) -> Result<()> {
        let store = &self.ws.store;
        let mut queued: HashSet<ObjectKey> = wanted.iter().copied().collect();
        let mut queue = wanted;
        let mut waiting: HashMap<ObjectKey, Waiting> = HashMap::new();
        let mut next = None;
        loop {
            let current = match next.take() {
                Some(started) => started,
                None if queue.is_empty() => break,
                None => self.start_download(self.take_group(&mut queue)?),
            };
            if !queue.is_empty() {
                next = Some(self.start_download(self.take_group(&mut queue)?));
            }
            let arrived = self
                .remote
                .block_on(current)
                .expect("download tasks do not panic")?;
            let mut ready = Vec::new();
            for (object, received) in arrived {
                let needs = self.dependencies(object, &received)?;
                let absent: Vec<ObjectKey> = needs
                    .into_iter()
                    .filter(|(kind, id)| !store.has(*kind, id))
                    .collect();
                for need in &absent {
                    if queued.insert(*need) {
                        queue.push(*need);
                    }
                }
                if absent.is_empty() {
                    ready.push((object, received));
                } else {
                    waiting.insert(object, (received, absent));
                }
            }
            self.store_verified(ready)?;
            loop {
                let now: Vec<ObjectKey> = waiting
                    .iter()
                    .filter(|(_, (_, needs))| needs.iter().all(|(k, id)| store.has(*k, id)))
                    .map(|(object, _)| *object)
                    .collect();
                if now.is_empty() {
                    break;
                }
                let ready = now
                    .into_iter()
                    .map(|object| (object, waiting.remove(&object).expect("listed").0))
                    .collect();
                self.store_verified(ready)?;
            }
        }
        if let Some(((kind, id), _)) = waiting.iter().next() {
            return Err(self.remote.client.error(format!(
                "{} {id} is rebuilt from objects that are rebuilt from it (a cycle): it was not stored",
                kind.name()
            )));
        }
        Ok(())
    }

    /// Takes up to [`GROUP_BYTES`] of objects (by their size on the remote) off the queue.
    fn take_group(&self, queue: &mut Vec<ObjectKey>) -> Result<Vec<ObjectKey>> {
        let mut group = Vec::new();
        let mut bytes = 0;
        while let Some(object) = queue.pop() {
            bytes += self.size_of(object)?;
            group.push(object);
            if bytes >= GROUP_BYTES {
                break;
            }
        }
        Ok(group)
    }

    fn size_of(&self, (kind, id): ObjectKey) -> Result<u64> {
        match self.catalog.place(kind, &id) {
            Some(Place::Packed { slot, .. }) => Ok(slot.length),
            Some(Place::Loose { size }) => Ok(size),
            None => Err(self.remote.client.error(format!(
                "it does not hold {} {id}, which a version there needs (the remote is \
                 incomplete or damaged)",
                kind.name()
            ))),
        }
    }

    /// The objects a received one is rebuilt from.
    fn dependencies(&self, (kind, id): ObjectKey, received: &Received) -> Result<Vec<ObjectKey>> {
        let client = &self.remote.client;
        match received {
            Received::Bytes(bytes) => Store::object_file_dependencies(kind, &id, bytes)
                .map_err(|e| rejected(client, kind, &id, &e)),
            // Only raw and zstd objects are received into files (see `download`).
            Received::File(_) => Ok(Vec::new()),
        }
    }

    /// Verifies received objects whose chunks and bases are all local, then stores them
    /// together; one damaged object stores nothing.
    fn store_verified(&self, ready: Vec<(ObjectKey, Received)>) -> Result<()> {
        if ready.is_empty() {
            return Ok(());
        }
        let client = &self.remote.client;
        let mut overlay = Overlay::new();
        let mut files = Vec::new();
        for (object, received) in ready {
            match received {
                Received::Bytes(bytes) => {
                    overlay.insert(object, bytes);
                }
                Received::File(temp) => files.push((object, temp)),
            }
        }
        let overlay = Arc::new(overlay);
        let view = self.ws.store.with_overlay(Arc::clone(&overlay));
        overlay.par_iter().try_for_each(|((kind, id), _)| {
            let verified = view.read(*kind, id).and_then(|mut reader| {
                io::copy(&mut reader, &mut io::sink())
                    .map(|_| ())
                    .map_err(|e| Error::CorruptObject {
                        kind: kind.name(),
                        id: *id,
                        reason: e.to_string(),
                    })
            });
            verified.map_err(|e| rejected(client, *kind, id, &e))
        })?;
        files.par_iter().try_for_each(|((kind, id), temp)| {
            Store::verify_object_file(*kind, id, temp.path())
                .map_err(|e| rejected(client, *kind, id, &e))
        })?;
        let batch = self.ws.store.batch();
        let mut bytes = 0;
        for ((kind, id), object_file) in overlay.iter() {
            batch.put_object_file(*kind, id, object_file)?;
            bytes += object_file.len() as u64;
        }
        let count = overlay.len() + files.len();
        for ((kind, id), temp) in files {
            bytes += temp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
            batch.put_object_temp_file(kind, &id, temp)?;
        }
        batch.finish()?;
        client
            .stats
            .objects
            .fetch_add(count as u64, std::sync::atomic::Ordering::Relaxed);
        self.progress.advance(bytes);
        if overlay.keys().any(|(kind, _)| *kind != Kind::Tree) {
            crate::failpoint::hit("pull", "data-stored").map_err(|e| Error::io("pull", e))?;
        }
        Ok(())
    }

    /// Plans a group's download: ranged reads of packs (neighbours merged), loose objects
    /// whole.
    fn plan(&self, group: Vec<ObjectKey>) -> Plan {
        let mut packed = Vec::new();
        let mut loose = Vec::new();
        for object in group {
            match self.catalog.place(object.0, &object.1) {
                Some(Place::Packed { pack, slot }) => {
                    packed.push((pack, object, slot.offset..slot.offset + slot.length))
                }
                Some(Place::Loose { size }) => loose.push((object, size)),
                None => unreachable!("size_of checked every object"),
            }
        }
        Plan {
            ranges: ranges::merge(packed),
            loose,
        }
    }

    /// Starts downloading a group on the remote's runtime; its bytes are awaited later.
    fn start_download(&self, group: Vec<ObjectKey>) -> tokio::task::JoinHandle<Arrivals> {
        let plan = self.plan(group);
        let client = self.remote.client.clone();
        let store = self.ws.store.clone();
        self.remote.runtime.spawn(download(client, store, plan))
    }
}

/// The requests that fetch one group of objects.
struct Plan {
    ranges: Vec<ranges::Request<ObjectKey>>,
    loose: Vec<(ObjectKey, u64)>,
}

/// Runs a plan, many requests at once.
async fn download(client: Client, store: Store, plan: Plan) -> Arrivals {
    let client = &client;
    let from_packs = ranges::read(client, plan.ranges, |object, bytes| {
        (object, Received::Bytes(bytes.to_vec()))
    })
    .await;
    let store = &store;
    let whole: Vec<Result<(ObjectKey, Received)>> =
        futures::stream::iter(plan.loose.into_iter().map(|((kind, id), size)| async move {
            let key = layout::object_key(kind, &id);
            if size <= IN_MEMORY_LOOSE {
                let bytes = client
                    .get(&key, size)
                    .await?
                    .ok_or_else(|| client.gone(&key))?;
                return Ok(((kind, id), Received::Bytes(bytes.to_vec())));
            }
            let mut temp = store.temp_file()?;
            client.get_to_file(&key, size, temp.as_file_mut()).await?;
            Ok(((kind, id), into_memory_unless_streamable(kind, &id, temp)?))
        }))
        .buffer_unordered((client.jobs / 4).max(2))
        .collect()
        .await;
    let mut out = from_packs?;
    for one in whole {
        out.push(one?);
    }
    Ok(out)
}

/// A large received object file stays a file when it can be verified by streaming (raw or
/// zstd); a chunk list or delta is read into memory (bounded), where the store rebuilds it.
fn into_memory_unless_streamable(
    kind: Kind,
    id: &Hash,
    temp: tempfile::NamedTempFile,
) -> Result<Received> {
    use std::io::Read;
    let mut file =
        crate::fs_util::open_regular(temp.path()).map_err(|e| Error::io(temp.path(), e))?;
    let header = crate::store::Header::read(&mut file).map_err(|e| Error::CorruptObject {
        kind: kind.name(),
        id: *id,
        reason: e.to_string(),
    })?;
    match header.encoding {
        crate::store::Encoding::Raw | crate::store::Encoding::Zstd => Ok(Received::File(temp)),
        _ => {
            let mut bytes = Vec::new();
            crate::fs_util::open_regular(temp.path())
                .and_then(|f| f.take(MAX_METADATA_OBJECT + 16).read_to_end(&mut bytes))
                .map_err(|e| Error::io(temp.path(), e))?;
            Ok(Received::Bytes(bytes))
        }
    }
}

/// An object a remote sent that is not what its id says: nothing of it was stored.
pub(super) fn rejected(client: &Client, kind: Kind, id: &Hash, err: &Error) -> Error {
    client.error(format!(
        "the {} {id} it sent is damaged, so it was not stored: {}",
        kind.name(),
        err.object_reason()
    ))
}
