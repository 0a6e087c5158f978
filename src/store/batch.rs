//! Batches: the objects of one commit (or fetch, or repack) written without waiting for the disk
//! one by one, packed when small, and published together.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{
    Kind, MAX_PACK_BYTES, MAX_PACKED_OBJECT, PACK_DIR, Pack, PackIndex, PackSet, PackWriter, Store,
    Stored, object_file,
};
use crate::error::{IoResultExt, Result};
use crate::id::Hash;

impl Store {
    /// Starts a batch of writes that become durable together (see [`Batch`]).
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            pending: Mutex::new(Vec::new()),
            packing: Mutex::default(),
            loose_fan_outs: Kind::ALL.map(|kind| self.fan_outs(kind)),
            packs: self.packs().ok(),
        }
    }

    /// Which fan-out directories of a kind exist (as their first hex byte's value).
    fn fan_outs(&self, kind: Kind) -> [bool; 256] {
        let mut present = [false; 256];
        for entry in fs::read_dir(self.root.join(kind.name()))
            .into_iter()
            .flatten()
        {
            if let Some(byte) = entry.ok().and_then(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| u8::from_str_radix(n, 16).ok())
            }) {
                present[byte as usize] = true;
            }
        }
        present
    }

    /// Makes packs this process just published visible without reading them back.
    fn add_packs(&self, new: Vec<Pack>) {
        let mut slot = self.packs.write().expect("no panics under the lock");
        if let Some(set) = slot.as_ref() {
            let mut packs = set.packs.clone();
            packs.extend(new.into_iter().map(Arc::new));
            *slot = Some(Arc::new(PackSet::with(packs, set.broken.clone())));
        }
    }
}

/// Objects written without waiting for the disk one by one, made durable together.
///
/// Small objects are appended to a pack, large ones go to temporary files; [`Batch::finish`]
/// fsyncs all of them at once (on several threads, so the filesystem can share journal
/// commits), then renames every loose object and every pack (then its index) into place and
/// fsyncs the directories. An object therefore only ever appears under its id after its bytes
/// are on disk — a crash at any point leaves whole objects or none. Dropping an unfinished
/// batch deletes its temporary files.
pub struct Batch<'a> {
    store: &'a Store,
    pub(super) pending: Mutex<Vec<(tempfile::TempPath, PathBuf)>>,
    packing: Mutex<Packing>,
    /// The loose fan-out directories present when the batch began, per kind: an object whose
    /// directory was absent need not be looked for (most are, once small objects are packed).
    loose_fan_outs: [[bool; 256]; Kind::ALL.len()],
    /// The pack indexes when the batch began, looked up without a lock or reference count:
    /// a commit asks once per file whether its content is stored.
    packs: Option<Arc<PackSet>>,
}

/// The packs of a batch: the one being appended to, the full ones, and what they hold.
#[derive(Default)]
struct Packing {
    current: Option<(PackWriter, tempfile::TempPath)>,
    full: Vec<(PackIndex, tempfile::TempPath)>,
    held: HashSet<(u8, Hash)>,
}

impl Packing {
    fn close_current(&mut self) -> Result<()> {
        if let Some((writer, path)) = self.current.take() {
            let index = writer.finish().with_path(&path)?;
            self.full.push((index, path));
        }
        Ok(())
    }
}

