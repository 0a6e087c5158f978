//! How profiles are stored, and which stored table profiles a commit reuses.
//!
//! Since version format 4 a profile is a summary (counts by extension and directory, and the
//! settings its tables were profiled with) and one file per table, at the table's own path in a
//! tree of its own (`Version::profile_tables`). A table's file holds its profile and those
//! settings, so it is addressed by the table's content and the settings: versions share it the
//! way they share the table, a commit reuses it without reading it ([`Known`]), and a reader
//! loads only the tables it asks for. Versions before format 4 hold the whole profile in one
//! file ([`Profile::load`]); both are read, only the new form is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Count, MAX_PROFILE_BYTES, MAX_PROFILED_TABLES, Profile, Settings, TableProfile};
use crate::error::{Error, Result};
use crate::id::{BlobId, TreeId};
use crate::object::tree::{Entry, EntryKind, Tree, TreeSource};
use crate::object::walk::{walk_files, walk_files_where};
use crate::object::{StoredFile, Version};
use crate::store::{Kind, Store};
use crate::table::Format;

/// The encoding of a summary and of a table's stored profile.
pub const STORED_FORMAT: u32 = 2;
/// A table's stored profile larger than this is refused rather than read.
const MAX_TABLE_PROFILE_BYTES: u64 = 64 << 20;

/// What a version's profile says beyond its tables, and how its tables were profiled.
#[derive(Serialize, Deserialize)]
struct Summary {
    format: u32,
    files: u64,
    bytes: u64,
    extensions: BTreeMap<String, Count>,
    directories: BTreeMap<String, Count>,
    /// How many tables the profile's tree holds (checked when it is read).
    tables: u64,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    tables_omitted: u64,
    null_values: Vec<String>,
    max_label_values: usize,
    /// The label columns asked for, per file pattern, in the order `dv.toml` gives them.
    labels: Vec<LabelRule>,
}

/// One `[profile]` label setting: the tables a pattern matches, and their label columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct LabelRule {
    files: String,
    columns: Vec<String>,
}

/// One table's stored profile, with what it was profiled with, so its id names both.
#[derive(Serialize, Deserialize)]
struct StoredTable<T> {
    format: u32,
    null_values: Vec<String>,
    max_label_values: usize,
    table: T,
}

fn label_rules(settings: &Settings) -> Vec<LabelRule> {
    settings
        .labels
        .iter()
        .map(|(glob, columns)| LabelRule {
            files: glob.glob().glob().to_string(),
            columns: columns.clone(),
        })
        .collect()
}

/// A version's profile as a commit makes it: the tables profiled (or taken from older stored
/// profiles) in `profile`, the tables whose stored profile is reused as it is, unread, and the
/// directories whose data did not change since the previous version, whose profile subtree is
/// reused whole (not even listed).
#[derive(Debug)]
pub struct Made {
    pub profile: Profile,
    reused: BTreeMap<String, StoredFile>,
    /// Each with its tree as decoded when it was found unchanged (its totals go in the new tree).
    reused_dirs: BTreeMap<String, (TreeId, Tree)>,
    settings: Settings,
}

impl Made {
    pub(super) fn new(
        profile: Profile,
        reused: BTreeMap<String, StoredFile>,
        reused_dirs: BTreeMap<String, (TreeId, Tree)>,
        settings: &Settings,
    ) -> Made {
        Made {
            profile,
            reused,
            reused_dirs,
            settings: settings.clone(),
        }
    }

    /// Lists the tables of the reused directories, as reused tables.
    fn list_reused_dirs(&mut self, store: &Store) -> Result<()> {
        for (dir, (tree, _)) in std::mem::take(&mut self.reused_dirs) {
            for (path, file) in list_tables(store, &tree)? {
                let path = match dir.is_empty() {
                    true => path,
                    false => format!("{dir}/{path}"),
                };
                self.reused.insert(path, file);
            }
        }
        Ok(())
    }

    /// Reads the reused tables' profiles, so that `profile` holds every table (what the stage
    /// rules check).
    pub fn load_reused(&mut self, store: &Store) -> Result<()> {
        self.list_reused_dirs(store)?;
        let reused = std::mem::take(&mut self.reused);
        let loaded = load_tables(store, reused.into_iter().collect())?;
        self.profile.tables.extend(loaded);
        Ok(())
    }

