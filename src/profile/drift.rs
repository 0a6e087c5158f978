//! Drift: what changed between two versions' profiles — the answer to "the model got worse,
//! what changed in the data?".

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Count, Profile, TableProfile};

/// An old and a new number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub old: u64,
    pub new: u64,
}

impl Change {
    fn of(old: u64, new: u64) -> Change {
        Change { old, new }
    }

    pub fn moved(&self) -> bool {
        self.old != self.new
    }
}

/// A column whose type or null count moved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnChange {
    pub column: String,
    pub old: String,
    pub new: String,
}

/// How one label column's distribution moved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelShift {
    /// Total variation distance between the two distributions: half the sum of the absolute
    /// differences of each value's share, 0 (same) to 1 (disjoint).
    pub distance: f64,
    /// Value → rows before and after (values kept in either profile).
    pub values: BTreeMap<String, Change>,
}

/// What moved in one table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableDrift {
    /// `added`, `removed` or `changed`.
    pub status: &'static str,
    pub rows: Change,
    pub duplicate_rows: Change,
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub retyped: Vec<ColumnChange>,
    /// Columns whose null count moved.
    pub nulls: BTreeMap<String, Change>,
    pub labels: BTreeMap<String, LabelShift>,
}

/// Files per directory, and how far their shares moved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Balance {
    /// Total variation distance between the shares of files per top-level directory.
    pub distance: f64,
    /// Parent → total variation distance between the shares of files per subdirectory (the
    /// class balance of `train/<class>/…`), for parents with subdirectories.
    pub classes: BTreeMap<String, f64>,
    /// Directory → files (as in the profiles).
    pub directories: BTreeMap<String, Change>,
}

/// What moved between two profiles.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Drift {
    pub files: Change,
    pub bytes: Change,
    /// Extensions whose file count moved: extension → files.
    pub extensions: BTreeMap<String, Change>,
    /// Files per top-level directory (class balance for `train/<class>/…` layouts).
    pub directories: Balance,
    /// Tables added, removed or changed (unchanged tables are left out).
    pub tables: BTreeMap<String, TableDrift>,
}

impl Drift {
    /// Whether anything the profile measures moved.
    pub fn is_empty(&self) -> bool {
        !self.files.moved()
            && !self.bytes.moved()
            && self.extensions.is_empty()
            && self.directories.directories.values().all(|c| !c.moved())
            && self.tables.is_empty()
    }
}

/// Total variation distance between two count distributions over the same keys.
pub fn total_variation(changes: &[Change]) -> f64 {
    let (old_total, new_total) = changes
        .iter()
        .fold((0u64, 0u64), |(o, n), c| (o + c.old, n + c.new));
    if old_total == 0 || new_total == 0 {
        return if old_total == new_total { 0.0 } else { 1.0 };
    }
    let sum: f64 = changes
        .iter()
        .map(|c| (c.old as f64 / old_total as f64 - c.new as f64 / new_total as f64).abs())
        .sum();
    // Rounded so the JSON is stable across platforms' last bits.
    (sum / 2.0 * 1e6).round() / 1e6
}

fn counts_drift(
    old: &BTreeMap<String, Count>,
    new: &BTreeMap<String, Count>,
) -> BTreeMap<String, Change> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let o = old.get(k).copied().unwrap_or_default();
            let n = new.get(k).copied().unwrap_or_default();
            (
                k.clone(),
                (Change::of(o.files, n.files), o.files != n.files),
            )
        })
        .filter(|(_, (_, moved))| *moved)
        .map(|(k, (c, _))| (k, c))
        .collect()
}

