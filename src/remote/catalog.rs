//! What a remote holds: its packs (through their indexes) and its loose objects.
//!
//! Pack indexes are downloaded once and kept in `.dv/remotes/NAME/packs/` (a cache: checked
//! again on every load, never trusted because it is there). An index is accepted only if it
//! passes its checksum, names the pack it sits beside, and every entry lies inside that pack.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures::StreamExt;

use super::Remote;
use super::client::{Client, Listed};
use super::layout::{self, PackFile};
use crate::error::Result;
use crate::id::Hash;
use crate::store::{Kind, PackIndex, PackSlot};
use crate::workspace::Workspace;

/// Bytes before the first entry of a pack (its header and the first entry's prefix).
const FIRST_OFFSET: u64 = 8 + 1 + 32 + 8;
/// The smallest entry of a pack: a prefix and an object header.
const MIN_ENTRY: u64 = 1 + 32 + 8 + 16;

/// Where a remote keeps one object.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    Packed { pack: Hash, slot: PackSlot },
    Loose { size: u64 },
}

/// The objects a remote holds.
#[derive(Default)]
pub struct Catalog {
    packed: HashMap<(Kind, Hash), (Hash, PackSlot)>,
    loose: HashMap<(Kind, Hash), Stored>,
    /// Every usable pack, with its index (gc weighs each pack's contents).
    pub(super) packs: Vec<(PackIndex, Stored)>,
    /// Pack files without their index and indexes without their pack (an interrupted push or
    /// gc): never read, removed by gc.
    pub(super) orphans: Vec<Listed>,
}

/// The size of a remote file and when it was last written (by the remote's clock); for a pack,
/// the later of its pack file and its index.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stored {
    pub size: u64,
    pub modified: SystemTime,
}

impl Catalog {
    /// Lists the remote's packs and loose objects, loading every pack index (from the cache
    /// when it holds a valid copy).
    pub fn load(remote: &Remote, cache: Option<&Path>) -> Result<Catalog> {
        let client = &remote.client;
        let (packs, objects) = remote.block_on(async {
            futures::try_join!(client.list(layout::PACKS), client.list(layout::OBJECTS))
        })?;
        let mut catalog = Catalog::default();
        for Listed {
            key,
            size,
            modified,
        } in objects
        {
            let (kind, id) = layout::parse_object_key(client, &key)?;
            catalog.loose.insert((kind, id), Stored { size, modified });
        }
        let mut pack_files = HashMap::new();
        let mut indexes = HashMap::new();
        for listed in packs {
            match layout::parse_pack_key(client, &listed.key)? {
                PackFile::Pack(id) => pack_files.insert(id, listed),
                PackFile::Index(id) => indexes.insert(id, listed),
            };
        }
        // A pack whose index is missing (an interrupted push) is not used: its objects are
        // sent again in another pack.
        let mut wanted = Vec::new();
        for (id, index) in indexes {
            match pack_files.remove(&id) {
                Some(pack) => wanted.push((id, pack, index)),
                None => catalog.orphans.push(index),
            }
        }
        catalog.orphans.extend(pack_files.into_values());
        let loaded: Vec<Result<(PackIndex, Stored)>> = remote.block_on(
            futures::stream::iter(wanted.iter().map(|(id, pack, index)| async move {
                let loaded = load_index(remote, cache, *id, pack.size, index.size).await?;
                let stored = Stored {
                    size: pack.size,
                    modified: pack.modified.max(index.modified),
                };
                Ok((loaded, stored))
            }))
            .buffer_unordered(client.jobs)
            .collect(),
        );
        for item in loaded {
            let (index, stored) = item?;
            catalog.add_pack(&index);
            catalog.packs.push((index, stored));
        }
        Ok(catalog)
    }

    /// Records a pack's objects (one this process just uploaded, or a loaded one).
    pub fn add_pack(&mut self, index: &PackIndex) {
        for record in index.records() {
            if let Some(kind) = Kind::from_code(record.kind) {
                self.packed
                    .entry((kind, record.id))
                    .or_insert((index.pack_id(), record.slot));
            }
        }
    }