impl Batch<'_> {
    /// Like [`Store::put_bytes`], published when the batch finishes; `previous` is the
    /// object this content replaces (the same path in the previous version), a delta base.
    pub fn put_bytes(&self, kind: Kind, bytes: &[u8], previous: Option<&Hash>) -> Result<Hash> {
        self.store.put_bytes_in(kind, bytes, Some(self), previous)
    }

    /// Like [`Store::put_file`], published when the batch finishes; `previous` as for
    /// [`Batch::put_bytes`].
    pub fn put_file(&self, path: &Path, previous: Option<&Hash>) -> Result<Stored> {
        self.store.put_file_in(path, self, previous)
    }

    /// Whether the object is in the store (objects still pending in this batch are not), as
    /// of the batch's start: what another process adds meanwhile is missed, which only costs
    /// writing it again. A commit asks this for every file the stat cache vouches for.
    pub fn has(&self, kind: Kind, id: &Hash) -> bool {
        let kind_index = Kind::ALL.iter().position(|k| *k == kind).expect("a kind");
        let packed = match &self.packs {
            Some(packs) => packs.find(kind.code(), id).is_some(),
            None => self.store.find_packed(kind, id).is_some(),
        };
        packed
            || (self.loose_fan_outs[kind_index][id.0[0] as usize]
                && self.store.object_path(kind, id).exists())
    }

    /// Stores an object file exactly as it came (a verified object from another store): packed
    /// when small, else a file of its own.
    pub fn put_object_file(&self, kind: Kind, id: &Hash, object_file: &[u8]) -> Result<()> {
        if self.store.known(kind, id, Some(self)) {
            return Ok(());
        }
        let (header, payload) = object_file.split_at(object_file::HEADER_LEN);
        // Versions stay files of their own, as a commit writes them.
        if kind != Kind::Version && object_file.len() as u64 <= MAX_PACKED_OBJECT {
            self.append_to_pack(kind, id, header, payload)
        } else {
            self.store
                .publish(kind, id, Some(self), |out| out.write_all(object_file))
        }
    }

    /// Appends an object file to this batch's pack even though the store holds it already:
    /// repacking copies live objects out of a pack that is about to be removed.
    pub fn copy_object_file(&self, kind: Kind, id: &Hash, object_file: &[u8]) -> Result<()> {
        let (header, payload) = object_file.split_at(object_file::HEADER_LEN);
        self.append_to_pack(kind, id, header, payload)
    }

    /// Stores a verified object file received into a temporary file of [`Store::temp_file`].
    pub fn put_object_temp_file(
        &self,
        kind: Kind,
        id: &Hash,
        temp: tempfile::NamedTempFile,
    ) -> Result<()> {
        if self.store.known(kind, id, Some(self)) {
            return Ok(());
        }
        self.store.persist(kind, id, temp, Some(self))
    }

    /// Whether this batch already packed the object.
    pub(super) fn holds(&self, kind: Kind, id: &Hash) -> bool {
        self.lock_packing().held.contains(&(kind.code(), *id))
    }

    fn lock_packing(&self) -> std::sync::MutexGuard<'_, Packing> {
        self.packing
            .lock()
            .expect("no panics while holding the lock")
    }

    pub(super) fn append_to_pack(
        &self,
        kind: Kind,
        id: &Hash,
        header: &[u8],
        payload: &[u8],
    ) -> Result<()> {
        let mut packing = self.lock_packing();
        if !packing.held.insert((kind.code(), *id)) {
            return Ok(());
        }
        let (writer, path) = match &mut packing.current {
            Some(current) => current,
            None => {
                let (file, path) = self.store.temp_file()?.into_parts();
                let writer = PackWriter::new(file).with_path(&path)?;
                packing.current.insert((writer, path))
            }
        };
        writer
            .append(kind.code(), id, header, payload)
            .with_path(&*path)?;
        if writer.size() >= MAX_PACK_BYTES {
            packing.close_current()?;
        }
        Ok(())
    }

    /// Makes every object of the batch durable and visible under its id, all published
    /// together ([`PublishTogether`](crate::fs_util::PublishTogether)).
    pub fn finish(self) -> Result<()> {
        self.finish_packs().map(|_| ())
    }

    /// [`Batch::finish`], returning the packs it published (a repack must not remove a pack
    /// it wrote again under the same name).
    pub fn finish_packs(self) -> Result<Vec<PathBuf>> {
        let mut packing = self
            .packing
            .into_inner()
            .expect("no panics while holding the lock");
        packing.close_current()?;
        let pending = self
            .pending
            .into_inner()
            .expect("no panics while holding the lock");
        if pending.is_empty() && packing.full.is_empty() {
            return Ok(Vec::new());
        }
        let mut packs = Vec::new();
        for (index, pack_path) in packing.full {
            let mut index_file = self.store.temp_file()?;
            index_file
                .write_all(&index.encode())
                .with_path(index_file.path())?;
            packs.push((index, pack_path, index_file.into_temp_path()));
        }
        let mut files = crate::fs_util::PublishTogether::new("batch");
        for (temp, target) in pending {
            files.add(temp, target, "loose-renamed");
        }
        let pack_dir = self.store.root.join(PACK_DIR);
        let mut published = Vec::new();
        for (index, pack_temp, index_temp) in packs {
            let name = index.pack_id().to_hex();
            let pack_path = pack_dir.join(format!("{name}.pack"));
            let index_path = pack_dir.join(format!("{name}.idx"));
            // The pack first: a pack without its index is indexed by scanning it.
            files.add(pack_temp, pack_path.clone(), "pack-renamed");
            files.add(index_temp, index_path, "index-renamed");
            published.push(Pack::new(index, pack_path));
        }
        files.publish()?;
        let paths = published.iter().map(|pack| pack.path.clone()).collect();
        self.store.add_packs(published);
        Ok(paths)
    }
}
