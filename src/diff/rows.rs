//! Row-level diff of tabular files: CSV and TSV (header-aware, quoted fields, CRLF), JSONL and
//! Parquet (its values compared as text, see `profile::parquet`).
//!
//! Rows are compared as multisets by content, so reordering rows changes nothing; with key
//! columns, rows are matched by key and changed rows report which columns changed. Columns
//! added, removed or reordered are reported as schema changes, and rows are compared on the
//! columns both sides have.
//!
//! Memory stays bounded whatever the file size: each row is reduced to a 16-byte hash, the
//! hashes are spread over partitions that spill to temporary files, and partitions are
//! compared one at a time. Example rows are fetched in a second pass by row number.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::table::Format;

use super::report::{FileChange, FileDiff};
use crate::error::{Error, Result};
use crate::id::Hash;
use crate::store::{Kind, Store};

/// The row diff of one modified file, or why it could not be made.
#[derive(Clone, Debug, Serialize)]
pub struct FileRows {
    pub path: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub diff: Option<RowDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Row diffs of every modified tabular file of `files`, after making the stored sides they
/// read local under `fetch` (only those files). With `dir`, the new side is read from that
/// directory (a diff against a directory: its files were hashed, not stored).
pub fn row_diffs(
    ws: crate::Workspace,
    files: &FileDiff,
    dir: Option<&std::path::Path>,
    options: &RowOptions,
    fetch: crate::available::Fetch,
    progress: &dyn crate::progress::Progress,
) -> Result<(
    crate::Workspace,
    Vec<FileRows>,
    Option<crate::remote::TransferReport>,
)> {
    let mut blobs = Vec::new();
    for (m, _) in tables(files) {
        blobs.extend(Hash::from_hex(&m.old_hash));
        if dir.is_none() {
            blobs.extend(Hash::from_hex(&m.new_hash));
        }
    }
    let (ws, report) = crate::available::ensure_blobs(ws, &blobs, fetch, progress)?;
    let rows = row_diffs_local(&ws, files, dir, options);
    Ok((ws, rows, report))
}

/// [`row_diffs`] of files whose stored sides are local (what is not is reported per file).
pub fn row_diffs_local(
    ws: &crate::Workspace,
    files: &FileDiff,
    dir: Option<&std::path::Path>,
    options: &RowOptions,
) -> Vec<FileRows> {
    tables(files)
        .map(|(m, format)| {
            let stored = |hex: &str| {
                Source::Stored(Hash::from_hex(hex).expect("hashes in a diff are valid hex"))
            };
            let new = match dir {
                Some(file) if file.is_file() => Source::File(file.to_path_buf()),
                Some(dir) => Source::File(dir.join(&m.path)),
                None => stored(&m.new_hash),
            };
            let result = row_diff(
                &ws.store,
                &m.path,
                format,
                &stored(&m.old_hash),
                &new,
                options,
            );
            let (diff, error) = match result {
                Ok(diff) => (Some(diff), None),
                Err(err) => (None, Some(err.to_string())),
            };
            FileRows {
                path: m.path.clone(),
                diff,
                error,
            }
        })
        .collect()
}

/// The modified files of a diff that are tables, with their format.
fn tables(files: &FileDiff) -> impl Iterator<Item = (&FileChange, Format)> {
    files
        .modified
        .iter()
        .filter_map(|m| Format::of(&m.path).map(|format| (m, format)))
}

/// Records buffered in memory before partitions spill to disk.
const SPILL_AFTER: usize = 1 << 18;

/// Where one side's bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A blob in the store (verified while read).
    Stored(Hash),
    /// A file on disk (a working directory's side of a diff).
    File(std::path::PathBuf),
}

impl Source {
    /// A file to read with random access (Parquet): a stored blob is copied out first.
    #[cfg(feature = "parquet")]
    fn open_file(&self, store: &Store, path: &str) -> Result<File> {
        match self {
            // The temporary file is removed once its last handle is closed.
            Source::Stored(hash) => crate::table::stored_to_temp(store, path, hash)?
                .reopen()
                .map_err(|e| Error::io(std::env::temp_dir(), e)),
            Source::File(file) => File::open(file).map_err(|e| Error::io(file, e)),
        }
    }

    fn open(&self, store: &Store) -> Result<Box<dyn Read + Send>> {
        Ok(match self {
            Source::Stored(hash) => Box::new(store.read(Kind::Blob, hash)?),
            Source::File(path) => Box::new(File::open(path).map_err(|e| Error::io(path, e))?),
        })
    }
}

