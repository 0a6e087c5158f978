//! Pack files: many small objects in one file.
//!
//! One file per object costs an inode each, and for 100,000 small files creating them is most
//! of a commit's time. A commit therefore appends its small objects to a pack, as git and
//! restic do. Each entry in a pack is a complete object file (header and payload) preceded by
//! its kind, id and length, so a pack describes itself; the `.idx` beside it is a sorted table
//! from (kind, id) to offset and length that makes look-ups a binary search. An index that is
//! missing or damaged is rebuilt from its pack.
//!
//! ```text
//! <pack id>.pack: "dvpk" format(1) 0 0 0, then per entry:
//!     kind(1) id(32) length(u64 LE) object-file(length)
//! <pack id>.idx:  "dvpi" format(1) 0 0 0 count(u64 LE) pack-id(32),
//!     count records sorted by (kind, id): kind(1) id(32) offset(u64 LE) length(u64 LE),
//!     blake3 of everything before (32)
//! ```
//!
//! The pack id is the blake3 hash of the whole pack file.

use std::cmp::Ordering;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{self, AtomicUsize};
use std::sync::{Arc, OnceLock};

use crate::id::Hash;

const PACK_MAGIC: &[u8; 4] = b"dvpk";
const INDEX_MAGIC: &[u8; 4] = b"dvpi";
/// The pack format this dv writes and the newest it reads.
pub const PACK_FORMAT: u8 = 1;
const PACK_HEADER_LEN: u64 = 8;
const ENTRY_PREFIX_LEN: usize = 1 + 32 + 8;
const RECORD_LEN: usize = 1 + 32 + 8 + 8;
const INDEX_HEADER_LEN: usize = 8 + 8 + 32;

/// A pack is closed and a new one started once it holds this many bytes.
pub const MAX_PACK_BYTES: u64 = 128 << 20;

/// How many pack files a process keeps open at most, and how many it does.
const MAX_PACKS_KEPT_OPEN: usize = 128;
static KEPT_OPEN: AtomicUsize = AtomicUsize::new(0);

/// Largest object file (header and payload) kept in a pack; larger objects stay loose files,
/// streamed on read. Also bounds what a crafted index can make a reader allocate.
pub const MAX_PACKED_OBJECT: u64 = (1 << 20) + 16;

/// Where one packed object is: the object file's bytes at `offset..offset + length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub offset: u64,
    pub length: u64,
}

/// One entry of a pack index.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub kind: u8,
    pub id: Hash,
    pub slot: Slot,
}

impl Record {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.slot.offset.to_le_bytes());
        out.extend_from_slice(&self.slot.length.to_le_bytes());
    }

    fn decode(raw: &[u8]) -> Record {
        Record {
            kind: raw[0],
            id: Hash(raw[1..33].try_into().expect("32 bytes")),
            slot: Slot {
                offset: u64_at(raw, 33),
                length: u64_at(raw, 41),
            },
        }
    }
}

/// The sorted table of one pack, kept as its encoded records so loading is one read.
#[derive(Clone)]
pub struct PackIndex {
    pack_id: Hash,
    records: Vec<u8>,
    /// Per kind present, where the records whose id starts with each byte begin (as git's
    /// `.idx` fan-out): a lookup binary-searches one 256th of the table. Built on load.
    fan_out: Vec<(u8, Box<[u32; 257]>)>,
}

/// Where each kind's records start per first id byte, for records sorted by (kind, id):
/// counted per byte, then summed, one pass.
fn fan_out_of(records: &[u8]) -> Vec<(u8, Box<[u32; 257]>)> {
    let mut tables: Vec<(u8, Box<[u32; 257]>)> = Vec::new();
    for (i, raw) in records.chunks_exact(RECORD_LEN).enumerate() {
        if tables.last().is_none_or(|(k, _)| *k != raw[0]) {
            // A new kind: its table starts as counts, all at this record's position.
            let mut table = Box::new([0u32; 257]);
            table[0] = i as u32;
            tables.push((raw[0], table));
        }
        let table = &mut tables.last_mut().expect("pushed above").1;
        table[raw[1] as usize + 1] += 1;
    }
    for (_, table) in &mut tables {
        for byte in 0..256 {
            table[byte + 1] += table[byte];
        }
    }
    tables
}