    /// Keeps only the tables whose path `keep` accepts.
    pub fn retain_tables(&mut self, store: &Store, keep: &dyn Fn(&str) -> bool) -> Result<()> {
        self.list_reused_dirs(store)?;
        self.profile.tables.retain(|path, _| keep(path));
        self.reused.retain(|path, _| keep(path));
        Ok(())
    }

    /// The whole profile.
    pub fn into_profile(mut self, store: &Store) -> Result<Profile> {
        self.load_reused(store)?;
        Ok(self.profile)
    }

    /// Stores the profile: each table's profile not stored yet, the tree naming them, and the
    /// summary, each a delta against what `known`'s first version stored at the same path when
    /// that helps. Returns the summary and the tree, for `Version::profile` and
    /// `Version::profile_tables`.
    pub fn store(&self, store: &Store, known: &Known) -> Result<(StoredFile, TreeId)> {
        let batch = store.batch();
        let settings = &self.settings;
        let bases = known.bases.as_ref();
        let files: Vec<(&str, StoredFile)> = self
            .profile
            .tables
            .par_iter()
            .map(|(path, table)| {
                let bytes = serde_json::to_vec(&StoredTable {
                    format: STORED_FORMAT,
                    null_values: settings.null_values.clone(),
                    max_label_values: settings.max_label_values,
                    table,
                })
                .expect("a table profile always serializes");
                let base = bases.and_then(|b| b.tables.get(path)).map(|f| &f.blob.0);
                let id = batch.put_bytes(Kind::Blob, &bytes, base)?;
                let file = StoredFile {
                    blob: BlobId(id),
                    size: bytes.len() as u64,
                };
                Ok((path.as_str(), file))
            })
            .collect::<Result<_>>()?;
        let mut items: Vec<(&str, Item)> = files
            .into_iter()
            .map(|(path, file)| (path, Item::File(file)))
            .chain(
                self.reused
                    .iter()
                    .map(|(path, file)| (path.as_str(), Item::File(*file))),
            )
            .collect();
        for (dir, (id, tree)) in &self.reused_dirs {
            items.push((dir.as_str(), Item::Tree(*id, tree.clone())));
        }
        items.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let (tables, tree) = match items.as_slice() {
            // Nothing changed: the previous version's tree as it is.
            [("", Item::Tree(id, tree))] => (*id, tree.clone()),
            _ => put_tree(store, &batch, &items, bases.map(|b| b.tree))?,
        };
        let summary = Summary {
            format: STORED_FORMAT,
            files: self.profile.files,
            bytes: self.profile.bytes,
            extensions: self.profile.extensions.clone(),
            directories: self.profile.directories.clone(),
            tables: tree.files,
            tables_omitted: self.profile.tables_omitted,
            null_values: settings.null_values.clone(),
            max_label_values: settings.max_label_values,
            labels: label_rules(settings),
        };
        let bytes = serde_json::to_vec(&summary).expect("a summary always serializes");
        let id = batch.put_bytes(Kind::Blob, &bytes, bases.map(|b| &b.summary.0))?;
        batch.finish()?;
        let summary = StoredFile {
            blob: BlobId(id),
            size: bytes.len() as u64,
        };
        Ok((summary, tables))
    }
}

/// What a profile's tree holds at a path: a table's profile, or a directory reused whole.
#[derive(Clone)]
enum Item {
    File(StoredFile),
    Tree(TreeId, Tree),
}

