//! Profiles: what a version's data looks like, small enough to keep with every version.
//!
//! File counts and bytes per extension and per directory (top level, and second level: for
//! image datasets laid out as `train/<class>/…`, the class balance), and for each table (CSV,
//! TSV, JSONL, Parquet)
//! its rows, columns with their types and null counts, duplicate rows and the distribution of
//! its label columns. Computed at commit and stored with the version, one file per table (see
//! [`stored`]); compared by `dv diff --profile` (see [`drift`]) and checked by the stage rules
//! (`crate::rules`).
//!
//! Each table is read once, with bounded memory (see `table`); a table whose content (blob)
//! and settings an earlier version's profile describes is not read at all, and its stored
//! profile is shared, not stored again.

pub mod drift;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod stored;
mod table;

pub use stored::{Known, Made, changed_tables, stored, stored_where};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{BlobId, Hash, TreeId};
use crate::index::stat_cache::FileStat;
use crate::object::EntryKind;
use crate::object::tree::TreeSource;
use crate::object::walk::{fold_distinct, walk_files_where};
use crate::snapshot::Listed;
use crate::store::{Kind, Store};
use crate::table::Format;

/// The profile encoding this dv writes and the newest it reads.
pub const PROFILE_FORMAT: u32 = 1;
/// A stored profile larger than this is refused rather than read (it comes from a version that
/// may have been made elsewhere).
const MAX_PROFILE_BYTES: usize = 256 << 20;
/// What counts as null in text formats unless `dv.toml` says otherwise.
pub const DEFAULT_NULL_VALUES: [&str; 5] = ["", "NA", "N/A", "null", "NaN"];
/// Subdirectories of one top-level directory kept in a profile (see `directories`).
pub const MAX_CLASS_DIRECTORIES: usize = 1000;
/// Most tables one version's profile describes: each is an entry of the profile, so a crafted
/// fan-out naming one table at millions of paths (or a version of millions of small tables)
/// cannot make a profile grow without bound. Tables past it are counted in `tables_omitted`.
pub const MAX_PROFILED_TABLES: usize = 100_000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Label values kept per column unless `dv.toml` says otherwise; the rest are counted together.
pub const DEFAULT_MAX_LABEL_VALUES: usize = 100;

/// The profile of one version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub format: u32,
    pub files: u64,
    pub bytes: u64,
    /// Lower-case extension (`""` for none) → files and bytes.
    pub extensions: BTreeMap<String, Count>,
    /// Directory → files and bytes below it: each top-level directory (`"."` for files at the
    /// root), and each second-level one (`train/cat`: the classes of an image dataset) when its
    /// parent has at most [`MAX_CLASS_DIRECTORIES`] of them.
    pub directories: BTreeMap<String, Count>,
    /// Path → profile, for every tabular file (the first [`MAX_PROFILED_TABLES`] in path
    /// order).
    pub tables: BTreeMap<String, TableProfile>,
    /// Tables past [`MAX_PROFILED_TABLES`], counted but not profiled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tables_omitted: u64,
    /// The values that counted as null in text formats.
    pub null_values: Vec<String>,
}

/// Files and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub files: u64,
    pub bytes: u64,
}

/// The profile of one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableProfile {
    /// `csv`, `tsv`, `jsonl` or `parquet`.
    pub format: String,
    /// The content profiled: a later version holding the same blob reuses this profile.
    pub blob: BlobId,
    pub rows: u64,
    /// Rows equal to an earlier row of the same table (a row present 3 times counts 2).
    pub duplicate_rows: u64,
    pub columns: Vec<ColumnProfile>,
    /// Label column → value → rows, for the columns the stage's rules name as labels; the most
    /// frequent values only (see [`TableProfile::labels_other`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, BTreeMap<String, u64>>,
    /// Label column → rows holding values beyond the ones kept in `labels`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels_other: BTreeMap<String, u64>,
    /// Why the table could not be read as its format (the other fields are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    /// `integer`, `float`, `boolean`, `string` or `null` (no value) for text formats; for
    /// Parquet also `date`, `timestamp`, `time`, `binary`, `decimal`, `list`, `struct`, ….
    #[serde(rename = "type")]
    pub kind: String,
    pub nulls: u64,
}

