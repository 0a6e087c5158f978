//! Garbage collection: removing the objects no live version needs, never anything else.
//!
//! **Live** is everything reachable from a version that is not retired, from a tagged or
//! pinned version (retired or not), and from a version a directory of the workspace holds (or
//! an interrupted checkout was writing there): its trees, files and code files, and the chunks
//! and delta bases they are rebuilt from. Version records are never removed (that is `dv
//! forget`'s), so lineage and provenance stay. Nothing younger than the grace period is
//! removed: a commit running in another process writes its objects before it publishes its
//! version, and they survive it.
//!
//! Removing is dry-run by default. With `prune`, under the workspace lock: loose garbage files
//! are deleted; a pack holding no live object is deleted; a pack with more garbage than
//! [`GcOptions::max_unused`] allows is rewritten with only its live objects (the new pack is
//! durable before the old one is deleted, so a crash at any point loses nothing). `.dv/gc-epoch` is bumped first,
//! so a commit that began before the gc checks, under the same lock, that every object its new
//! version needs is still there; the stat cache (which vouches that files are stored) is
//! dropped when anything was removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, IoResultExt, Result};
use crate::id::{Hash, VersionId};
use crate::lifecycle::State;
use crate::store::{Kind, RawObject, Store};
use crate::workspace::Workspace;

/// By default a pack is rewritten once more than this share of its bytes is garbage (as
/// restic's `prune --max-unused`).
pub const DEFAULT_MAX_UNUSED: f64 = 0.10;
/// The default grace period: nothing younger is removed.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// How a gc runs.
#[derive(Clone, Copy, Debug)]
pub struct GcOptions {
    /// Delete; otherwise only report what would go.
    pub prune: bool,
    pub grace: Duration,
    /// A pack with a larger share of garbage bytes is rewritten; 0 rewrites any pack holding
    /// garbage, 1 only deletes packs that hold nothing live.
    pub max_unused: f64,
    /// Merge every pack into as few as hold them (each at most 128 MiB): a commit writes a
    /// pack or two, and every command looks objects up across all of them. With `prune`, old
    /// garbage is left out; without, nothing is removed.
    pub repack: bool,
}

/// What a gc found and did.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct GcReport {
    pub pruned: bool,
    /// Versions whose data is kept (roots of the live set).
    pub live_versions: u64,
    pub live_objects: u64,
    /// Objects no live version needs, and their stored bytes.
    pub garbage_objects: u64,
    pub garbage_bytes: u64,
    /// Of those, younger than the grace period (kept).
    pub young_objects: u64,
    /// With `repack`: the packs before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repacked: Option<Repacked>,
    /// What was (or, dry-run, would be) removed.
    pub removed_objects: u64,
    pub removed_bytes: u64,
    pub packs_removed: u64,
    pub packs_rewritten: u64,
}