/// Stores the trees holding `items` (sorted by path, paths `/`-separated below this tree),
/// each a delta against `previous`'s tree at the same path; returns the tree's id and totals.
fn put_tree(
    store: &Store,
    batch: &crate::store::Batch<'_>,
    items: &[(&str, Item)],
    previous: Option<TreeId>,
) -> Result<(TreeId, Tree)> {
    // A previous tree that cannot be read is only no delta base.
    let before = previous.and_then(|id| store.tree(&id).ok());
    let mut entries = Vec::new();
    let mut subtree_files = 0;
    let mut rest = items;
    while let Some(((path, item), after)) = rest.split_first() {
        match path.split_once('/') {
            None => {
                let (kind, id, size) = match item {
                    Item::File(file) => (EntryKind::File, file.blob.0, file.size),
                    Item::Tree(id, tree) => {
                        subtree_files += tree.files;
                        (EntryKind::Tree, id.0, tree.bytes)
                    }
                };
                entries.push(Entry {
                    name: path.as_bytes().to_vec(),
                    kind,
                    id,
                    size,
                });
                rest = after;
            }
            Some((dir, _)) => {
                // Paths below one directory are next to each other in path order.
                let prefix = format!("{dir}/");
                let inside = rest
                    .iter()
                    .take_while(|(p, _)| p.starts_with(&prefix))
                    .count();
                let below: Vec<(&str, Item)> = rest[..inside]
                    .iter()
                    .map(|(p, item)| (&p[prefix.len()..], item.clone()))
                    .collect();
                let base = before
                    .as_ref()
                    .and_then(|t| t.get(dir.as_bytes()))
                    .filter(|e| e.kind == EntryKind::Tree)
                    .map(|e| TreeId(e.id));
                let (id, tree) = put_tree(store, batch, &below, base)?;
                subtree_files += tree.files;
                entries.push(Entry {
                    name: dir.as_bytes().to_vec(),
                    kind: EntryKind::Tree,
                    id: id.0,
                    size: tree.bytes,
                });
                rest = &rest[inside..];
            }
        }
    }
    let tree = Tree::new(entries, subtree_files);
    let id = batch.put_bytes(Kind::Tree, &tree.encode(), previous.as_ref().map(|t| &t.0))?;
    Ok((TreeId(id), tree))
}

/// A version's stored profile, if it has one: read whole (all its tables).
pub fn stored(store: &Store, version: &Version) -> Result<Option<Profile>> {
    stored_where(store, version, &|_| true)
}

/// A version's stored profile with only the tables whose path `keep` accepts: the others are
/// not read (a profile stored whole is read, then narrowed).
pub fn stored_where(
    store: &Store,
    version: &Version,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<Profile>> {
    let Some(file) = &version.profile else {
        return Ok(None);
    };
    let Some(tables) = version.profile_tables else {
        let mut profile = Profile::load(store, file)?;
        profile.tables.retain(|path, _| keep(path));
        return Ok(Some(profile));
    };
    let summary = load_summary(store, file)?;
    let listed = list_tables(store, &tables)?;
    if listed.len() as u64 != summary.tables {
        return Err(Error::CorruptObject {
            kind: "profile",
            id: file.blob.0,
            reason: format!(
                "it says its tables are {}, its tree {tables} holds {}",
                summary.tables,
                listed.len()
            ),
        });
    }
    let wanted = listed.into_iter().filter(|(path, _)| keep(path)).collect();
    let tables = load_tables(store, wanted)?;
    Ok(Some(Profile {
        format: super::PROFILE_FORMAT,
        files: summary.files,
        bytes: summary.bytes,
        extensions: summary.extensions,
        directories: summary.directories,
        tables: tables.into_iter().collect(),
        tables_omitted: summary.tables_omitted,
        null_values: summary.null_values,
    }))
}

/// The tables whose stored profile differs between two versions (added, removed or changed):
/// with both profiles stored table by table and here, what comparing them needs to read —
/// identical subtrees of the two profile trees are not even listed. `None` otherwise.
pub fn changed_tables(
    ws: &crate::Workspace,
    old: &Version,
    new: &Version,
) -> Option<BTreeSet<String>> {
    let store = &ws.store;
    let (old, new) = (old.profile_tables?, new.profile_tables?);
    if !store.has(Kind::Tree, &old.0) || !store.has(Kind::Tree, &new.0) {
        return None;
    }
    let mut changed = BTreeSet::new();
    crate::diff::diff_trees_each(store, &old, &new, &mut |change| {
        changed.insert(String::from_utf8_lossy(&change.path).into_owned());
        Ok(())
    })
    .ok()?;
    Some(changed)
}

/// Reads a JSON file of a profile: bounded by `max` bytes, of a known format.
pub(super) fn read_json(
    store: &Store,
    file: &StoredFile,
    max: u64,
    newest: u32,
) -> Result<serde_json::Value> {
    let bad = |reason: String| Error::CorruptObject {
        kind: "profile",
        id: file.blob.0,
        reason,
    };
    if file.size > max {
        return Err(bad(format!(
            "it claims {} bytes, more than the {max} dv reads",
            file.size
        )));
    }
    let mut bytes = Vec::new();
    store
        .read(Kind::Blob, &file.blob.0)?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(bad(format!("it is larger than {max} bytes")));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("it is not JSON: {e}")))?;
    match value.get("format").and_then(serde_json::Value::as_u64) {
        None => Err(bad("it has no format number".into())),
        Some(format) if format > u64::from(newest) => Err(bad(format!(
            "it uses profile format {format}, newer than this dv reads ({newest}); upgrade dv"
        ))),
        Some(_) => Ok(value),
    }
}

