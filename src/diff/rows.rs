//! Row-level diff of tabular files: CSV and TSV (header-aware, quoted fields, CRLF) and JSONL.
//!
//! Rows are compared as multisets by content, so reordering rows changes nothing; with key
//! columns, rows are matched by key and changed rows report which columns changed. Columns
//! added, removed or reordered are reported as schema changes, and rows are compared on the
//! columns both sides have.
//!
//! Memory stays bounded whatever the file size: each row is reduced to a 16-byte hash, the
//! hashes are spread over partitions that spill to temporary files, and partitions are
//! compared one at a time. Example rows are fetched in a second pass by row number.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::Hash;
use crate::store::{Kind, Store};

/// Partitions the row hashes are spread over.
const PARTITIONS: usize = 64;
/// Records buffered in memory before partitions spill to disk.
const SPILL_AFTER: usize = 1 << 18;

/// The tabular formats dv understands, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
}

impl Format {
    /// The format of a path, if it is tabular.
    pub fn of(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// Where one side's bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A blob in the store (verified while read).
    Stored(Hash),
    /// A file on disk (a working directory's side of a diff).
    File(std::path::PathBuf),
}

impl Source {
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
    let mut spill = Spill::new()?;
    for (side, hash) in [(0u8, old), (1u8, new)] {
        let label = if side == 0 { "old" } else { "new" };
        for_each_row(store, path, label, format, hash, &mut |number, row| {
            let content = row_hash(row, &common);
            let key = if options.key.is_empty() {
                content
            } else {
                row_hash(row, &options.key)
            };
            spill.push(Record {
                key,
                side,
                content,
                row: number,
            })
        })?;
    }
    let keyed = !options.key.is_empty();
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
    let (mut added_rows, mut removed_rows, mut changed_rows) = (Vec::new(), Vec::new(), Vec::new());
    spill.compare(
        &mut |old_rows: Vec<(u128, u64)>, new_rows: Vec<(u128, u64)>| {
            if keyed {
                match (old_rows.as_slice(), new_rows.as_slice()) {
                    ([], news) => {
                        diff.added += news.len() as u64;
                        added_rows.extend(news.iter().map(|r| r.1));
                    }
                    (olds, []) => {
                        diff.removed += olds.len() as u64;
                        removed_rows.extend(olds.iter().map(|r| r.1));
                    }
                    (olds, news) => {
                        // Rows sharing a key pair up in order; surplus rows are added or removed.
                        for pair in olds.iter().zip(news.iter()) {
                            if pair.0.0 == pair.1.0 {
                                diff.unchanged += 1;
                            } else {
                                diff.changed += 1;
                                changed_rows.push((pair.0.1, pair.1.1));
                            }
                        }
                        for extra in news.iter().skip(olds.len()) {
                            diff.added += 1;
                            added_rows.push(extra.1);
                        }
                        for extra in olds.iter().skip(news.len()) {
                            diff.removed += 1;
                            removed_rows.push(extra.1);
                        }
                    }
                }
            } else {
                let shared = old_rows.len().min(new_rows.len());
                diff.unchanged += shared as u64;
                diff.added += (new_rows.len() - shared) as u64;
                diff.removed += (old_rows.len() - shared) as u64;
                added_rows.extend(new_rows.iter().skip(shared).map(|r| r.1));
                removed_rows.extend(old_rows.iter().skip(shared).map(|r| r.1));
            }
            added_rows.sort_unstable();
            added_rows.truncate(options.examples);
            removed_rows.sort_unstable();
            removed_rows.truncate(options.examples);
            changed_rows.sort_unstable();
            changed_rows.truncate(options.examples);
        },
    )?;
    if options.examples > 0 {
        diff.examples_added = fetch(store, path, "new", format, new, &added_rows)?
            .into_values()
            .collect();
        diff.examples_removed = fetch(store, path, "old", format, old, &removed_rows)?
            .into_values()
            .collect();
        let olds = fetch(
            store,
            path,
            "old",
            format,
            old,
            &changed_rows.iter().map(|c| c.0).collect::<Vec<_>>(),
        )?;
        let news = fetch(
            store,
            path,
            "new",
            format,
            new,
            &changed_rows.iter().map(|c| c.1).collect::<Vec<_>>(),
        )?;
        for (old_row, new_row) in &changed_rows {
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

/// The header of a CSV/TSV file, or the keys of a JSONL file's objects in first-seen order.
fn columns(
    store: &Store,
    path: &str,
    side: &str,
    format: Format,
    hash: &Source,
) -> Result<Vec<String>> {
    match format {
        Format::Csv | Format::Tsv => {
            let mut reader = csv_reader(hash.open(store)?, format);
            let headers = reader.headers().map_err(|e| malformed(path, side, 1, e))?;
            Ok(headers.iter().map(str::to_string).collect())
        }
        Format::Jsonl => {
            let mut seen = Vec::new();
            let mut known = std::collections::HashSet::new();
            for_each_row(store, path, side, format, hash, &mut |_, row| {
                for key in row.keys() {
                    if known.insert(key.clone()) {
                        seen.push(key.clone());
                    }
                }
                Ok(())
            })?;
            Ok(seen)
        }
    }
}

fn csv_reader<R: Read>(input: R, format: Format) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
        .has_headers(true)
        .flexible(false)
        .from_reader(input)
}

/// Calls `visit` with each row (numbered from 1, in file order) as column → value.
fn for_each_row(
    store: &Store,
    path: &str,
    side: &str,
    format: Format,
    hash: &Source,
    visit: &mut dyn FnMut(u64, &Row) -> Result<()>,
) -> Result<()> {
    let input = hash.open(store)?;
    match format {
        Format::Csv | Format::Tsv => {
            let mut reader = csv_reader(input, format);
            let headers = reader
                .headers()
                .map_err(|e| malformed(path, side, 1, e))?
                .clone();
            let mut record = csv::StringRecord::new();
            let mut number = 0u64;
            loop {
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        return Err(malformed(path, side, line, e));
                    }
                }
                number += 1;
                let row = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                    .collect();
                visit(number, &row)?;
            }
        }
        Format::Jsonl => {
            let mut number = 0u64;
            for (index, line) in BufReader::with_capacity(256 << 10, input)
                .split(b'\n')
                .enumerate()
            {
                let line = line.map_err(|e| malformed(path, side, index as u64 + 1, e))?;
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let value: Value = serde_json::from_slice(line)
                    .map_err(|e| malformed(path, side, index as u64 + 1, e))?;
                let Value::Object(row) = value else {
                    return Err(malformed(
                        path,
                        side,
                        index as u64 + 1,
                        "the line is not a JSON object",
                    ));
                };
                number += 1;
                visit(number, &row)?;
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
    hash: &Source,
    numbers: &[u64],
) -> Result<BTreeMap<u64, Map<String, Value>>> {
    let wanted: BTreeSet<u64> = numbers.iter().copied().collect();
    let mut rows = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(rows);
    }
    for_each_row(store, path, side, format, hash, &mut |number, row| {
        if wanted.contains(&number) {
            rows.insert(number, row.clone());
        }
        Ok(())
    })?;
    Ok(rows)
}

/// A 128-bit hash of the given columns of a row (length-prefixed, so values cannot run
/// together).
fn row_hash(row: &Map<String, Value>, columns: &[String]) -> u128 {
    let mut hasher = blake3::Hasher::new();
    for column in columns {
        let value = match row.get(column) {
            None => String::from("\u{0}missing"),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        hasher.update(&(value.len() as u64).to_le_bytes());
        hasher.update(value.as_bytes());
    }
    let bytes = hasher.finalize();
    u128::from_le_bytes(bytes.as_bytes()[..16].try_into().expect("16 bytes"))
}

/// One row reduced to hashes.
#[derive(Clone, Copy)]
struct Record {
    key: u128,
    side: u8,
    content: u128,
    row: u64,
}

const RECORD_BYTES: usize = 16 + 1 + 16 + 8;

impl Record {
    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.key.to_le_bytes())?;
        out.write_all(&[self.side])?;
        out.write_all(&self.content.to_le_bytes())?;
        out.write_all(&self.row.to_le_bytes())
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
/// The (content hash, row number) pairs of one side for one key.
type SideRows = Vec<(u128, u64)>;

/// Row records spread over partitions by key, kept in memory until they grow large, then
/// spilled to temporary files.
struct Spill {
    buffers: Vec<Vec<Record>>,
    buffered: usize,
    files: Option<(tempfile::TempDir, Vec<BufWriter<File>>)>,
}

impl Spill {
    fn new() -> Result<Spill> {
        Ok(Spill {
            buffers: vec![Vec::new(); PARTITIONS],
            buffered: 0,
            files: None,
        })
    }

    fn push(&mut self, record: Record) -> Result<()> {
        self.buffers[(record.key % PARTITIONS as u128) as usize].push(record);
        self.buffered += 1;
        if self.buffered >= SPILL_AFTER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.files.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("dv-rows-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let mut writers = Vec::new();
            for i in 0..PARTITIONS {
                let path = dir.path().join(i.to_string());
                writers.push(BufWriter::new(
                    File::create(&path).map_err(|e| Error::io(&path, e))?,
                ));
            }
            self.files = Some((dir, writers));
        }
        let (dir, writers) = self.files.as_mut().expect("just created");
        for (buffer, writer) in self.buffers.iter_mut().zip(writers.iter_mut()) {
            for record in buffer.drain(..) {
                record.write(writer).map_err(|e| Error::io(dir.path(), e))?;
            }
        }
        self.buffered = 0;
        Ok(())
    }

    /// Calls `compare` once per key with the (content, row) pairs of each side, in row order.
    fn compare(mut self, compare: &mut dyn FnMut(SideRows, SideRows)) -> Result<()> {
        let mut spilled = match self.files.take() {
            Some((dir, writers)) => {
                let mut paths = Vec::new();
                for (i, mut writer) in writers.into_iter().enumerate() {
                    writer.flush().map_err(|e| Error::io(dir.path(), e))?;
                    paths.push(dir.path().join(i.to_string()));
                }
                Some((dir, paths))
            }
            None => None,
        };
        for partition in 0..PARTITIONS {
            let mut records = std::mem::take(&mut self.buffers[partition]);
            if let Some((_, paths)) = &mut spilled {
                let bytes = std::fs::read(&paths[partition])
                    .map_err(|e| Error::io(&paths[partition], e))?;
                records.extend(bytes.chunks_exact(RECORD_BYTES).map(Record::read));
            }
            let mut by_key: HashMap<u128, (SideRows, SideRows)> = HashMap::new();
            for record in records {
                let sides = by_key.entry(record.key).or_default();
                let side = if record.side == 0 {
                    &mut sides.0
                } else {
                    &mut sides.1
                };
                side.push((record.content, record.row));
            }
            for (_, (mut old, mut new)) in by_key {
                old.sort_unstable_by_key(|r| r.1);
                new.sort_unstable_by_key(|r| r.1);
                compare(old, new);
            }
        }
        Ok(())
    }
}