    /// Records a loose object this process just uploaded.
    pub fn add_loose(&mut self, kind: Kind, id: Hash, size: u64) {
        let modified = SystemTime::now();
        self.loose.insert((kind, id), Stored { size, modified });
    }

    /// The loose objects, with their sizes and ages.
    pub(super) fn loose(&self) -> impl Iterator<Item = (&(Kind, Hash), &Stored)> {
        self.loose.iter()
    }

    pub fn has(&self, kind: Kind, id: &Hash) -> bool {
        self.packed.contains_key(&(kind, *id)) || self.loose.contains_key(&(kind, *id))
    }

    pub fn place(&self, kind: Kind, id: &Hash) -> Option<Place> {
        if let Some((pack, slot)) = self.packed.get(&(kind, *id)) {
            return Some(Place::Packed {
                pack: *pack,
                slot: *slot,
            });
        }
        self.loose
            .get(&(kind, *id))
            .map(|stored| Place::Loose { size: stored.size })
    }
}

fn cache_path(cache: &Path, id: &Hash) -> PathBuf {
    cache.join(format!("{}.idx", id.to_hex()))
}

/// One pack's index: from the cache if valid, else downloaded, checked and cached.
async fn load_index(
    remote: &Remote,
    cache: Option<&Path>,
    id: Hash,
    pack_size: u64,
    index_size: u64,
) -> Result<PackIndex> {
    let client = &remote.client;
    let max = 48 + 32 + (pack_size / MIN_ENTRY + 1) * 49;
    if let Some(cache) = cache
        && let Ok(Some(bytes)) = crate::fs_util::read_bounded(&cache_path(cache, &id), max)
        && let Ok(index) = check_index(&bytes, id, pack_size)
    {
        return Ok(index);
    }
    let key = layout::index_key(&id);
    if index_size > max {
        return Err(client.error(format!(
            "{key} is {index_size} bytes, too large for a pack of {pack_size} bytes"
        )));
    }
    let bytes = client
        .get(&key, max)
        .await?
        .ok_or_else(|| client.error(format!("{key} disappeared while it was being read")))?;
    let index = check_index(&bytes, id, pack_size)
        .map_err(|reason| client.error(format!("{key} is damaged: {reason}")))?;
    if let Some(cache) = cache {
        remember_index(cache, &index);
    }
    Ok(index)
}

/// Keeps a remote pack's index in the cache. Only a cache: failing to keep it costs a download
/// next time.
pub fn remember_index(cache: &Path, index: &PackIndex) {
    let _ = std::fs::create_dir_all(cache);
    let _ = crate::fs_util::write_atomic(
        &cache_path(cache, &index.pack_id()),
        &index.encode(),
        "pack-index",
    );
}

/// Drops a removed pack's index from the cache.
pub fn forget_index(cache: &Path, id: &Hash) {
    let _ = std::fs::remove_file(cache_path(cache, id));
}

/// Parses a remote pack index and checks it describes the pack `id` of `pack_size` bytes.
fn check_index(bytes: &[u8], id: Hash, pack_size: u64) -> Result<PackIndex, String> {
    let index = PackIndex::decode(bytes)?;
    if index.pack_id() != id {
        return Err(format!("it describes pack {}", index.pack_id()));
    }
    for record in index.records() {
        if Kind::from_code(record.kind).is_none_or(|kind| kind == Kind::Version) {
            return Err(format!(
                "it lists an object of unknown kind {}",
                record.kind
            ));
        }
        let end = record.slot.offset.checked_add(record.slot.length);
        if record.slot.offset < FIRST_OFFSET
            || record.slot.length < 16
            || end.is_none_or(|end| end > pack_size)
        {
            return Err(format!(
                "it places {} at bytes {}..+{} of a {pack_size}-byte pack",
                record.id, record.slot.offset, record.slot.length
            ));
        }
    }
    Ok(index)
}

/// Where a workspace keeps a remote's pack indexes (a cache), when it may write.
pub(super) fn index_cache(ws: &Workspace, client: &Client) -> Option<PathBuf> {
    ws.writable()
        .then(|| ws.dv_dir().join("remotes").join(&client.name).join("packs"))
}