/// What `repack` did: packs and their bytes before and after.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Repacked {
    pub packs_before: u64,
    pub packs_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Parses a duration such as `0s`, `90m`, `2h`, `14d` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || Error::InvalidDuration {
        text: text.to_string(),
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// The versions whose data is live: not retired, or tagged, pinned or checked out. These are
/// also the versions a clone or a pull brings data for.
pub fn live_versions(ws: &Workspace) -> Result<Vec<VersionId>> {
    let states = crate::lifecycle::states(ws)?;
    let mut keep: HashSet<VersionId> = HashSet::new();
    for (id, _) in ws.index.log(&crate::index::LogFilter::default())? {
        if states.get(&id).is_none_or(|s| s.state != State::Retired) {
            keep.insert(id);
        }
    }
    keep.extend(ws.index.tags()?.into_iter().map(|(_, id)| id));
    keep.extend(crate::pin::consumers(ws)?.into_iter().map(|c| c.id));
    // A directory's version, and the one an interrupted checkout was writing there.
    for tracked in crate::worktree::load(ws)?.into_values() {
        keep.insert(tracked.version);
        keep.extend(tracked.checking_out);
    }
    let mut roots: Vec<VersionId> = keep.into_iter().collect();
    roots.sort();
    Ok(roots)
}

/// Every object the roots reach, following trees, files, code files, chunks and delta bases,
/// and every version's profile.
/// A root whose data is not local (a clone without data) reaches what is here.
fn mark(ws: &Workspace, roots: &[VersionId]) -> Result<HashSet<(Kind, Hash)>> {
    let mut starts = Vec::new();
    for id in roots {
        if let Some(version) = ws.index.version(id)? {
            starts.extend(version.objects());
        }
    }
    // Profiles stay with the records, so a retired version can still be described.
    for (_, version) in ws.index.log(&crate::index::LogFilter::default())? {
        starts.extend(version.profile_objects());
    }
    Ok(reach(&ws.store, starts)?.0)
}

/// The objects reachable from `starts` that are here, and how many reachable ones are not
/// (see [`crate::reach`] for what an object brings with it).
fn reach(store: &Store, starts: Vec<(Kind, Hash)>) -> Result<(HashSet<(Kind, Hash)>, usize)> {
    let mut live = HashSet::new();
    let mut missing = 0;
    crate::reach::walk(store, starts, |kind, id| {
        if !store.has(kind, id) {
            missing += 1;
            return Ok(None);
        }
        live.insert((kind, *id));
        store.dependencies(kind, id).map(Some)
    })?;
    Ok((live, missing))
}

fn modified(path: &Path) -> Result<SystemTime> {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .with_path(path)
}

/// Finds (and with `prune`, removes) what no live version needs.
pub fn gc(ws: &Workspace, options: GcOptions) -> Result<GcReport> {
    let _lock = crate::lock::WorkspaceLock::acquire(&ws.dv_dir())?;
    let store = &ws.store;
    let roots = live_versions(ws)?;
    let live = mark(ws, &roots)?;
    let cutoff = SystemTime::now()
        .checked_sub(options.grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = GcReport {
        pruned: options.prune,
        live_versions: roots.len() as u64,
        ..GcReport::default()
    };
    if options.prune {
        bump_epoch(ws)?;
    }
    let mut removed_any = false;

    // Packs: what each holds that is live.
    let packs = store.pack_files()?;
    let mut packed: HashSet<(Kind, Hash)> = HashSet::new();
    // With repack: every pack, and whether its old garbage is left out.
    let mut merge: Vec<(&Path, &crate::store::PackIndex, bool)> = Vec::new();
    for (path, index) in &packs {
        let old = modified(path)? <= cutoff;
        let merged = merge.len();
        if options.repack {
            merge.push((path, index, false));
        }
        let (mut total, mut live_bytes, mut garbage) = (0u64, 0u64, Vec::new());
        for record in index.records() {
            let Some(kind) = Kind::from_code(record.kind) else {
                continue;
            };
            packed.insert((kind, record.id));
            total += record.slot.length;
            if live.contains(&(kind, record.id)) {
                live_bytes += record.slot.length;
            } else {
                garbage.push((kind, record.id, record.slot.length));
            }
        }
        if garbage.is_empty() {
            continue;
        }
        let garbage_bytes: u64 = garbage.iter().map(|g| g.2).sum();
        report.garbage_objects += garbage.len() as u64;
        report.garbage_bytes += garbage_bytes;
        if !old {
            report.young_objects += garbage.len() as u64;
            continue;
        }
        let rewrite = options.repack
            || live_bytes == 0
            || garbage_bytes as f64 > options.max_unused * total as f64;
        if !rewrite {
            continue;
        }
        report.removed_objects += garbage.len() as u64;
        report.removed_bytes += garbage_bytes;
        if live_bytes == 0 {
            report.packs_removed += 1;
        } else {
            report.packs_rewritten += 1;
        }
        if options.prune {
            if options.repack {
                merge[merged].2 = true;
            } else {
                rewrite_pack(store, path, index, &live)?;
            }
            removed_any = true;
        }
    }
    if options.repack {
        report.repacked = Some(repack(ws, &merge, &live)?);
    }

    // Loose objects.
    for kind in [Kind::Chunk, Kind::Blob, Kind::Tree] {
        for id in store.list(kind)? {
            if live.contains(&(kind, id)) || packed.contains(&(kind, id)) {
                continue;
            }
            let path = store.object_path(kind, &id);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            report.garbage_objects += 1;
            report.garbage_bytes += meta.len();
            if meta.modified().with_path(&path)? > cutoff {
                report.young_objects += 1;
                continue;
            }
            report.removed_objects += 1;
            report.removed_bytes += meta.len();
            if options.prune {
                store.remove_loose(kind, &id)?;
                crate::failpoint::hit("gc", "loose-removed").with_path(&path)?;
                removed_any = true;
            }
        }
    }
    report.live_objects = live.len() as u64;
    if removed_any {
        // The stat cache vouches that files are stored: after a removal it may be wrong, and
        // a commit trusting it would name missing data. It is only a cache.
        let cache = ws.dv_dir().join("stat-cache");
        match std::fs::remove_file(&cache) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&cache, e));
            }
            _ => {}
        }
    }
    Ok(report)
}

/// Writes a pack's live objects into a new pack (durably), then deletes the old one.
fn rewrite_pack(
    store: &Store,
    path: &Path,
    index: &crate::store::PackIndex,
    live: &HashSet<(Kind, Hash)>,
) -> Result<()> {
    let batch = store.batch();
    for record in index.records() {
        let Some(kind) = Kind::from_code(record.kind) else {
            continue;
        };
        if !live.contains(&(kind, record.id)) {
            continue;
        }
        match store.raw_object(kind, &record.id)? {
            RawObject::Bytes(bytes) => batch.copy_object_file(kind, &record.id, &bytes)?,
            RawObject::File { .. } => {}
        }
    }
    batch.finish()?;
    crate::failpoint::hit("gc", "repacked").with_path(path)?;
    store.remove_pack(path)?;
    crate::failpoint::hit("gc", "pack-removed").with_path(path)?;
    Ok(())
}