impl PackIndex {
    /// Builds the index of a pack from its entries (in any order).
    pub fn new(pack_id: Hash, mut entries: Vec<Record>) -> PackIndex {
        entries.sort_by_key(|e| (e.kind, e.id));
        entries.dedup_by(|a, b| (a.kind, a.id) == (b.kind, b.id));
        let mut records = Vec::with_capacity(entries.len() * RECORD_LEN);
        for entry in &entries {
            entry.encode_into(&mut records);
        }
        let fan_out = fan_out_of(&records);
        PackIndex {
            pack_id,
            records,
            fan_out,
        }
    }

    pub fn pack_id(&self) -> Hash {
        self.pack_id
    }

    pub fn len(&self) -> usize {
        self.records.len() / RECORD_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn record(&self, i: usize) -> Record {
        Record::decode(&self.records[i * RECORD_LEN..(i + 1) * RECORD_LEN])
    }

    /// Looks an object up: the fan-out narrows it to the ids sharing its first byte, then a
    /// binary search.
    pub fn find(&self, kind: u8, id: &Hash) -> Option<Slot> {
        let (_, table) = self.fan_out.iter().find(|(k, _)| *k == kind)?;
        let first = id.0[0] as usize;
        let (mut low, mut high) = (table[first] as usize, table[first + 1] as usize);
        while low < high {
            let mid = (low + high) / 2;
            let raw = &self.records[mid * RECORD_LEN..(mid + 1) * RECORD_LEN];
            match compare_ids(&raw[1..33], &id.0) {
                Ordering::Less => low = mid + 1,
                Ordering::Greater => high = mid,
                Ordering::Equal => return Some(Record::decode(raw).slot),
            }
        }
        None
    }

    /// Every record, sorted by kind and id.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        (0..self.len()).map(|i| self.record(i))
    }

    /// The bytes of the `.idx` file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INDEX_HEADER_LEN + self.records.len() + 32);
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&[PACK_FORMAT, 0, 0, 0]);
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.pack_id.0);
        out.extend_from_slice(&self.records);
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        out
    }

    /// Parses an `.idx` file, checking its checksum, its order and its sizes.
    pub fn decode(bytes: &[u8]) -> Result<PackIndex, String> {
        if bytes.len() < INDEX_HEADER_LEN + 32 || &bytes[..4] != INDEX_MAGIC {
            return Err("it is not a dv pack index".into());
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != checksum {
            return Err("its checksum does not match its content".into());
        }
        if body[4] > PACK_FORMAT {
            return Err(super::too_new("pack", body[4], PACK_FORMAT));
        }
        let count = u64_at(body, 8);
        let records = &body[INDEX_HEADER_LEN..];
        if Some(records.len() as u64) != count.checked_mul(RECORD_LEN as u64) {
            return Err("its record count does not match its size".into());
        }
        let mut index = PackIndex {
            pack_id: Hash(body[16..48].try_into().expect("32 bytes")),
            records: records.to_vec(),
            fan_out: Vec::new(),
        };
        let mut previous: Option<(u8, Hash)> = None;
        for record in index.records() {
            if previous.is_some_and(|p| p >= (record.kind, record.id))
                || record.slot.length > MAX_PACKED_OBJECT
            {
                return Err("its records are out of order or too large".into());
            }
            previous = Some((record.kind, record.id));
        }
        index.fan_out = fan_out_of(&index.records);
        Ok(index)
    }

    /// Rebuilds the index of a pack by reading the pack from start to end.
    pub fn scan(path: &Path) -> io::Result<PackIndex> {
        let mut input = BufReader::with_capacity(1 << 20, crate::fs_util::open_regular(path)?);
        let mut hasher = blake3::Hasher::new();
        let mut header = [0u8; PACK_HEADER_LEN as usize];
        input.read_exact(&mut header).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => super::invalid_data("it is shorter than a pack header"),
            _ => e,
        })?;
        check_pack_header(&header)?;
        hasher.update(&header);
        let mut offset = PACK_HEADER_LEN;
        let mut entries = Vec::new();
        let mut object = Vec::new();
        loop {
            let mut prefix = [0u8; ENTRY_PREFIX_LEN];
            match super::read_full(&mut input, &mut prefix)? {
                0 => break,
                n if n < ENTRY_PREFIX_LEN => return Err(cut_short()),
                _ => {}
            }
            hasher.update(&prefix);
            let length = u64_at(&prefix, 33);
            if length > MAX_PACKED_OBJECT {
                return Err(super::invalid_data(
                    "an entry claims more bytes than a packed object may hold",
                ));
            }
            object.resize(length as usize, 0);
            input.read_exact(&mut object).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => cut_short(),
                _ => e,
            })?;
            hasher.update(&object);
            offset += ENTRY_PREFIX_LEN as u64;
            entries.push(Record {
                kind: prefix[0],
                id: Hash(prefix[1..33].try_into().expect("32 bytes")),
                slot: Slot { offset, length },
            });
            offset += length;
        }
        Ok(PackIndex::new(Hash::from(hasher.finalize()), entries))
    }
}