/// How to compare rows.
#[derive(Clone, Debug, Default)]
pub struct RowOptions {
    /// Columns that identify a row; empty compares whole rows as multisets.
    pub key: Vec<String>,
    /// How many example rows of each kind to return.
    pub examples: usize,
}

/// Columns added, removed or reordered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SchemaDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// The shared columns appear in a different order.
    pub reordered: bool,
}

/// A row matched by key whose other columns changed.
#[derive(Clone, Debug, Serialize)]
pub struct ChangedRow {
    pub key: Map<String, Value>,
    /// Column → {old, new}.
    pub columns: BTreeMap<String, crate::diff::report::ValueChange>,
}

/// The row-level comparison of one file.
#[derive(Clone, Debug, Serialize)]
pub struct RowDiff {
    pub format: &'static str,
    pub schema: SchemaDiff,
    pub added: u64,
    pub removed: u64,
    /// Rows matched by key whose content changed (only with key columns).
    pub changed: u64,
    pub unchanged: u64,
    pub examples_added: Vec<Map<String, Value>>,
    pub examples_removed: Vec<Map<String, Value>>,
    pub examples_changed: Vec<ChangedRow>,
}

/// A parse error in one side of a row diff.
fn malformed(path: &str, side: &str, line: u64, message: impl std::fmt::Display) -> Error {
    Error::MalformedTable {
        path: path.to_string(),
        side: side.to_string(),
        line,
        message: message.to_string(),
    }
}

