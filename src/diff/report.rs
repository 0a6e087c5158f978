//! A diff between two versions (or a version and a directory) as users read it: files added,
//! removed, modified, renamed (same content, new path) and changed in mode, plus what differs
//! in provenance and parameters.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::{Change, ChangeKind};
use crate::fs_util::display_path;
use crate::object::tree::FileEntry;
use crate::object::{EntryKind, Version};

/// A file that is only on one side.
#[derive(Clone, Debug, Serialize)]
pub struct FileSide {
    pub path: String,
    pub kind: &'static str,
    pub size: u64,
    pub hash: String,
}

impl FileSide {
    fn of(entry: &FileEntry) -> Self {
        FileSide {
            path: display_path(&entry.path),
            kind: entry.kind.name(),
            size: entry.size,
            hash: entry.id.to_hex(),
        }
    }
}

/// A file present on both sides whose content, mode or type differs.
#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    pub old_kind: &'static str,
    pub new_kind: &'static str,
    pub old_size: u64,
    pub new_size: u64,
    pub old_hash: String,
    pub new_hash: String,
}

impl FileChange {
    fn of(old: &FileEntry, new: &FileEntry) -> Self {
        FileChange {
            path: display_path(&new.path),
            old_kind: old.kind.name(),
            new_kind: new.kind.name(),
            old_size: old.size,
            new_size: new.size,
            old_hash: old.id.to_hex(),
            new_hash: new.id.to_hex(),
        }
    }
}

/// The same content under a new path.
#[derive(Clone, Debug, Serialize)]
pub struct Rename {
    pub from: String,
    pub to: String,
    pub size: u64,
    pub hash: String,
}

/// File-level differences, each list in path order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileDiff {
    pub added: Vec<FileSide>,
    pub removed: Vec<FileSide>,
    pub modified: Vec<FileChange>,
    pub renamed: Vec<Rename>,
    pub mode_changed: Vec<FileChange>,
    pub type_changed: Vec<FileChange>,
}

impl FileDiff {
    /// Groups tree changes, pairing a removed and an added file with identical content and
    /// kind into a rename. A renamed file that was also modified stays removed + added.
    pub fn from_changes(changes: &[Change]) -> FileDiff {
        let mut diff = FileDiff::default();
        let mut removed_by_content: HashMap<(crate::id::Hash, EntryKind), Vec<&FileEntry>> =
            HashMap::new();
        for change in changes.iter().filter(|c| c.kind == ChangeKind::Removed) {
            if let Some(old) = &change.old {
                removed_by_content
                    .entry((old.id, old.kind))
                    .or_default()
                    .push(old);
            }
        }
        for list in removed_by_content.values_mut() {
            list.reverse(); // pop() then yields them in path order
        }
        let mut renamed_from = std::collections::HashSet::new();
        for change in changes {
            match (change.kind, &change.old, &change.new) {
                (ChangeKind::Added, _, Some(new)) => {
                    match removed_by_content
                        .get_mut(&(new.id, new.kind))
                        .and_then(Vec::pop)
                    {
                        Some(old) => {
                            renamed_from.insert(old.path.clone());
                            diff.renamed.push(Rename {
                                from: display_path(&old.path),
                                to: display_path(&new.path),
                                size: new.size,
                                hash: new.id.to_hex(),
                            });
                        }
                        None => diff.added.push(FileSide::of(new)),
                    }
                }
                (ChangeKind::Modified, Some(old), Some(new)) => {
                    diff.modified.push(FileChange::of(old, new))
                }
                (ChangeKind::ModeChanged, Some(old), Some(new)) => {
                    diff.mode_changed.push(FileChange::of(old, new))
                }
                (ChangeKind::TypeChanged, Some(old), Some(new)) => {
                    diff.type_changed.push(FileChange::of(old, new))
                }
                _ => {}
            }
        }
        for change in changes.iter().filter(|c| c.kind == ChangeKind::Removed) {
            if let Some(old) = &change.old
                && !renamed_from.contains(&old.path)
            {
                diff.removed.push(FileSide::of(old));
            }
        }
        diff.renamed.sort_by(|a, b| a.to.cmp(&b.to));
        diff
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.modified.is_empty()
            && self.renamed.is_empty()
            && self.mode_changed.is_empty()
            && self.type_changed.is_empty()
    }

    /// Counts and byte totals.
    pub fn stat(&self) -> DiffStat {
        DiffStat {
            added: self.added.len(),
            removed: self.removed.len(),
            modified: self.modified.len(),
            renamed: self.renamed.len(),
            mode_changed: self.mode_changed.len(),
            type_changed: self.type_changed.len(),
            bytes_added: self.added.iter().map(|f| f.size).sum::<u64>()
                + self
                    .modified
                    .iter()
                    .map(|m| m.new_size.saturating_sub(m.old_size))
                    .sum::<u64>(),
            bytes_removed: self.removed.iter().map(|f| f.size).sum::<u64>()
                + self
                    .modified
                    .iter()
                    .map(|m| m.old_size.saturating_sub(m.new_size))
                    .sum::<u64>(),
        }
    }
}

/// Counts of each kind of change, and the bytes that came and went.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DiffStat {
    pub added: usize,
    pub removed: usize,
    pub modified: usize,
    pub renamed: usize,
    pub mode_changed: usize,
    pub type_changed: usize,
    pub bytes_added: u64,
    pub bytes_removed: u64,
}

/// One provenance field's old and new value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueChange {
    pub old: Value,
    pub new: Value,
}

/// Parameter differences.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ParamsDiff {
    pub added: BTreeMap<String, Value>,
    pub removed: BTreeMap<String, Value>,
    pub changed: BTreeMap<String, ValueChange>,
}

impl ParamsDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The provenance fields that differ (dataset, stage, inputs, transform, code, code revision),
/// and the parameter differences.
pub fn provenance_diff(
    old: &Version,
    new: &Version,
) -> (BTreeMap<&'static str, ValueChange>, ParamsDiff) {
    let mut fields = BTreeMap::new();
    let pairs: [(&'static str, Value, Value); 6] = [
        ("dataset", to_json(&old.dataset), to_json(&new.dataset)),
        ("stage", to_json(&old.stage), to_json(&new.stage)),
        ("inputs", to_json(&old.inputs), to_json(&new.inputs)),
        (
            "transform",
            to_json(&old.transform),
            to_json(&new.transform),
        ),
        ("code", to_json(&old.code), to_json(&new.code)),
        (
            "code_revision",
            to_json(&old.code_revision),
            to_json(&new.code_revision),
        ),
    ];
    for (name, a, b) in pairs {
        if a != b {
            fields.insert(name, ValueChange { old: a, new: b });
        }
    }
    let mut params = ParamsDiff::default();
    for (key, value) in &new.params {
        match old.params.get(key) {
            None => {
                params.added.insert(key.clone(), value.clone());
            }
            Some(before) if before != value => {
                params.changed.insert(
                    key.clone(),
                    ValueChange {
                        old: before.clone(),
                        new: value.clone(),
                    },
                );
            }
            Some(_) => {}
        }
    }
    for (key, value) in &old.params {
        if !new.params.contains_key(key) {
            params.removed.insert(key.clone(), value.clone());
        }
    }
    (fields, params)
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("version fields serialize")
}