fn parse<T: serde::de::DeserializeOwned>(file: &StoredFile, value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::CorruptObject {
        kind: "profile",
        id: file.blob.0,
        reason: format!("its fields are invalid: {e}"),
    })
}

fn load_summary(store: &Store, file: &StoredFile) -> Result<Summary> {
    let value = read_json(store, file, MAX_PROFILE_BYTES as u64, STORED_FORMAT)?;
    parse(file, value)
}

/// The tables a profile's tree names, by path: every entry a file, at most
/// [`MAX_PROFILED_TABLES`] of them (a crafted tree is refused, not walked without end).
fn list_tables(store: &Store, tables: &TreeId) -> Result<Vec<(String, StoredFile)>> {
    let bad = |reason: String| Error::CorruptObject {
        kind: "profile tree",
        id: tables.0,
        reason,
    };
    let mut listed = Vec::new();
    let mut bytes = 0u64;
    walk_files(store, tables, &mut |file| {
        if file.kind != EntryKind::File {
            return Err(bad(format!(
                "{} is not a file",
                String::from_utf8_lossy(&file.path)
            )));
        }
        if listed.len() >= MAX_PROFILED_TABLES {
            return Err(bad(format!(
                "it names more than the {MAX_PROFILED_TABLES} tables a profile holds"
            )));
        }
        bytes = bytes.saturating_add(file.size);
        if bytes > MAX_PROFILE_BYTES as u64 {
            return Err(bad(format!(
                "its tables' profiles are more than the {MAX_PROFILE_BYTES} bytes dv reads"
            )));
        }
        let path =
            String::from_utf8(file.path).map_err(|e| bad(format!("a path is not UTF-8: {e}")))?;
        let stored = StoredFile {
            blob: BlobId(file.id),
            size: file.size,
        };
        listed.push((path, stored));
        Ok(())
    })?;
    Ok(listed)
}

/// Reads tables' stored profiles (on all cores: each is a small file).
fn load_tables(
    store: &Store,
    tables: Vec<(String, StoredFile)>,
) -> Result<Vec<(String, TableProfile)>> {
    tables
        .into_par_iter()
        .map(|(path, file)| {
            let value = read_json(store, &file, MAX_TABLE_PROFILE_BYTES, STORED_FORMAT)?;
            let stored: StoredTable<TableProfile> = parse(&file, value)?;
            Ok((path, stored.table))
        })
        .collect()
}

/// A table profile an earlier version stored, reusable for the same content.
#[derive(Debug)]
enum Reusable {
    /// Stored with the settings asked for now: reused by its id, unread, for a table at a path
    /// asking for the same label columns as the one it was made for.
    Stored {
        file: StoredFile,
        format: &'static str,
        labels: Vec<String>,
    },
    /// Read (a profile stored whole, or stored with other label settings): reused when it
    /// holds exactly the labels asked for. (Boxed: the map holds one entry per known table.)
    Loaded(Box<TableProfile>),
}

/// Table profiles earlier versions stored, by the content they describe: what a commit does
/// not read again, however the file came to be on disk and whatever its path.
///
/// It also holds the delta bases of what a commit stores: the first version's stored profile
/// (its summary, tree, and each table's file by path).
#[derive(Debug, Default)]
pub struct Known {
    /// The first earlier version stored table by table with the settings asked for now.
    previous: Option<Previous>,
    /// Looked up once per table a commit hashes (50,000 in a 100,000-file commit): hashed with
    /// foldhash, not SipHash.
    by_content: HashMap<BlobId, Reusable, foldhash::fast::RandomState>,
    bases: Option<Bases>,
}

