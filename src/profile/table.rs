//! Profiling text tables (CSV, TSV, JSONL) in one streaming pass, and the bounded duplicate
//! counter every format shares.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

use serde_json::Value;

use super::{ColumnProfile, Settings, TableProfile, Unreadable};
use crate::diff::rows::Format;

/// Distinct label values tracked per column; values first seen after that are counted as
/// "other" (a column with more distinct values than this is not a label).
const MAX_TRACKED_LABELS: usize = 10_000;

/// Profiles a CSV, TSV or JSONL table read from `input`.
pub(super) fn profile_text(
    format: Format,
    input: &mut dyn Read,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    match format {
        Format::Csv | Format::Tsv => profile_delimited(format, input, labels, settings),
        Format::Jsonl => profile_jsonl(input, labels, settings),
        Format::Parquet => unreachable!("Parquet is not a text format"),
    }
}

/// What a text value looks like, as bits that combine into a column type.
const INTEGER: u8 = 1;
const FLOAT: u8 = 2;
const BOOLEAN: u8 = 4;
const STRING: u8 = 8;

fn classify(value: &[u8]) -> u8 {
    let digits = value
        .strip_prefix(b"-")
        .or(value.strip_prefix(b"+"))
        .unwrap_or(value);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return INTEGER;
    }
    if value.eq_ignore_ascii_case(b"true") || value.eq_ignore_ascii_case(b"false") {
        return BOOLEAN;
    }
    // A float: digits, one point, an exponent; words such as `inf` or `nan` are strings.
    let numeric = value
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if numeric
        && value.iter().any(u8::is_ascii_digit)
        && std::str::from_utf8(value).is_ok_and(|s| s.parse::<f64>().is_ok())
    {
        return FLOAT;
    }
    STRING
}

/// The type name of a column from the kinds of its values.
fn type_name(bits: u8) -> &'static str {
    match bits {
        0 => "null",
        INTEGER => "integer",
        FLOAT | 3 => "float",
        BOOLEAN => "boolean",
        _ => "string",
    }
}

/// One column's running counts.
#[derive(Default)]
struct ColumnStats {
    kinds: u8,
    nulls: u64,
    /// Rows in which a JSONL column appeared at all.
    present: u64,
}

/// Counts of one label column's values, with bounded memory.
#[derive(Default)]
pub(super) struct LabelCounts {
    counts: HashMap<String, u64>,
    other: u64,
}

impl LabelCounts {
    pub(super) fn add(&mut self, value: &str) {
        if let Some(count) = self.counts.get_mut(value) {
            *count += 1;
        } else if self.counts.len() < MAX_TRACKED_LABELS {
            self.counts.insert(value.to_string(), 1);
        } else {
            self.other += 1;
        }
    }

    /// Writes the `keep` most frequent values (ties by value) into the table profile.
    pub(super) fn finish(self, column: &str, keep: usize, table: &mut TableProfile) {
        let mut values: Vec<(String, u64)> = self.counts.into_iter().collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let dropped: u64 = values.iter().skip(keep).map(|v| v.1).sum::<u64>() + self.other;
        values.truncate(keep);
        table
            .labels
            .insert(column.to_string(), values.into_iter().collect());
        if dropped > 0 {
            table.labels_other.insert(column.to_string(), dropped);
        }
    }
}

/// A fast 64-bit hasher for rows (collisions between distinct rows are ~1 in 2^64 per pair).
pub(super) fn row_hasher() -> impl Hasher {
    foldhash::quality::FixedState::with_seed(0x64762d70726f66).build_hasher()
}