/// A pack on disk with its index; the file is opened on first read and kept open.
pub struct Pack {
    pub index: PackIndex,
    pub path: PathBuf,
    file: OnceLock<File>,
}

impl Pack {
    pub fn new(index: PackIndex, path: PathBuf) -> Pack {
        Pack {
            index,
            path,
            file: OnceLock::new(),
        }
    }

    /// Reads one packed object file (header and payload).
    pub fn read_slot(&self, slot: Slot) -> io::Result<Vec<u8>> {
        if slot.length > MAX_PACKED_OBJECT {
            return Err(super::invalid_data(
                "its pack index claims an oversized entry",
            ));
        }
        // Packs stay open once read, up to a limit: a store with a pack per commit must not
        // exhaust the process's file descriptors; past the limit a read opens its own handle.
        let opened;
        let file = match self.file.get() {
            Some(file) => file,
            None if KEPT_OPEN.load(atomic::Ordering::Relaxed) < MAX_PACKS_KEPT_OPEN => {
                // Another thread may set it first; then this handle is simply closed.
                if self
                    .file
                    .set(crate::fs_util::open_regular(&self.path)?)
                    .is_ok()
                {
                    KEPT_OPEN.fetch_add(1, atomic::Ordering::Relaxed);
                }
                self.file.get().expect("set just above")
            }
            None => {
                opened = crate::fs_util::open_regular(&self.path)?;
                &opened
            }
        };
        let mut bytes = vec![0u8; slot.length as usize];
        file.read_exact_at(&mut bytes, slot.offset)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => truncated(),
                _ => e,
            })?;
        Ok(bytes)
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        if self.file.get().is_some() {
            KEPT_OPEN.fetch_sub(1, atomic::Ordering::Relaxed);
        }
    }
}

/// Every pack of a store, loaded once per process and extended as batches add packs.
#[derive(Default)]
pub struct PackSet {
    pub packs: Vec<Arc<Pack>>,
    /// Packs that could not be indexed (their objects count as missing).
    pub broken: Vec<super::BrokenPack>,
    /// With many packs (one per commit), one sorted table over all of them, built on first use,
    /// so a look-up stays one binary search instead of one per pack.
    merged: OnceLock<Merged>,
}

/// Every record of every pack, sorted by kind and id, with a fan-out per kind over the ids'
/// first 12 bits: a look-up searches a few dozen neighbouring records, not the whole table (a
/// commit looks up every file it finds, and the cache misses of a search over the table were
/// a quarter of a small commit).
struct Merged {
    records: Vec<(u8, Hash, u32, Slot)>,
    /// The kinds present, in order, each with [`MERGED_FAN`] + 1 start positions.
    kinds: Vec<(u8, Vec<u32>)>,
}

/// Buckets of the merged fan-out per kind (by the first 12 bits of an id).
const MERGED_FAN: usize = 1 << 12;

fn bucket(id: &Hash) -> usize {
    (usize::from(id.0[0]) << 4) | usize::from(id.0[1] >> 4)
}

impl Merged {
    fn new(packs: &[Arc<Pack>]) -> Merged {
        let mut records: Vec<(u8, Hash, u32, Slot)> = packs
            .iter()
            .enumerate()
            .flat_map(|(n, pack)| {
                pack.index
                    .records()
                    .map(move |r| (r.kind, r.id, n as u32, r.slot))
            })
            .collect();
        // Each pack's records are sorted already; the ids compare eight bytes at a time.
        records.sort_unstable_by(|a, b| {
            (a.0.cmp(&b.0))
                .then_with(|| compare_ids(&a.1.0, &b.1.0))
                .then(a.2.cmp(&b.2))
        });
        let mut kinds: Vec<(u8, Vec<u32>)> = Vec::new();
        for (at, (kind, id, ..)) in records.iter().enumerate() {
            if kinds.last().is_none_or(|(k, _)| k != kind) {
                // Bucket counts first; turned into start positions below.
                let mut fan = vec![0u32; MERGED_FAN + 1];
                fan[0] = at as u32;
                kinds.push((*kind, fan));
            }
            let (_, fan) = kinds.last_mut().expect("just pushed");
            fan[bucket(id) + 1] += 1;
        }
        for (_, fan) in &mut kinds {
            for b in 1..=MERGED_FAN {
                fan[b] += fan[b - 1];
            }
        }
        Merged { records, kinds }
    }