impl TableProfile {
    /// A table's counts; its format and blob are filled in by the caller.
    fn counted(rows: u64, duplicate_rows: u64, columns: Vec<ColumnProfile>) -> TableProfile {
        TableProfile {
            format: String::new(),
            blob: BlobId(Hash([0; 32])),
            rows,
            duplicate_rows,
            columns,
            labels: BTreeMap::new(),
            labels_other: BTreeMap::new(),
            error: None,
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// How to profile: what `dv.toml` says (see `crate::rules`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub null_values: Vec<String>,
    pub max_label_values: usize,
    /// Label columns per file pattern: a table's labels are those of every pattern it matches.
    pub labels: Vec<(globset::GlobMatcher, Vec<String>)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            null_values: DEFAULT_NULL_VALUES.iter().map(|s| s.to_string()).collect(),
            max_label_values: DEFAULT_MAX_LABEL_VALUES,
            labels: Vec::new(),
        }
    }
}

impl Settings {
    /// The label columns of the table at `path`.
    pub fn labels_for(&self, path: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (glob, columns) in &self.labels {
            if matches_path(glob, path) {
                for column in columns {
                    if !out.contains(column) {
                        out.push(column.clone());
                    }
                }
            }
        }
        out
    }
}

/// Whether a file pattern matches a path: a pattern without `/` matches the file name at any
/// depth (as in `.gitignore`), one with `/` the whole path.
pub fn matches_path(glob: &globset::GlobMatcher, path: &str) -> bool {
    if glob.glob().glob().contains('/') {
        glob.is_match(path)
    } else {
        glob.is_match(path.rsplit('/').next().unwrap_or(path))
    }
}

/// Where the data of the tree being profiled can also be read: the directory (or single file)
/// it was just snapshotted from. Each file read from there is checked against the tree (a file
/// changed since is read from the store instead).
#[derive(Debug)]
pub struct Worktree {
    pub path: PathBuf,
    pub single_file: bool,
    /// Tables already profiled while the snapshot ran (see [`Early`]).
    pub early: HashMap<String, EarlyTable>,
    /// Tables read to profile them, while the snapshot ran and after: what a commit's profile
    /// cost (a table an earlier profile describes is never read).
    pub tables_read: AtomicUsize,
}

impl Worktree {
    fn file(&self, rel: &str) -> PathBuf {
        worktree_file(&self.path, self.single_file, rel)
    }
}

fn worktree_file(root: &Path, single_file: bool, rel: &str) -> PathBuf {
    if single_file {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// A table profiled from the worktree while the snapshot ran, with the file's metadata when it
/// was read: used only if the file still has that metadata once the snapshot is done.
#[derive(Clone, Debug)]
pub struct EarlyTable {
    stat: FileStat,
    outcome: std::result::Result<TableProfile, String>,
}

/// Tables profiled while a snapshot hashes them (see [`crate::snapshot::Listener`]): a table
/// whose content no `known` profile describes is profiled from the worktree on the thread that
/// just hashed it; one that a known profile describes is never read, however the file came to
/// be on disk (re-extracted, copied, touched) and whatever its path.
pub struct Early<'a> {
    settings: &'a Settings,
    known: &'a Known,
    tables: Mutex<HashMap<String, EarlyTable>>,
    read: AtomicUsize,
}

impl<'a> Early<'a> {
    pub fn new(settings: &'a Settings, known: &'a Known) -> Early<'a> {
        Early {
            settings,
            known,
            tables: Mutex::default(),
            read: AtomicUsize::new(0),
        }
    }

    /// Hears of one hashed file: profiles it now unless it is no table or is known.
    pub fn hear(&self, file: Listed<'_>) {
        let Ok(path) = std::str::from_utf8(file.rel) else {
            return;
        };
        let Some(format) = Format::of(path) else {
            return;
        };
        if (self.known)
            .find(&BlobId(file.blob), path, format, self.settings)
            .is_some()
        {
            return;
        }
        let Some(before) = std::fs::metadata(file.path).ok().map(|m| FileStat::of(&m)) else {
            return;
        };
        if before != file.stat {
            return;
        }
        self.read.fetch_add(1, Ordering::Relaxed);
        let labels = self.settings.labels_for(path);
        let Some(outcome) = read_worktree_table(file.path, format, &labels, self.settings) else {
            return;
        };
        let table = EarlyTable {
            stat: before,
            outcome: outcome.map_err(|why| why.to_string()),
        };
        self.tables
            .lock()
            .expect("no panics while holding the lock")
            .insert(path.to_string(), table);
    }

    /// The tables profiled, by path, for [`Worktree::early`], and how many were read.
    pub fn finish(self) -> (HashMap<String, EarlyTable>, usize) {
        let tables = self
            .tables
            .into_inner()
            .expect("no panics while holding the lock");
        (tables, self.read.into_inner())
    }
}