/// Merges packs into as few as hold their objects (leaving out the garbage of those marked),
/// durably, then deletes the old ones: a crash at any point leaves every object in an old
/// pack, a new one, or both.
fn repack(
    ws: &Workspace,
    packs: &[(&Path, &crate::store::PackIndex, bool)],
    live: &HashSet<(Kind, Hash)>,
) -> Result<Repacked> {
    let store = &ws.store;
    let repacked_before = repacked_packs(ws);
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).with_path(path);
    let mut repacked = Repacked {
        packs_before: packs.len() as u64,
        packs_after: packs.len() as u64,
        ..Repacked::default()
    };
    for (path, _, _) in packs {
        repacked.bytes_before += size(path)?;
    }
    let dropping = packs.iter().any(|(_, _, drop)| *drop);
    if packs.len() < 2 && !dropping {
        repacked.bytes_after = repacked.bytes_before;
        return Ok(repacked);
    }
    let batch = store.batch();
    let mut copied: HashSet<(Kind, Hash)> = HashSet::new();
    let mut wanted = Vec::new();
    for (path, index, drop) in packs {
        // Objects a repack wrote are stored at its level already.
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let recompress = !repacked_before.contains(name);
        for record in index.records() {
            let Some(kind) = Kind::from_code(record.kind) else {
                continue;
            };
            let key = (kind, record.id);
            if (*drop && !live.contains(&key)) || !copied.insert(key) {
                continue;
            }
            wanted.push((key, recompress));
        }
    }
    wanted
        .into_par_iter()
        .try_for_each(|((kind, id), recompress)| -> Result<()> {
            let RawObject::Bytes(bytes) = store.raw_object(kind, &id)? else {
                return Ok(());
            };
            let smaller = recompress
                .then(|| crate::store::recompressed(&bytes, &id))
                .flatten();
            batch.copy_object_file(kind, &id, smaller.as_deref().unwrap_or(&bytes))
        })?;
    let written = batch.finish_packs()?;
    let first = written.first().map_or(Path::new("pack"), |p| p.as_path());
    crate::failpoint::hit("gc", "repacked").with_path(first)?;
    for (path, _, _) in packs {
        // A pack written again with the same bytes has the same name: it stays.
        if !written.iter().any(|new| new == path) {
            store.remove_pack(path)?;
            crate::failpoint::hit("gc", "pack-removed").with_path(path)?;
        }
    }
    repacked.packs_after = written.len() as u64;
    for path in &written {
        repacked.bytes_after += size(path)?;
    }
    let names: String = written
        .iter()
        .filter_map(|path| path.file_name()?.to_str())
        .map(|name| format!("{name}\n"))
        .collect();
    crate::fs_util::write_atomic(&repacked_path(ws), names.as_bytes(), "repacked")?;
    Ok(repacked)
}

/// Where the packs the last repack wrote are listed: a hint only (a wrong list costs a repack
/// some compression work, never data).
fn repacked_path(ws: &Workspace) -> PathBuf {
    ws.dv_dir().join("repacked")
}

/// The names of the packs the last repack wrote.
fn repacked_packs(ws: &Workspace) -> HashSet<String> {
    let text = crate::fs_util::read_bounded(&repacked_path(ws), 1 << 20)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    text.lines().map(str::to_string).collect()
}

fn epoch_path(ws: &Workspace) -> PathBuf {
    ws.dv_dir().join("gc-epoch")
}

/// How many gcs have removed objects here: a commit compares it before and after.
pub fn epoch(ws: &Workspace) -> u64 {
    crate::fs_util::read_bounded(&epoch_path(ws), 64)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

fn bump_epoch(ws: &Workspace) -> Result<()> {
    let next = epoch(ws) + 1;
    crate::fs_util::write_atomic(&epoch_path(ws), format!("{next}\n").as_bytes(), "gc-epoch")
}

/// After a gc ran during a commit: fails unless every object the new version needs (what
/// `starts` reach) is here (checked with the workspace lock held, so no gc runs meanwhile).
pub fn check_complete(ws: &Workspace, starts: Vec<(Kind, Hash)>) -> Result<()> {
    // The packs as they are now: a gc may have rewritten some.
    ws.store.pack_files()?;
    match reach(&ws.store, starts)?.1 {
        0 => Ok(()),
        missing => Err(Error::RemovedDuringCommit { missing }),
    }
}