/// Compares two versions of a tabular file.
pub fn row_diff(
    store: &Store,
    path: &str,
    format: Format,
    old: &Source,
    new: &Source,
    options: &RowOptions,
) -> Result<RowDiff> {
    let old_columns = columns(store, path, "old", format, old)?;
    let new_columns = columns(store, path, "new", format, new)?;
    let new_set: BTreeSet<&String> = new_columns.iter().collect();
    let old_set: BTreeSet<&String> = old_columns.iter().collect();
    let common: Vec<String> = old_columns
        .iter()
        .filter(|c| new_set.contains(c))
        .cloned()
        .collect();
    let schema = SchemaDiff {
        added: new_columns
            .iter()
            .filter(|c| !old_set.contains(c))
            .cloned()
            .collect(),
        removed: old_columns
            .iter()
            .filter(|c| !new_set.contains(c))
            .cloned()
            .collect(),
        reordered: format != Format::Jsonl
            && new_columns
                .iter()
                .filter(|c| old_set.contains(c))
                .cloned()
                .collect::<Vec<_>>()
                != common,
    };
    for key in &options.key {
        if !common.contains(key) {
            return Err(Error::UnknownKeyColumn {
                path: path.to_string(),
                column: key.clone(),
                columns: common.clone(),
            });
        }
    }
    let keyed = !options.key.is_empty();
    // Both sides are read, parsed and hashed at the same time, each into its own partitions.
    let hash_side = |side: u8, source: &Source, header: &[String]| -> Result<Spill> {
        let content = Picker::new(&common, header);
        let key = Picker::new(&options.key, header);
        let label = if side == 0 { "old" } else { "new" };
        let mut spill = Spill::new();
        let mut scratch = Vec::with_capacity(256);
        for_each_row(store, path, label, format, source, &mut |row, values| {
            let content = content.hash(values, &mut scratch);
            let key = if keyed {
                key.hash(values, &mut scratch)
            } else {
                content
            };
            spill.push(Record {
                key,
                side,
                content,
                row,
            })?;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(spill)
    };
    let (old_spill, new_spill) = rayon::join(
        || hash_side(0, old, &old_columns),
        || hash_side(1, new, &new_columns),
    );
    let mut diff = RowDiff {
        format: format.name(),
        schema,
        added: 0,
        removed: 0,
        changed: 0,
        unchanged: 0,
        examples_added: Vec::new(),
        examples_removed: Vec::new(),
        examples_changed: Vec::new(),
    };
    let mut examples = Examples::new(options.examples);
    compare_sides(
        old_spill?,
        new_spill?,
        &mut |olds: &[Record], news: &[Record]| {
            // Rows sharing a key (or, without a key, identical rows) pair up in file order; in
            // keyed mode a pair whose content differs is a changed row. Surplus rows are added or
            // removed.
            for (old, new) in olds.iter().zip(news) {
                if old.content == new.content {
                    diff.unchanged += 1;
                } else {
                    diff.changed += 1;
                    examples.changed.push((old.row, new.row));
                }
            }
            for extra in news.iter().skip(olds.len()) {
                diff.added += 1;
                examples.added.push(extra.row);
            }
            for extra in olds.iter().skip(news.len()) {
                diff.removed += 1;
                examples.removed.push(extra.row);
            }
            examples.trim();
        },
    )?;
    examples.finish();
    if options.examples > 0 {
        let changed_old: Vec<u64> = examples.changed.iter().map(|c| c.0).collect();
        let changed_new: Vec<u64> = examples.changed.iter().map(|c| c.1).collect();
        let olds = fetch(
            store,
            path,
            "old",
            format,
            old,
            &old_columns,
            &[examples.removed.as_slice(), &changed_old].concat(),
        )?;
        let news = fetch(
            store,
            path,
            "new",
            format,
            new,
            &new_columns,
            &[examples.added.as_slice(), &changed_new].concat(),
        )?;
        diff.examples_added = examples
            .added
            .iter()
            .filter_map(|n| news.get(n).cloned())
            .collect();
        diff.examples_removed = examples
            .removed
            .iter()
            .filter_map(|n| olds.get(n).cloned())
            .collect();
        for (old_row, new_row) in &examples.changed {
            let (Some(before), Some(after)) = (olds.get(old_row), news.get(new_row)) else {
                continue;
            };
            let key = options
                .key
                .iter()
                .map(|k| (k.clone(), after.get(k).cloned().unwrap_or(Value::Null)))
                .collect();
            let columns = common
                .iter()
                .filter(|c| before.get(*c) != after.get(*c))
                .map(|c| {
                    let change = crate::diff::report::ValueChange {
                        old: before.get(c).cloned().unwrap_or(Value::Null),
                        new: after.get(c).cloned().unwrap_or(Value::Null),
                    };
                    (c.clone(), change)
                })
                .collect();
            diff.examples_changed.push(ChangedRow { key, columns });
        }
    }
    Ok(diff)
}

/// The row numbers of the first examples of each kind, in file order.
struct Examples {
    limit: usize,
    added: Vec<u64>,
    removed: Vec<u64>,
    changed: Vec<(u64, u64)>,
}

impl Examples {
    fn new(limit: usize) -> Self {
        Examples {
            limit,
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// Bounds memory while rows are compared: once a list grows well past `limit`, only the
    /// earliest `limit` rows of each kind are kept.
    fn trim(&mut self) {
        let bound = self.limit * 4 + 64;
        if self.added.len() > bound || self.removed.len() > bound || self.changed.len() > bound {
            self.finish();
        }
    }

    /// Keeps only the earliest `limit` rows of each kind.
    fn finish(&mut self) {
        self.added.sort_unstable();
        self.added.truncate(self.limit);
        self.removed.sort_unstable();
        self.removed.truncate(self.limit);
        self.changed.sort_unstable();
        self.changed.truncate(self.limit);
    }
}

/// A row as the parser produced it; turned into column → value only when shown.
enum RowRef<'a> {
    Csv(&'a csv::ByteRecord),
    Json(&'a Row),
    /// Values in header order, `None` for null (Parquet).
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    Cells(&'a [Option<String>]),
}

/// Reads some columns out of rows of one side: by index in that side's CSV header, or by
/// name in JSONL objects.
struct Picker {
    names: Vec<String>,
    indices: Vec<Option<usize>>,
}

impl Picker {
    fn new(wanted: &[String], header: &[String]) -> Picker {
        Picker {
            names: wanted.to_vec(),
            indices: wanted
                .iter()
                .map(|w| header.iter().position(|h| h == w))
                .collect(),
        }
    }

    /// A 128-bit hash of the picked values (length-prefixed, so values cannot run together),
    /// assembled in `scratch` and hashed in one call.
    fn hash(&self, row: &RowRef, scratch: &mut Vec<u8>) -> u128 {
        scratch.clear();
        let mut feed = |bytes: Option<&[u8]>| match bytes {
            Some(bytes) => {
                scratch.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                scratch.extend_from_slice(bytes);
            }
            None => scratch.extend_from_slice(&u32::MAX.to_le_bytes()),
        };
        for (name, index) in self.names.iter().zip(&self.indices) {
            match row {
                RowRef::Csv(record) => feed(index.and_then(|i| record.get(i))),
                RowRef::Cells(cells) => feed(
                    index
                        .and_then(|i| cells.get(i))
                        .and_then(|c| c.as_deref())
                        .map(str::as_bytes),
                ),
                RowRef::Json(map) => match map.get(name) {
                    Some(Value::String(s)) => feed(Some(s.as_bytes())),
                    Some(other) => feed(Some(other.to_string().as_bytes())),
                    None => feed(None),
                },
            }
        }
        let bytes = blake3::hash(scratch);
        u128::from_le_bytes(bytes.as_bytes()[..16].try_into().expect("16 bytes"))
    }
}

/// A row as column → value, for showing it.
fn to_map(row: &RowRef, header: &[String]) -> Row {
    match row {
        RowRef::Csv(record) => header
            .iter()
            .zip(record.iter())
            .map(|(h, v)| {
                (
                    h.clone(),
                    Value::String(String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect(),
        RowRef::Json(map) => (*map).clone(),
        RowRef::Cells(cells) => header
            .iter()
            .zip(cells.iter())
            .map(|(h, v)| (h.clone(), v.clone().map_or(Value::Null, Value::String)))
            .collect(),
    }
}

/// The header of a CSV/TSV file, or the keys of a JSONL file's objects in first-seen order.
fn columns(
    store: &Store,
    path: &str,
    side: &str,
    format: Format,
    source: &Source,
) -> Result<Vec<String>> {
    match format {
        Format::Csv | Format::Tsv => {
            let mut reader = csv_reader(source.open(store)?, format);
            let headers = reader
                .byte_headers()
                .map_err(|e| malformed(path, side, 1, e))?;
            Ok(headers
                .iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect())
        }
        Format::Jsonl => {
            let mut seen = Vec::new();
            let mut known = std::collections::HashSet::new();
            for_each_row(store, path, side, format, source, &mut |_, row| {
                if let RowRef::Json(map) = row {
                    for key in map.keys() {
                        if known.insert(key.clone()) {
                            seen.push(key.clone());
                        }
                    }
                }
                Ok(ControlFlow::Continue(()))
            })?;
            Ok(seen)
        }
        Format::Parquet => parquet_columns(store, path, side, source),
    }
}

#[cfg(feature = "parquet")]
fn parquet_columns(store: &Store, path: &str, side: &str, source: &Source) -> Result<Vec<String>> {
    crate::table::parquet::columns(source.open_file(store, path)?)
        .map_err(|e| malformed(path, side, 0, e))
}

#[cfg(not(feature = "parquet"))]
fn parquet_columns(_: &Store, path: &str, side: &str, _: &Source) -> Result<Vec<String>> {
    Err(no_parquet(path, side))
}

#[cfg(not(feature = "parquet"))]
fn no_parquet(path: &str, side: &str) -> Error {
    malformed(
        path,
        side,
        0,
        "this dv was built without Parquet support (cargo feature `parquet`)",
    )
}

/// Calls `visit` with each row of a Parquet file, numbered from 1.
#[cfg(feature = "parquet")]
fn parquet_rows(
    store: &Store,
    path: &str,
    side: &str,
    source: &Source,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let mut number = 0u64;
    crate::table::parquet::for_each_row(source.open_file(store, path)?, &mut |cells| {
        number += 1;
        visit(number, &RowRef::Cells(cells))
    })?
    .map_err(|e| malformed(path, side, 0, e))
}

#[cfg(not(feature = "parquet"))]
fn parquet_rows(_: &Store, path: &str, side: &str, _: &Source, _: &mut Visit<'_>) -> Result<()> {
    Err(no_parquet(path, side))
}

fn csv_reader<R: Read>(input: R, format: Format) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(256 << 10)
        .from_reader(input)
}

/// What a row visitor is given (a row number from 1, and the row) and says (go on or stop).
type Visit<'a> = dyn FnMut(u64, &RowRef) -> Result<ControlFlow<()>> + 'a;

/// Calls `visit` with each row, numbered from 1 in file order, until it says to stop.
fn for_each_row(
    store: &Store,
    path: &str,
    side: &str,
    format: Format,
    source: &Source,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if format == Format::Parquet {
        return parquet_rows(store, path, side, source, visit);
    }
    let input = source.open(store)?;
    match format {
        Format::Parquet => unreachable!("read above"),
        Format::Csv | Format::Tsv => {
            let mut reader = csv_reader(input, format);
            reader
                .byte_headers()
                .map_err(|e| malformed(path, side, 1, e))?;
            let mut record = csv::ByteRecord::new();
            let mut number = 0u64;
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        return Err(malformed(path, side, line, e));
                    }
                }
                number += 1;
                if visit(number, &RowRef::Csv(&record))?.is_break() {
                    break;
                }
            }
        }
        Format::Jsonl => {
            let mut number = 0u64;
            for (index, line) in BufReader::with_capacity(256 << 10, input)
                .split(b'\n')
                .enumerate()
            {
                let line_number = index as u64 + 1;
                let line = line.map_err(|e| malformed(path, side, line_number, e))?;
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let value: Value = serde_json::from_slice(line)
                    .map_err(|e| malformed(path, side, line_number, e))?;
                let Value::Object(row) = value else {
                    return Err(malformed(
                        path,
                        side,
                        line_number,
                        "the line is not a JSON object",
                    ));
                };
                number += 1;
                if visit(number, &RowRef::Json(&row))?.is_break() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Rows `numbers` of a file, as column → value.
fn fetch(
    store: &Store,
    path: &str,
    side: &str,
    format: Format,
    source: &Source,
    header: &[String],
    numbers: &[u64],
) -> Result<BTreeMap<u64, Row>> {
    let wanted: BTreeSet<u64> = numbers.iter().copied().collect();
    let mut rows = BTreeMap::new();
    let Some(&last) = wanted.last() else {
        return Ok(rows);
    };
    for_each_row(store, path, side, format, source, &mut |number, row| {
        if wanted.contains(&number) {
            rows.insert(number, to_map(row, header));
        }
        Ok(if number >= last {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(rows)
}

/// One row reduced to hashes.
#[derive(Clone, Copy)]
struct Record {
    key: u128,
    side: u8,
    content: u128,
    row: u64,
}

impl crate::spill::Fixed for Record {
    const BYTES: usize = 16 + 1 + 16 + 8;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key.to_le_bytes());
        out.push(self.side);
        out.extend_from_slice(&self.content.to_le_bytes());
        out.extend_from_slice(&self.row.to_le_bytes());
    }

    fn read(bytes: &[u8]) -> Record {
        Record {
            key: u128::from_le_bytes(bytes[..16].try_into().expect("16 bytes")),
            side: bytes[16],
            content: u128::from_le_bytes(bytes[17..33].try_into().expect("16 bytes")),
            row: u64::from_le_bytes(bytes[33..41].try_into().expect("8 bytes")),
        }
    }
}

/// One row as column → value.
pub type Row = Map<String, Value>;

/// One side's row records, in [`crate::spill`] partitions by key.
struct Spill(crate::spill::Partitions<Record>);

impl Spill {
    fn new() -> Spill {
        Spill(crate::spill::Partitions::new(SPILL_AFTER, "dv-rows-"))
    }

    fn push(&mut self, record: Record) -> Result<()> {
        let partition = (record.key % crate::spill::PARTITIONS as u128) as usize;
        self.0
            .push(partition, record)
            .map_err(|e| Error::io(std::env::temp_dir(), e))
    }
}

/// Calls `compare` once per key with that key's records of each side (old, new), in row order.
fn compare_sides(
    old: Spill,
    new: Spill,
    compare: &mut dyn FnMut(&[Record], &[Record]),
) -> Result<()> {
    let io = |e| Error::io(std::env::temp_dir(), e);
    let (mut old, mut new) = (old.0.finish(), new.0.finish());
    for (old_part, new_part) in old.parts.iter_mut().zip(new.parts.iter_mut()) {
        let mut records = old_part.load().map_err(io)?;
        records.extend(new_part.load().map_err(io)?);
        // Sorting groups each key's records, old side first, each side in row order.
        records.sort_unstable_by_key(|r| (r.key, r.side, r.row));
        let mut rest = records.as_slice();
        while let Some(first) = rest.first() {
            let group = rest.iter().take_while(|r| r.key == first.key).count();
            let (this, after) = rest.split_at(group);
            let olds = this.iter().take_while(|r| r.side == 0).count();
            compare(&this[..olds], &this[olds..]);
            rest = after;
        }
    }
    Ok(())
}