fn profile_delimited(
    format: Format,
    input: &mut dyn Read,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(256 << 10)
        .from_reader(input);
    let csv_error = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(io) => Unreadable::Io(std::io::Error::new(io.kind(), io.to_string())),
        _ => {
            let line = e.position().map_or(0, |p| p.line());
            Unreadable::Malformed(format!("line {line}: {e}"))
        }
    };
    let header: Vec<String> = reader
        .byte_headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let mut stats: Vec<ColumnStats> = header.iter().map(|_| ColumnStats::default()).collect();
    let label_columns: Vec<(usize, &String)> = labels
        .iter()
        .filter_map(|l| header.iter().position(|h| h == l).map(|i| (i, l)))
        .collect();
    let mut label_counts: Vec<LabelCounts> = label_columns
        .iter()
        .map(|_| LabelCounts::default())
        .collect();
    let nulls: Vec<&[u8]> = settings.null_values.iter().map(|n| n.as_bytes()).collect();
    let mut duplicates = DuplicateCounter::new();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        rows += 1;
        let mut hasher = row_hasher();
        for (value, column) in record.iter().zip(stats.iter_mut()) {
            hasher.write_usize(value.len());
            hasher.write(value);
            if nulls.contains(&value) {
                column.nulls += 1;
            } else if column.kinds & STRING == 0 {
                column.kinds |= classify(value);
            }
        }
        duplicates.add(hasher.finish()).map_err(Unreadable::Io)?;
        for ((index, _), counts) in label_columns.iter().zip(label_counts.iter_mut()) {
            let value = record.get(*index).unwrap_or_default();
            if !nulls.contains(&value) {
                counts.add(&String::from_utf8_lossy(value));
            }
        }
    }
    let mut table = TableProfile::counted(
        rows,
        duplicates.finish().map_err(Unreadable::Io)?,
        header
            .into_iter()
            .zip(stats)
            .map(|(name, s)| ColumnProfile {
                name,
                kind: type_name(s.kinds).to_string(),
                nulls: s.nulls,
            })
            .collect(),
    );
    for ((_, name), counts) in label_columns.into_iter().zip(label_counts) {
        counts.finish(name, settings.max_label_values, &mut table);
    }
    Ok(table)
}

fn profile_jsonl(
    input: &mut dyn Read,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    let mut names: Vec<String> = Vec::new();
    let mut positions: HashMap<String, usize> = HashMap::new();
    let mut stats: Vec<ColumnStats> = Vec::new();
    let mut label_counts: HashMap<&String, LabelCounts> = HashMap::new();
    let mut duplicates = DuplicateCounter::new();
    let mut rows = 0u64;
    let mut reader = BufReader::with_capacity(256 << 10, input);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(Unreadable::Io)?
            == 0
        {
            break;
        }
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| Unreadable::Malformed(format!("line {number}: {e}")))?;
        let Value::Object(row) = value else {
            return Err(Unreadable::Malformed(format!(
                "line {number}: the line is not a JSON object"
            )));
        };
        rows += 1;
        let mut hasher = row_hasher();
        hasher.write(text);
        duplicates.add(hasher.finish()).map_err(Unreadable::Io)?;
        for (key, value) in &row {
            let index = match positions.get(key) {
                Some(index) => *index,
                None => {
                    positions.insert(key.clone(), names.len());
                    names.push(key.clone());
                    stats.push(ColumnStats::default());
                    names.len() - 1
                }
            };
            let column = &mut stats[index];
            column.present += 1;
            let text = match value {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            };
            let null = value.is_null()
                || text.is_some_and(|s| settings.null_values.iter().any(|n| n == s));
            if null {
                column.nulls += 1;
                continue;
            }
            column.kinds |= match value {
                Value::Bool(_) => BOOLEAN,
                Value::Number(n) if n.is_i64() || n.is_u64() => INTEGER,
                Value::Number(_) => FLOAT,
                _ => STRING,
            };
            if let Some(label) = labels.iter().find(|l| *l == key) {
                let shown = text.map_or_else(|| value.to_string(), str::to_string);
                label_counts.entry(label).or_default().add(&shown);
            }
        }
    }
    let mut table = TableProfile::counted(
        rows,
        duplicates.finish().map_err(Unreadable::Io)?,
        names
            .into_iter()
            .zip(stats)
            .map(|(name, s)| ColumnProfile {
                name,
                kind: type_name(s.kinds).to_string(),
                // A row without the key holds no value for it.
                nulls: s.nulls + (rows - s.present),
            })
            .collect(),
    );
    for label in labels {
        if table.column(label).is_some() {
            let counts = label_counts.remove(label).unwrap_or_default();
            counts.finish(label, settings.max_label_values, &mut table);
        }
    }
    Ok(table)
}

/// Hashes kept in memory before they are sorted and written out as a run (128 MiB).
const RUN_HASHES: usize = 16 << 20;

