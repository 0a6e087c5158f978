//! A diff between two versions (or a version and a directory) as users read it: files added,
//! removed, modified, renamed (same content, new path) and changed in mode, plus what differs
//! in provenance and parameters.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::files::{FileDiffer, FileItem, Measure};
use crate::error::Result;
use crate::fs_util::display_path;
use crate::object::Version;
use crate::object::tree::FileEntry;

/// A file that is only on one side.
#[derive(Clone, Debug, Serialize)]
pub struct FileSide {
    pub path: String,
    pub kind: &'static str,
    pub size: u64,
    pub hash: String,
}

impl FileSide {
    pub(super) fn of(entry: &FileEntry) -> Self {
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
    pub(super) fn of(old: &FileEntry, new: &FileEntry) -> Self {
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
    /// Whether more files were removed than renames are looked for among.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub renames_skipped: bool,
    #[serde(skip)]
    stat: DiffStat,
}

impl FileDiff {
    /// Collects every difference (a diff that may be millions of lines long is better
    /// streamed with [`FileDiffer::each`]).
    pub fn collect(differ: &FileDiffer<'_>) -> Result<FileDiff> {
        let mut diff = FileDiff {
            renames_skipped: differ.renames_skipped,
            ..FileDiff::default()
        };
        let mut measure = Measure::default();
        differ.each(&mut |item| {
            measure.add(&item);
            match item {
                FileItem::Added(f) => diff.added.push(f),
                FileItem::Removed(f) => diff.removed.push(f),
                FileItem::Modified(f) => diff.modified.push(f),
                FileItem::Renamed(r) => diff.renamed.push(r),
                FileItem::ModeChanged(f) => diff.mode_changed.push(f),
                FileItem::TypeChanged(f) => diff.type_changed.push(f),
            }
            Ok(())
        })?;
        diff.stat = measure.stat;
        Ok(diff)
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
        self.stat
    }
}

/// Counts of each kind of change, and the bytes that came and went.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DiffStat {
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub renamed: u64,
    pub mode_changed: u64,
    pub type_changed: u64,
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