/// An earlier version's data and profile trees: a directory whose data is the same keeps its
/// profile subtree.
#[derive(Clone, Copy, Debug)]
struct Previous {
    data: TreeId,
    profile: TreeId,
}

/// A stored profile's objects, as delta bases of the next version's.
#[derive(Debug)]
struct Bases {
    summary: BlobId,
    tree: TreeId,
    tables: HashMap<String, StoredFile>,
}

/// What a [`Known`] table profile gives a table: its stored profile, or one read.
pub(super) enum Reuse<'a> {
    Stored(StoredFile),
    Loaded(&'a TableProfile),
}

impl Known {
    /// The table profiles of `profiles` (read whole), when made with the same null values.
    pub fn of_profiles(profiles: &[Profile], settings: &Settings) -> Known {
        let mut known = Known::default();
        for profile in profiles
            .iter()
            .filter(|p| p.null_values == settings.null_values)
        {
            for table in profile.tables.values().filter(|t| t.error.is_none()) {
                known
                    .by_content
                    .insert(table.blob, Reusable::Loaded(Box::new(table.clone())));
            }
        }
        known
    }

    /// The table profiles `versions` stored (what of them is here and readable: a profile that
    /// cannot be read only means its tables are read again).
    pub fn of_versions(store: &Store, versions: &[Version], settings: &Settings) -> Known {
        let mut known = Known::default();
        for version in versions {
            match version.profile_tables {
                Some(_) => {
                    let _ = known.add_tables_of(store, version, settings);
                }
                None => {
                    if let Ok(Some(profile)) = stored(store, version) {
                        known.extend(Known::of_profiles(&[profile], settings));
                    }
                }
            }
        }
        known
    }

    fn extend(&mut self, other: Known) {
        for (content, reusable) in other.by_content {
            self.by_content.entry(content).or_insert(reusable);
        }
    }

    /// Adds the tables of a version whose profile is stored table by table: their content is
    /// what the version's data tree holds at the same path.
    fn add_tables_of(
        &mut self,
        store: &Store,
        version: &Version,
        settings: &Settings,
    ) -> Result<()> {
        let (Some(file), Some(tables)) = (&version.profile, &version.profile_tables) else {
            return Ok(());
        };
        let listed: HashMap<String, StoredFile> = list_tables(store, tables)?.into_iter().collect();
        let learned = self.learn(store, version, &listed, settings);
        if self.bases.is_none() {
            self.bases = Some(Bases {
                summary: file.blob,
                tree: *tables,
                tables: listed,
            });
        }
        learned
    }

    /// Learns the reusable table profiles of a version stored table by table (`listed`: its
    /// profile tree's files by path), when its settings allow.
    fn learn(
        &mut self,
        store: &Store,
        version: &Version,
        listed: &HashMap<String, StoredFile>,
        settings: &Settings,
    ) -> Result<()> {
        let (Some(file), Some(tables)) = (&version.profile, &version.profile_tables) else {
            return Ok(());
        };
        let summary = load_summary(store, file)?;
        if summary.null_values != settings.null_values
            || summary.max_label_values != settings.max_label_values
        {
            return Ok(());
        }
        let same_labels = summary.labels == label_rules(settings);
        // A directory's subtree stands for all its tables only if none was left out.
        if same_labels && summary.tables_omitted == 0 && self.previous.is_none() {
            self.previous = Some(Previous {
                data: version.tree,
                profile: *tables,
            });
        }
        // The data tree is entered only on the way to a table.
        let mut dirs: BTreeSet<Vec<u8>> = BTreeSet::new();
        for path in listed.keys() {
            let mut at = 0;
            while let Some(slash) = path[at..].find('/') {
                at += slash;
                dirs.insert(path.as_bytes()[..at].to_vec());
                at += 1;
            }
        }
        let mut contents: Vec<(String, StoredFile, BlobId)> = Vec::new();
        walk_files_where(
            store,
            &version.tree,
            &mut |path, _, _| dirs.contains(path),
            &mut |entry| {
                if let Ok(path) = std::str::from_utf8(&entry.path)
                    && let Some(stored) = listed.get(path)
                    && entry.kind != EntryKind::Symlink
                {
                    contents.push((path.to_string(), *stored, BlobId(entry.id)));
                }
                Ok(())
            },
        )?;
        if same_labels {
            for (path, file, content) in contents {
                let Some(format) = Format::of(&path) else {
                    continue;
                };
                let reusable = Reusable::Stored {
                    file,
                    format: format.name(),
                    labels: settings.labels_for(&path),
                };
                self.by_content.entry(content).or_insert(reusable);
            }
        } else {
            let wanted = contents
                .into_iter()
                .filter(|(_, _, content)| !self.by_content.contains_key(content))
                .map(|(path, file, _)| (path, file))
                .collect();
            for (_, table) in load_tables(store, wanted)? {
                if table.error.is_none() {
                    self.by_content
                        .entry(table.blob)
                        .or_insert(Reusable::Loaded(Box::new(table)));
                }
            }
        }
        Ok(())
    }