/// Counts rows equal to an earlier row, exactly, in bounded memory: row hashes are kept in
/// memory up to [`RUN_HASHES`], then sorted and spilled to temporary files that are merged at
/// the end.
pub struct DuplicateCounter {
    hashes: Vec<u64>,
    runs: Vec<std::fs::File>,
    run_limit: usize,
}

impl Default for DuplicateCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl DuplicateCounter {
    pub fn new() -> Self {
        Self::with_run_limit(RUN_HASHES)
    }

    fn with_run_limit(run_limit: usize) -> Self {
        DuplicateCounter {
            hashes: Vec::new(),
            runs: Vec::new(),
            run_limit,
        }
    }

    pub fn add(&mut self, hash: u64) -> std::io::Result<()> {
        self.hashes.push(hash);
        if self.hashes.len() >= self.run_limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        use std::io::Seek;
        self.hashes.sort_unstable();
        let mut file = BufWriter::new(tempfile::tempfile()?);
        for hash in self.hashes.drain(..) {
            file.write_all(&hash.to_le_bytes())?;
        }
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.runs.push(file);
        Ok(())
    }

    /// The number of hashes equal to an earlier one.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.hashes.sort_unstable();
        if self.runs.is_empty() {
            return Ok(self.hashes.windows(2).filter(|w| w[0] == w[1]).count() as u64);
        }
        // Merge the sorted runs and the last in-memory batch, counting repeats.
        let mut sources: Vec<Box<dyn Iterator<Item = std::io::Result<u64>>>> = Vec::new();
        for run in self.runs.drain(..) {
            let mut reader = BufReader::with_capacity(1 << 20, run);
            sources.push(Box::new(std::iter::from_fn(move || {
                let mut word = [0u8; 8];
                match reader.read_exact(&mut word) {
                    Ok(()) => Some(Ok(u64::from_le_bytes(word))),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
                    Err(e) => Some(Err(e)),
                }
            })));
        }
        sources.push(Box::new(
            std::mem::take(&mut self.hashes).into_iter().map(Ok),
        ));
        let mut heap = std::collections::BinaryHeap::new();
        for (index, source) in sources.iter_mut().enumerate() {
            if let Some(hash) = source.next() {
                heap.push(std::cmp::Reverse((hash?, index)));
            }
        }
        let mut last = None;
        let mut repeats = 0u64;
        while let Some(std::cmp::Reverse((hash, index))) = heap.pop() {
            if last == Some(hash) {
                repeats += 1;
            }
            last = Some(hash);
            if let Some(next) = sources[index].next() {
                heap.push(std::cmp::Reverse((next?, index)));
            }
        }
        Ok(repeats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_values() {
        assert_eq!(classify(b"42"), INTEGER);
        assert_eq!(classify(b"-7"), INTEGER);
        assert_eq!(classify(b"3.5"), FLOAT);
        assert_eq!(classify(b"1e-3"), FLOAT);
        assert_eq!(classify(b"inf"), STRING);
        assert_eq!(classify(b"-"), STRING);
        assert_eq!(classify(b"TRUE"), BOOLEAN);
        assert_eq!(classify(b"Adelie"), STRING);
        assert_eq!(type_name(INTEGER | FLOAT), "float");
        assert_eq!(type_name(INTEGER | BOOLEAN), "string");
    }

    /// Spilled runs merged at the end count exactly what one in-memory sort counts, including
    /// repeats that fall in different runs.
    #[test]
    fn duplicates_across_spilled_runs_are_counted_exactly() {
        let values: Vec<u64> = (0..10_000u64).map(|i| (i * 7919) % 3_001).collect();
        let distinct: std::collections::HashSet<u64> = values.iter().copied().collect();
        let expected = (values.len() - distinct.len()) as u64;
        let mut spilled = DuplicateCounter::with_run_limit(997);
        let mut whole = DuplicateCounter::new();
        for value in &values {
            spilled.add(*value).unwrap();
            whole.add(*value).unwrap();
        }
        assert_eq!(spilled.runs.len(), 10);
        assert_eq!(spilled.finish().unwrap(), expected);
        assert_eq!(whole.finish().unwrap(), expected);
    }
}