/// Compares two profiles.
pub fn drift(old: &Profile, new: &Profile) -> Drift {
    let keys: BTreeSet<&String> = old
        .directories
        .keys()
        .chain(new.directories.keys())
        .collect();
    let directories: BTreeMap<String, Change> = keys
        .into_iter()
        .map(|k| {
            let o = old.directories.get(k).map_or(0, |c| c.files);
            let n = new.directories.get(k).map_or(0, |c| c.files);
            (k.clone(), Change::of(o, n))
        })
        .collect();
    let top: Vec<Change> = directories
        .iter()
        .filter(|(name, _)| !name.contains('/'))
        .map(|(_, c)| *c)
        .collect();
    let mut by_parent: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for (name, change) in &directories {
        if let Some((parent, _)) = name.split_once('/') {
            by_parent.entry(parent).or_default().push(*change);
        }
    }
    let balance = Balance {
        distance: total_variation(&top),
        classes: by_parent
            .into_iter()
            .map(|(parent, changes)| (parent.to_string(), total_variation(&changes)))
            .collect(),
        directories,
    };
    let mut tables = BTreeMap::new();
    let paths: BTreeSet<&String> = old.tables.keys().chain(new.tables.keys()).collect();
    for path in paths {
        let empty = TableProfile::counted(0, 0, Vec::new());
        let (status, o, n) = match (old.tables.get(path), new.tables.get(path)) {
            (Some(o), Some(n)) if o.blob == n.blob && o.labels == n.labels => continue,
            (Some(o), Some(n)) => ("changed", o, n),
            (Some(o), None) => ("removed", o, &empty),
            (None, Some(n)) => ("added", &empty, n),
            (None, None) => continue,
        };
        tables.insert(path.clone(), table_drift(status, o, n));
    }
    Drift {
        files: Change::of(old.files, new.files),
        bytes: Change::of(old.bytes, new.bytes),
        extensions: counts_drift(&old.extensions, &new.extensions),
        directories: balance,
        tables,
    }
}

fn table_drift(status: &'static str, old: &TableProfile, new: &TableProfile) -> TableDrift {
    let old_names: Vec<&String> = old.columns.iter().map(|c| &c.name).collect();
    let new_names: Vec<&String> = new.columns.iter().map(|c| &c.name).collect();
    let mut retyped = Vec::new();
    let mut nulls = BTreeMap::new();
    for column in &new.columns {
        if let Some(before) = old.column(&column.name) {
            if before.kind != column.kind {
                retyped.push(ColumnChange {
                    column: column.name.clone(),
                    old: before.kind.clone(),
                    new: column.kind.clone(),
                });
            }
            if before.nulls != column.nulls {
                nulls.insert(column.name.clone(), Change::of(before.nulls, column.nulls));
            }
        }
    }
    let mut labels = BTreeMap::new();
    let label_columns: BTreeSet<&String> = old.labels.keys().chain(new.labels.keys()).collect();
    for column in label_columns {
        let none = BTreeMap::new();
        let before = old.labels.get(column).unwrap_or(&none);
        let after = new.labels.get(column).unwrap_or(&none);
        let values: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        let mut changes: BTreeMap<String, Change> = values
            .into_iter()
            .map(|v| {
                let o = before.get(v).copied().unwrap_or(0);
                let n = after.get(v).copied().unwrap_or(0);
                (v.clone(), Change::of(o, n))
            })
            .collect();
        let other = Change::of(
            old.labels_other.get(column).copied().unwrap_or(0),
            new.labels_other.get(column).copied().unwrap_or(0),
        );
        let mut all: Vec<Change> = changes.values().copied().collect();
        all.push(other);
        let distance = total_variation(&all);
        changes.retain(|_, c| c.moved());
        if distance > 0.0 || !changes.is_empty() {
            labels.insert(
                column.clone(),
                LabelShift {
                    distance,
                    values: changes,
                },
            );
        }
    }
    TableDrift {
        status,
        rows: Change::of(old.rows, new.rows),
        duplicate_rows: Change::of(old.duplicate_rows, new.duplicate_rows),
        columns_added: new_names
            .iter()
            .filter(|c| !old_names.contains(c))
            .map(|c| c.to_string())
            .collect(),
        columns_removed: old_names
            .iter()
            .filter(|c| !new_names.contains(c))
            .map(|c| c.to_string())
            .collect(),
        retyped,
        nulls,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_variation_of_shares() {
        let same = [Change::of(10, 20), Change::of(30, 60)];
        assert_eq!(total_variation(&same), 0.0);
        let disjoint = [Change::of(10, 0), Change::of(0, 5)];
        assert_eq!(total_variation(&disjoint), 1.0);
        // 50/50 → 75/25 moves a quarter of the mass.
        let shifted = [Change::of(50, 75), Change::of(50, 25)];
        assert_eq!(total_variation(&shifted), 0.25);
    }
}