/// A version's profile with `settings` (what the stage rules ask for): the stored one when it
/// covers them, else computed from the version's data (a version made before profiles, or
/// with labels the rules did not name then), which is made local under `fetch` first. With
/// `only`, just those tables (the others are neither read nor profiled). Returns the workspace
/// to go on with and what was transferred.
pub fn of_version(
    ws: crate::Workspace,
    id: &crate::VersionId,
    version: &crate::object::Version,
    settings: &Settings,
    only: Option<&BTreeSet<String>>,
    fetch: crate::available::Fetch,
    progress: &dyn crate::progress::Progress,
) -> Result<(
    crate::Workspace,
    Profile,
    Vec<crate::remote::TransferReport>,
)> {
    use crate::available::{Need, ensure};
    let mut reports = Vec::new();
    let (ws, report) = ensure(ws, &[*id], Need::Profiles, fetch, progress)?;
    reports.extend(report);
    let keep = |path: &str| only.is_none_or(|only| only.contains(path));
    let known = match stored_where(&ws.store, version, &keep)? {
        Some(profile) if profile.covers(settings) => return Ok((ws, profile, reports)),
        known => Known::of_profiles(known.as_slice(), settings),
    };
    let (ws, report) = ensure(ws, &[*id], Need::Data, fetch, progress)?;
    reports.extend(report);
    let mut made = profile_tree(&ws.store, &ws.store, &version.tree, settings, &known, None)?;
    made.retain_tables(&ws.store, &keep)?;
    let profile = made.into_profile(&ws.store)?;
    Ok((ws, profile, reports))
}