    fn find(&self, kind: u8, id: &Hash) -> Option<(u32, Slot)> {
        let (_, fan) = self.kinds.iter().find(|(k, _)| *k == kind)?;
        let (low, high) = (fan[bucket(id)] as usize, fan[bucket(id) + 1] as usize);
        let range = &self.records[low..high];
        let at = range.partition_point(|(_, i, ..)| compare_ids(&i.0, &id.0) == Ordering::Less);
        match range.get(at) {
            Some(&(_, i, n, slot)) if i == *id => Some((n, slot)),
            _ => None,
        }
    }
}

/// Up to this many packs are searched one by one; beyond, through the merged table.
const PACKS_SEARCHED_ONE_BY_ONE: usize = 4;

impl PackSet {
    /// Loads the index of every pack in `dir`, reusing those `previous` already holds. An index
    /// that is missing, damaged or belongs to another pack is rebuilt from the pack (and written
    /// back when possible); a pack that cannot be read is listed as broken.
    pub fn load(dir: &Path, previous: Option<&PackSet>, write_back: bool) -> io::Result<PackSet> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(PackSet::default()),
            Err(e) => return Err(e),
        };
        let mut set = PackSet::default();
        for entry in entries {
            let path = entry?.path();
            let Some(pack_id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pack"))
                .and_then(Hash::from_hex)
            else {
                continue;
            };
            if let Some(known) = previous
                .into_iter()
                .flat_map(|p| &p.packs)
                .find(|p| p.path == path)
            {
                set.packs.push(Arc::clone(known));
                continue;
            }
            match load_index(&path, pack_id, write_back) {
                Ok(index) => set.packs.push(Arc::new(Pack::new(index, path))),
                Err(e) => set.broken.push(super::BrokenPack {
                    path,
                    reason: e.to_string(),
                }),
            }
        }
        set.packs.sort_by(|a, b| a.path.cmp(&b.path));
        set.broken.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(set)
    }

    /// A set of already loaded packs.
    pub fn with(packs: Vec<Arc<Pack>>, broken: Vec<super::BrokenPack>) -> PackSet {
        PackSet {
            packs,
            broken,
            merged: OnceLock::new(),
        }
    }

    /// Finds an object in any pack.
    pub fn find(&self, kind: u8, id: &Hash) -> Option<(&Arc<Pack>, Slot)> {
        if self.packs.len() <= PACKS_SEARCHED_ONE_BY_ONE {
            return self
                .packs
                .iter()
                .find_map(|pack| pack.index.find(kind, id).map(|slot| (pack, slot)));
        }
        let (n, slot) = self
            .merged
            .get_or_init(|| Merged::new(&self.packs))
            .find(kind, id)?;
        Some((&self.packs[n as usize], slot))
    }
}

/// Orders a stored id against a wanted one, by their first eight bytes as one integer before
/// the rest: a commit looks up every file it finds, and a library `memcmp` per step of the
/// binary search was an eighth of a small commit's time.
fn compare_ids(stored: &[u8], wanted: &[u8; 32]) -> Ordering {
    let head = |bytes: &[u8]| u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
    head(stored)
        .cmp(&head(wanted))
        .then_with(|| stored[8..32].cmp(&wanted[8..]))
}

/// An index larger than this cannot belong to a pack (records are 49 bytes, packs close at
/// 128 MiB): a bigger file is not read.
const MAX_INDEX_BYTES: u64 = 1 << 30;

fn load_index(pack_path: &Path, pack_id: Hash, write_back: bool) -> io::Result<PackIndex> {
    let index_path = pack_path.with_extension("idx");
    let loaded = crate::fs_util::read_bounded(&index_path, MAX_INDEX_BYTES)
        .ok()
        .flatten()
        .and_then(|bytes| PackIndex::decode(&bytes).ok())
        .filter(|index| index.pack_id == pack_id);
    if let Some(index) = loaded {
        return Ok(index);
    }
    let index = PackIndex::scan(pack_path)?;
    if index.pack_id != pack_id {
        return Err(super::invalid_data("its content does not match its name"));
    }
    // A rebuilt index is only a cache of the pack: failing to save it is fine, and a reader
    // of a read-only workspace does not try.
    if write_back {
        let _ = crate::fs_util::write_atomic(&index_path, &index.encode(), "pack-index");
    }
    Ok(index)
}

/// A pack being written: entries are appended through a buffer while the pack is hashed.
pub struct PackWriter<W: Write = File> {
    out: BufWriter<W>,
    hasher: blake3::Hasher,
    offset: u64,
    entries: Vec<Record>,
}