    /// The profile known for a table of `format` at `path` holding `content`, when it holds
    /// exactly what `settings` ask for there.
    pub(super) fn find(
        &self,
        content: &BlobId,
        path: &str,
        format: Format,
        settings: &Settings,
    ) -> Option<Reuse<'_>> {
        let wanted = || settings.labels_for(path);
        match self.by_content.get(content)? {
            Reusable::Stored {
                file,
                format: made_as,
                labels,
            } => (*made_as == format.name() && *labels == wanted()).then_some(Reuse::Stored(*file)),
            Reusable::Loaded(table) => (table.format == format.name()
                && super::same_labels(table, &wanted()))
            .then_some(Reuse::Loaded(table)),
        }
    }
}

/// Finds an earlier version's data and profile subtrees at a directory's path, a parent before
/// its children (each looked up once), for [`super::profile_tree`] to reuse a profile subtree
/// whose directory's data did not change.
pub(super) struct PreviousAt<'s> {
    store: &'s Store,
    dirs: HashMap<Vec<u8>, (Option<TreeId>, Option<TreeId>)>,
    trees: HashMap<TreeId, Option<Tree>>,
}

impl<'s> PreviousAt<'s> {
    pub(super) fn new(store: &'s Store, known: &Known) -> Option<PreviousAt<'s>> {
        let previous = known.previous?;
        let mut dirs = HashMap::new();
        dirs.insert(Vec::new(), (Some(previous.data), Some(previous.profile)));
        Some(PreviousAt {
            store,
            dirs,
            trees: HashMap::new(),
        })
    }

    /// The profile subtree at `path` (`""` for the root), when the earlier version's data
    /// there is `data`.
    pub(super) fn unchanged(&mut self, path: &[u8], data: &TreeId) -> Option<(TreeId, Tree)> {
        let (was, profile) = self.at(path);
        let profile = profile.filter(|_| was == Some(*data))?;
        Some((profile, self.tree(profile)?.clone()))
    }

    fn at(&mut self, path: &[u8]) -> (Option<TreeId>, Option<TreeId>) {
        if let Some(found) = self.dirs.get(path) {
            return *found;
        }
        let (parent, name) = match path.iter().rposition(|b| *b == b'/') {
            Some(slash) => (&path[..slash], &path[slash + 1..]),
            None => (&path[..0], path),
        };
        let (data, profile) = self.at(parent);
        let found = (self.child(data, name), self.child(profile, name));
        self.dirs.insert(path.to_vec(), found);
        found
    }

    fn child(&mut self, tree: Option<TreeId>, name: &[u8]) -> Option<TreeId> {
        let entry = self.tree(tree?)?.get(name)?;
        (entry.kind == EntryKind::Tree).then_some(TreeId(entry.id))
    }

    /// A tree of the earlier version (one that cannot be read is only nothing to reuse).
    fn tree(&mut self, id: TreeId) -> Option<&Tree> {
        let store = self.store;
        self.trees
            .entry(id)
            .or_insert_with(|| store.tree(&id).ok())
            .as_ref()
    }
}