/// Profiles a stored tree, reusing the table profiles `known` (earlier versions') holds for
/// tables with the same content. `trees` may hold trees not read back from the store yet (a
/// commit's, in memory).
pub fn profile_tree(
    store: &Store,
    trees: &dyn TreeSource,
    root: &TreeId,
    settings: &Settings,
    known: &Known,
    worktree: Option<&Worktree>,
) -> Result<Made> {
    let mut profile = Profile {
        format: PROFILE_FORMAT,
        null_values: settings.null_values.clone(),
        ..Profile::default()
    };
    // Counts are folded over each distinct tree once: a tree shared by many paths costs one
    // read, so a crafted fan-out of shared trees cannot make them cost what it declares.
    let mut sums: HashMap<TreeId, Sums> = HashMap::new();
    let all = fold_distinct(trees, root, &mut sums, &mut Sums::fold)?;
    profile.files = all.count.files;
    profile.bytes = all.count.bytes;
    profile.extensions = all.extensions.clone();
    let top = trees.tree(root)?;
    for entry in &top.entries {
        let name = String::from_utf8_lossy(&entry.name).into_owned();
        match entry.kind {
            EntryKind::Tree => {
                let count =
                    |id: &Hash| sums.get(&TreeId(*id)).map_or(Count::default(), |s| s.count);
                let below = count(&entry.id);
                if below.files > 0 {
                    profile.directories.insert(name.clone(), below);
                }
                for sub in trees.tree(&TreeId(entry.id))?.entries {
                    let inner = count(&sub.id);
                    if sub.kind == EntryKind::Tree && inner.files > 0 {
                        let sub = String::from_utf8_lossy(&sub.name);
                        profile.directories.insert(format!("{name}/{sub}"), inner);
                    }
                }
            }
            EntryKind::Symlink => {}
            EntryKind::File | EntryKind::Executable => {
                let dot = profile.directories.entry(".".to_string()).or_default();
                dot.files += 1;
                dot.bytes += entry.size;
            }
        }
    }
    drop_crowded_subdirectories(&mut profile.directories);
    // Tables are found by a walk that enters only trees holding one, and at most
    // MAX_PROFILED_TABLES are profiled (the rest are counted as omitted). A directory whose
    // data is what the previous version held there keeps that version's profile subtree: it
    // is not entered, so a commit's profile costs the directories that changed.
    let mut previous = stored::PreviousAt::new(store, known);
    let mut reused_dirs = BTreeMap::new();
    let reused_tables = std::cell::Cell::new(0u64);
    let mut reuse = |path: &[u8], id: &TreeId| {
        let (profile, tree) = previous.as_mut()?.unchanged(path, id)?;
        let total = reused_tables.get() + tree.files;
        (total <= MAX_PROFILED_TABLES as u64).then(|| {
            reused_tables.set(total);
            reused_dirs.insert(String::from_utf8_lossy(path).into_owned(), (profile, tree));
        })
    };
    let mut tables = Vec::new();
    if reuse(b"", root).is_none() {
        walk_files_where(
            trees,
            root,
            &mut |path, id, _| sums.get(id).is_some_and(|s| s.tables) && reuse(path, id).is_none(),
            &mut |file| {
                let path = String::from_utf8_lossy(&file.path).into_owned();
                let Some(format) = Format::of(&path).filter(|_| file.kind != EntryKind::Symlink)
                else {
                    return Ok(());
                };
                if tables.len() as u64 + reused_tables.get() >= MAX_PROFILED_TABLES as u64 {
                    profile.tables_omitted += 1;
                    return Ok(());
                }
                tables.push((
                    path,
                    TableFile {
                        format,
                        blob: BlobId(file.id),
                        size: file.size,
                    },
                ));
                Ok(())
            },
        )?;
    }
    // A content that appears at many paths (with the same labels asked for) is read once.
    let mut first_at: HashMap<(BlobId, &'static str, Vec<String>), usize> = HashMap::new();
    let mut copies: Vec<(usize, usize)> = Vec::new();
    let mut distinct = Vec::new();
    for (i, (path, file)) in tables.iter().enumerate() {
        let key = (file.blob, file.format.name(), settings.labels_for(path));
        match first_at.get(&key) {
            Some(&first) => copies.push((i, first)),
            None => {
                first_at.insert(key, i);
                distinct.push(i);
            }
        }
    }
    let mut profiled: Vec<Option<Outcome>> = vec![None; tables.len()];
    let computed = distinct
        .into_par_iter()
        .map(|i| {
            let (path, file) = &tables[i];
            let outcome = match known.find(&file.blob, path, file.format, settings) {
                Some(stored::Reuse::Stored(stored)) => Outcome::Reused(stored),
                Some(stored::Reuse::Loaded(table)) => Outcome::Profiled(table.clone()),
                None => {
                    let labels = settings.labels_for(path);
                    let table = profile_table(store, path, file, &labels, settings, worktree)?;
                    Outcome::Profiled(table)
                }
            };
            Ok((i, outcome))
        })
        .collect::<Result<Vec<_>>>()?;
    for (i, outcome) in computed {
        profiled[i] = Some(outcome);
    }
    for (i, first) in copies {
        profiled[i] = profiled[first].clone();
    }
    let mut reused = BTreeMap::new();
    for ((path, _), outcome) in tables.into_iter().zip(profiled) {
        match outcome {
            Some(Outcome::Profiled(table)) => {
                profile.tables.insert(path, table);
            }
            Some(Outcome::Reused(stored)) => {
                reused.insert(path, stored);
            }
            None => {}
        }
    }
    Ok(Made::new(profile, reused, reused_dirs, settings))
}

/// What became of one table: profiled (or taken from a profile read before), or its stored
/// profile reused unread.
#[derive(Clone)]
enum Outcome {
    Profiled(TableProfile),
    Reused(crate::object::StoredFile),
}

/// Second-level directories are kept for parents with at most [`MAX_CLASS_DIRECTORIES`] of
/// them: those are classes (`train/cat`); more are ids or dates, not worth a profile's room.
fn drop_crowded_subdirectories(directories: &mut BTreeMap<String, Count>) {
    let mut children: HashMap<String, usize> = HashMap::new();
    for name in directories.keys() {
        if let Some((parent, _)) = name.split_once('/') {
            *children.entry(parent.to_string()).or_default() += 1;
        }
    }
    directories.retain(|name, _| match name.split_once('/') {
        Some((parent, _)) => children[parent] <= MAX_CLASS_DIRECTORIES,
        None => true,
    });
}

/// A reused table profile must hold exactly the labels asked for (those of its columns).
fn same_labels(table: &TableProfile, wanted: &[String]) -> bool {
    let have: BTreeSet<&String> = table.labels.keys().collect();
    let want: BTreeSet<&String> = wanted
        .iter()
        .filter(|w| table.column(w).is_some())
        .collect();
    have == want
}

/// The lower-case extension of a path's file name, `""` when it has none.
fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// What a subtree holds, folded once per distinct tree: files and bytes (symlinks left out),
/// the same by extension, and whether any file is a table.
#[derive(Clone, Default)]
struct Sums {
    count: Count,
    extensions: BTreeMap<String, Count>,
    tables: bool,
}

impl Sums {
    fn fold(tree: &crate::object::Tree, children: &[Sums]) -> Sums {
        let mut sums = Sums::default();
        for entry in &tree.entries {
            if !matches!(entry.kind, EntryKind::File | EntryKind::Executable) {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.name);
            let one = Count {
                files: 1,
                bytes: entry.size,
            };
            sums.count.add(one);
            sums.extensions
                .entry(extension(&name))
                .or_default()
                .add(one);
            sums.tables |= Format::of(&name).is_some();
        }
        for child in children {
            sums.count.add(child.count);
            for (ext, count) in &child.extensions {
                sums.extensions.entry(ext.clone()).or_default().add(*count);
            }
            sums.tables |= child.tables;
        }
        sums
    }
}

impl Count {
    /// Adds another count (saturating: shared subtrees may declare more than a u64 holds).
    fn add(&mut self, other: Count) {
        self.files = self.files.saturating_add(other.files);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// A tabular file of a tree.
struct TableFile {
    format: Format,
    blob: BlobId,
    size: u64,
}

/// Profiles one table: from the worktree when its file still holds the blob, else the store.
fn profile_table(
    store: &Store,
    path: &str,
    file: &TableFile,
    labels: &[String],
    settings: &Settings,
    worktree: Option<&Worktree>,
) -> Result<TableProfile> {
    if let Some(worktree) = worktree {
        let on_disk = worktree.file(path);
        if let Some(early) = worktree.early.get(path)
            && early.stat.size == file.size
            && std::fs::metadata(&on_disk).is_ok_and(|meta| FileStat::of(&meta) == early.stat)
        {
            let outcome = early.outcome.clone().map_err(Unreadable::Malformed);
            return Ok(finish(file.format, file.blob, outcome));
        }
        worktree.tables_read.fetch_add(1, Ordering::Relaxed);
        if let Some(table) = profile_worktree_file(&on_disk, file, labels, settings) {
            return Ok(table);
        }
    }
    let (format, blob) = (file.format, file.blob);
    let outcome = match format {
        Format::Parquet => profile_stored_parquet(store, path, blob, labels, settings)?,
        _ => {
            let mut reader = store.read(Kind::Blob, &blob.0)?;
            let outcome = table::profile_text(format, &mut reader, labels, settings);
            // A read error may be the store's (damage): that is an error, not a table's fault.
            if let Err(Unreadable::Io(e)) = &outcome {
                return Err(Error::io(
                    path,
                    std::io::Error::new(e.kind(), e.to_string()),
                ));
            }
            outcome
        }
    };
    Ok(finish(format, blob, outcome))
}

/// Profiles a tabular file of the worktree, `None` when it may no longer hold what was stored
/// (its size is not the blob's, or its size, modification time or inode changed while it was
/// read): the store is read instead.
fn profile_worktree_file(
    file: &Path,
    table: &TableFile,
    labels: &[String],
    settings: &Settings,
) -> Option<TableProfile> {
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata(file).ok()?;
    if before.len() != table.size {
        return None;
    }
    let outcome = read_worktree_table(file, table.format, labels, settings)?;
    let after = std::fs::metadata(file).ok()?;
    let unchanged = after.len() == before.len()
        && after.mtime() == before.mtime()
        && after.mtime_nsec() == before.mtime_nsec()
        && after.ino() == before.ino();
    unchanged.then(|| finish(table.format, table.blob, outcome))
}

/// Profiles a table file of the worktree; `None` when it cannot be read (the store is then).
fn read_worktree_table(
    file: &Path,
    format: Format,
    labels: &[String],
    settings: &Settings,
) -> Option<std::result::Result<TableProfile, Unreadable>> {
    let outcome = match format {
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet::profile(file, labels, settings),
        #[cfg(not(feature = "parquet"))]
        Format::Parquet => Err(Unreadable::NoParquet),
        Format::Csv | Format::Tsv => {
            match table::profile_delimited_file(file, format, labels, settings) {
                Some(outcome) => outcome,
                None => {
                    let mut opened = std::fs::File::open(file).ok()?;
                    table::profile_text(format, &mut opened, labels, settings)
                }
            }
        }
        Format::Jsonl => table::profile_jsonl_file(file, labels, settings)?,
    };
    (!matches!(outcome, Err(Unreadable::Io(_)))).then_some(outcome)
}

/// Parquet needs random access: a stored blob is first written to a temporary file.
fn profile_stored_parquet(
    store: &Store,
    path: &str,
    blob: BlobId,
    labels: &[String],
    settings: &Settings,
) -> Result<std::result::Result<TableProfile, Unreadable>> {
    #[cfg(feature = "parquet")]
    {
        let file = crate::table::stored_to_temp(store, path, &blob.0)?;
        Ok(parquet::profile(file.path(), labels, settings))
    }
    #[cfg(not(feature = "parquet"))]
    {
        let _ = (store, path, blob, labels, settings);
        Ok(Err(Unreadable::NoParquet))
    }
}

/// Fills in what every table profile carries; a table that does not parse keeps its error.
fn finish(
    format: Format,
    blob: BlobId,
    outcome: std::result::Result<TableProfile, Unreadable>,
) -> TableProfile {
    let mut table = outcome.unwrap_or_else(|why| TableProfile {
        error: Some(why.to_string()),
        ..TableProfile::counted(0, 0, Vec::new())
    });
    table.format = format.name().to_string();
    table.blob = blob;
    table
}

/// Why a table could not be profiled.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("this dv was built without Parquet support (cargo feature `parquet`)")]
    NoParquet,
}

impl Profile {
    /// Whether it holds what `settings` ask for: the same null values, and each table's labels.
    pub fn covers(&self, settings: &Settings) -> bool {
        self.null_values == settings.null_values
            && self.tables.iter().all(|(path, table)| {
                table.error.is_some() || same_labels(table, &settings.labels_for(path))
            })
    }

    /// The canonical encoding (maps sorted by key).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a profile always serializes")
    }

    /// Reads a profile stored whole (by versions before format 4), refusing one too large,
    /// malformed or of a newer format.
    pub fn load(store: &Store, file: &crate::object::StoredFile) -> Result<Profile> {
        let value = stored::read_json(store, file, MAX_PROFILE_BYTES as u64, PROFILE_FORMAT)?;
        serde_json::from_value(value).map_err(|e| Error::CorruptObject {
            kind: "profile",
            id: file.blob.0,
            reason: format!("its fields are invalid: {e}"),
        })
    }
}