impl<W: Write> PackWriter<W> {
    /// Starts a pack written to `out` (a temporary file, or memory for a remote).
    pub fn new(out: W) -> io::Result<PackWriter<W>> {
        let mut writer = PackWriter {
            out: BufWriter::with_capacity(1 << 20, out),
            hasher: blake3::Hasher::new(),
            offset: 0,
            entries: Vec::new(),
        };
        let mut header = [0u8; PACK_HEADER_LEN as usize];
        header[..4].copy_from_slice(PACK_MAGIC);
        header[4] = PACK_FORMAT;
        writer.write(&header)?;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Appends one object file given as its header and payload.
    pub fn append(&mut self, kind: u8, id: &Hash, header: &[u8], payload: &[u8]) -> io::Result<()> {
        let length = (header.len() + payload.len()) as u64;
        let mut prefix = [0u8; ENTRY_PREFIX_LEN];
        prefix[0] = kind;
        prefix[1..33].copy_from_slice(&id.0);
        prefix[33..].copy_from_slice(&length.to_le_bytes());
        self.write(&prefix)?;
        let offset = self.offset;
        self.write(header)?;
        self.write(payload)?;
        self.entries.push(Record {
            kind,
            id: *id,
            slot: Slot { offset, length },
        });
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.offset
    }

    /// Flushes the pack and returns its index.
    pub fn finish(self) -> io::Result<PackIndex> {
        self.finish_into().map(|(index, _)| index)
    }

    /// Flushes the pack and returns its index and where it was written.
    pub fn finish_into(self) -> io::Result<(PackIndex, W)> {
        let index = PackIndex::new(Hash::from(self.hasher.finalize()), self.entries);
        let out = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((index, out))
    }
}

fn check_pack_header(header: &[u8]) -> io::Result<()> {
    if &header[..4] != PACK_MAGIC {
        return Err(super::invalid_data(
            "it does not start with the dv pack header",
        ));
    }
    if header[4] > PACK_FORMAT {
        return Err(super::invalid_data(super::too_new(
            "pack",
            header[4],
            PACK_FORMAT,
        )));
    }
    Ok(())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn truncated() -> io::Error {
    super::invalid_data("its pack file is shorter than its index says")
}

fn cut_short() -> io::Error {
    super::invalid_data("the pack ends in the middle of an entry")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The merged table finds every record of every pack under its kind, and nothing else:
    /// ids in one 12-bit bucket, at the ends of the range, and the same id in two packs.
    #[test]
    fn the_merged_table_finds_exactly_what_the_packs_hold() {
        let id = |first: u8, second: u8, rest: u8| {
            let mut bytes = [rest; 32];
            bytes[0] = first;
            bytes[1] = second;
            Hash(bytes)
        };
        let mut ids = vec![
            id(0, 0, 0),
            id(0xff, 0xff, 0xff),
            id(0x12, 0x30, 1),
            id(0x12, 0x3f, 2),
            id(0x12, 0x3f, 3),
            id(0x12, 0x40, 4),
        ];
        ids.extend((0..5000u32).map(|i| Hash::of(&i.to_le_bytes())));
        let packs: Vec<Arc<Pack>> = (0..6u64)
            .map(|n| {
                let records = ids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i as u64 % 6 == n || *i == 2)
                    .map(|(i, id)| Record {
                        kind: if i % 2 == 0 { b'b' } else { b't' },
                        id: *id,
                        slot: Slot {
                            offset: n,
                            length: i as u64,
                        },
                    })
                    .collect();
                let index = PackIndex::new(Hash::of(&n.to_le_bytes()), records);
                Arc::new(Pack::new(index, PathBuf::from(format!("{n}.pack"))))
            })
            .collect();
        let merged = Merged::new(&packs);
        for (i, id) in ids.iter().enumerate() {
            let (kind, other) = if i % 2 == 0 {
                (b'b', b't')
            } else {
                (b't', b'b')
            };
            // Id 2 is in every pack: the first pack holding it answers.
            let pack = if i == 2 { 0 } else { i as u64 % 6 };
            let expected = Slot {
                offset: pack,
                length: i as u64,
            };
            assert_eq!(merged.find(kind, id), Some((pack as u32, expected)), "{i}");
            assert_eq!(merged.find(other, id), None, "{i}");
        }
        assert_eq!(merged.find(b'b', &id(0x12, 0x3f, 9)), None);
        assert_eq!(merged.find(b'v', &ids[0]), None);
        assert_eq!(merged.find(b'b', &Hash::of(b"absent")), None);
    }
}
