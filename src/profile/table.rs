//! Profiling text tables (CSV, TSV, JSONL) in one streaming pass, and the bounded duplicate
//! counter every format shares.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read};

use serde_json::Value;

use super::{ColumnProfile, Settings, TableProfile, Unreadable};
use crate::table::Format;

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
    if is_decimal(value) { FLOAT } else { STRING }
}

/// A decimal number as Rust's `f64` parser reads one (`1.5`, `-2.`, `.5`, `3e-7`), checked
/// byte by byte; words such as `inf` or `nan` are not numbers here.
fn is_decimal(value: &[u8]) -> bool {
    let digits = |from: usize| {
        value[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut at = usize::from(matches!(value.first(), Some(b'+' | b'-')));
    let whole = digits(at);
    at += whole;
    let mut fraction = 0;
    if value.get(at) == Some(&b'.') {
        at += 1;
        fraction = digits(at);
        at += fraction;
    }
    if whole + fraction == 0 {
        return false;
    }
    if matches!(value.get(at), Some(b'e' | b'E')) {
        at += 1;
        at += usize::from(matches!(value.get(at), Some(b'+' | b'-')));
        let exponent = digits(at);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == value.len()
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
    /// By the value's bytes (made text when written out).
    counts: HashMap<Vec<u8>, u64, foldhash::fast::RandomState>,
    other: u64,
}

impl LabelCounts {
    pub(super) fn add(&mut self, value: &[u8]) {
        if let Some(count) = self.counts.get_mut(value) {
            *count += 1;
        } else if self.counts.len() < MAX_TRACKED_LABELS {
            self.counts.insert(value.to_vec(), 1);
        } else {
            self.other += 1;
        }
    }

    /// Adds another chunk's counts (values beyond the tracked ones count as other).
    pub(super) fn merge(&mut self, other: LabelCounts) {
        self.other += other.other;
        for (value, count) in other.counts {
            if let Some(mine) = self.counts.get_mut(&value) {
                *mine += count;
            } else if self.counts.len() < MAX_TRACKED_LABELS {
                self.counts.insert(value, count);
            } else {
                self.other += count;
            }
        }
    }

    /// Writes the `keep` most frequent values (ties by value) into the table profile.
    pub(super) fn finish(self, column: &str, keep: usize, table: &mut TableProfile) {
        // Values that are not UTF-8 are shown lossily, so two may show alike: they add up.
        let mut shown: HashMap<String, u64> = HashMap::new();
        for (value, count) in self.counts {
            *shown
                .entry(String::from_utf8_lossy(&value).into_owned())
                .or_default() += count;
        }
        let mut values: Vec<(String, u64)> = shown.into_iter().collect();
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

fn delimiter(format: Format) -> u8 {
    if format == Format::Tsv { b'\t' } else { b',' }
}

/// The text values that count as null, checked quickly (most values are longer than any).
struct Nulls {
    values: Vec<Vec<u8>>,
    longest: usize,
    /// Whether some null value starts with this byte.
    first: [bool; 256],
    empty: bool,
}

impl Nulls {
    fn new(settings: &Settings) -> Nulls {
        let values: Vec<Vec<u8>> = settings
            .null_values
            .iter()
            .map(|n| n.as_bytes().to_vec())
            .collect();
        let longest = values.iter().map(Vec::len).max().unwrap_or(0);
        let mut first = [false; 256];
        for value in &values {
            if let Some(byte) = value.first() {
                first[usize::from(*byte)] = true;
            }
        }
        let empty = values.iter().any(Vec::is_empty);
        Nulls {
            values,
            longest,
            first,
            empty,
        }
    }

    fn contains(&self, value: &[u8]) -> bool {
        match value.first() {
            None => self.empty,
            Some(byte) => {
                self.first[usize::from(*byte)]
                    && value.len() <= self.longest
                    && self.values.iter().any(|n| n == value)
            }
        }
    }
}

/// Counts over some rows of a delimited table: a whole file's, or one chunk's (chunks merge).
struct Partial {
    rows: u64,
    columns: Vec<ColumnStats>,
    /// Per label column (in `Header::labels` order).
    labels: Vec<LabelCounts>,
}

/// A delimited table's columns and where its label columns are.
struct Header {
    names: Vec<String>,
    /// (column index, label name).
    labels: Vec<(usize, String)>,
}

impl Header {
    fn new(names: Vec<String>, labels: &[String]) -> Header {
        let labels = labels
            .iter()
            .filter_map(|l| names.iter().position(|h| h == l).map(|i| (i, l.clone())))
            .collect();
        Header { names, labels }
    }

    fn partial(&self) -> Partial {
        Partial {
            rows: 0,
            columns: self.names.iter().map(|_| ColumnStats::default()).collect(),
            labels: self.labels.iter().map(|_| LabelCounts::default()).collect(),
        }
    }

    fn finish(
        self,
        partial: Partial,
        duplicates: DuplicateCounter,
        settings: &Settings,
    ) -> Result<TableProfile, Unreadable> {
        let mut table = TableProfile::counted(
            partial.rows,
            duplicates.finish().map_err(Unreadable::Io)?,
            self.names
                .into_iter()
                .zip(partial.columns)
                .map(|(name, s)| ColumnProfile {
                    name,
                    kind: type_name(s.kinds).to_string(),
                    nulls: s.nulls,
                })
                .collect(),
        );
        for ((_, name), counts) in self.labels.into_iter().zip(partial.labels) {
            counts.finish(&name, settings.max_label_values, &mut table);
        }
        Ok(table)
    }
}

/// A row's fields, however the parser holds them.
trait Fields {
    fn field(&self, index: usize) -> &[u8];
}

impl Fields for csv::ByteRecord {
    fn field(&self, index: usize) -> &[u8] {
        self.get(index).unwrap_or_default()
    }
}

/// A line and where its fields are.
struct Split<'a> {
    line: &'a [u8],
    bounds: &'a [std::ops::Range<usize>],
}

impl Fields for Split<'_> {
    fn field(&self, index: usize) -> &[u8] {
        self.bounds
            .get(index)
            .map_or(&[][..], |range| &self.line[range.clone()])
    }
}

impl Partial {
    /// Counts one row.
    fn add<F: Fields + ?Sized>(&mut self, fields: &F, header: &Header, nulls: &Nulls) {
        self.rows += 1;
        for (index, column) in self.columns.iter_mut().enumerate() {
            let value = fields.field(index);
            if nulls.contains(value) {
                column.nulls += 1;
            } else if column.kinds & STRING == 0 {
                column.kinds |= classify(value);
            }
        }
        for ((index, _), counts) in header.labels.iter().zip(self.labels.iter_mut()) {
            let value = fields.field(*index);
            if !nulls.contains(value) {
                counts.add(value);
            }
        }
    }

    fn merge(&mut self, other: Partial) {
        self.rows += other.rows;
        for (mine, theirs) in self.columns.iter_mut().zip(other.columns) {
            mine.kinds |= theirs.kinds;
            mine.nulls += theirs.nulls;
        }
        for (mine, theirs) in self.labels.iter_mut().zip(other.labels) {
            mine.merge(theirs);
        }
    }
}

/// Profiles a CSV or TSV table with the csv parser (quoted fields, embedded newlines).
fn profile_delimited(
    format: Format,
    input: &mut dyn Read,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(format))
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
    let names: Vec<String> = reader
        .byte_headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let header = Header::new(names, labels);
    let nulls = Nulls::new(settings);
    let mut partial = header.partial();
    let mut duplicates = DuplicateCounter::new();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let mut hasher = row_hasher();
        for value in record.iter() {
            hasher.write_usize(value.len());
            hasher.write(value);
        }
        duplicates.add(hasher.finish()).map_err(Unreadable::Io)?;
        partial.add(&record, &header, &nulls);
    }
    header.finish(partial, duplicates, settings)
}

/// Bytes per chunk a file is split into for reading on all cores.
const CHUNK_BYTES: u64 = 16 << 20;
/// Bytes read at a time by each chunk's reader.
const BLOCK_BYTES: usize = 1 << 20;
/// Row hashes a chunk collects before it hands them to the shared duplicate counter.
const HASH_BATCH: usize = 1 << 16;

/// Profiles a CSV or TSV file on disk on all cores. Without a quote character anywhere, a
/// record is a line, so the file splits into chunks at line ends. `None` when a quote or a line
/// that does not split into the header's fields is met: the csv parser then reads the file
/// (and names the problem).
pub(super) fn profile_delimited_file(
    path: &std::path::Path,
    format: Format,
    labels: &[String],
    settings: &Settings,
) -> Option<Result<TableProfile, Unreadable>> {
    profile_in_chunks(path, format, labels, settings, CHUNK_BYTES)
}

fn profile_in_chunks(
    path: &std::path::Path,
    format: Format,
    labels: &[String],
    settings: &Settings,
    chunk_bytes: u64,
) -> Option<Result<TableProfile, Unreadable>> {
    use rayon::prelude::*;
    let delim = delimiter(format);
    let mut file = BufReader::with_capacity(64 << 10, std::fs::File::open(path).ok()?);
    let mut first = Vec::new();
    let header_end = file.read_until(b'\n', &mut first).ok()? as u64;
    let line = trim_line(&first);
    if line.is_empty() {
        return None;
    }
    let (mut bounds, mut unquoted) = (Vec::new(), Vec::new());
    let quoted = split_fields(line, delim, &mut bounds, &mut unquoted)?;
    let text = if quoted { &unquoted[..] } else { line };
    let names = bounds
        .iter()
        .map(|range| String::from_utf8_lossy(&text[range.clone()]).into_owned())
        .collect();
    let header = Header::new(names, labels);
    let nulls = Nulls::new(settings);
    let len = std::fs::metadata(path).ok()?.len();
    let duplicates = std::sync::Mutex::new(DuplicateCounter::new());
    let outcomes: Vec<Result<Option<Partial>, Unreadable>> =
        Chunk::all(header_end, len, chunk_bytes)
            .into_par_iter()
            .map(|chunk| profile_lines(path, chunk, delim, &header, &nulls, &duplicates))
            .collect();
    let mut total = header.partial();
    for outcome in outcomes {
        match outcome {
            Ok(Some(partial)) => total.merge(partial),
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        }
    }
    let duplicates = duplicates.into_inner().ok()?;
    Some(header.finish(total, duplicates, settings))
}

/// A line without its `\n` and `\r`.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A byte range of a file of lines: the lines starting in `[start, end)`.
#[derive(Clone, Copy)]
struct Chunk {
    start: u64,
    end: u64,
    /// Where the first record starts (after a header line).
    header_end: u64,
    /// Bytes read at a time.
    block: usize,
}

impl Chunk {
    /// The chunks of `chunk_bytes` a file of `len` bytes splits into after its header.
    fn all(header_end: u64, len: u64, chunk_bytes: u64) -> Vec<Chunk> {
        let body = len.saturating_sub(header_end);
        (0..body.div_ceil(chunk_bytes).max(1))
            .map(|i| {
                let start = header_end + i * chunk_bytes;
                let end = (start + chunk_bytes).min(len);
                Chunk {
                    start,
                    end,
                    header_end,
                    // A small file's chunk needs no more than its own size (plus the line that
                    // straddles its end, which grows the buffer if it must).
                    block: BLOCK_BYTES
                        .min(chunk_bytes as usize)
                        .min((end.saturating_sub(start)) as usize + 4096),
                }
            })
            .collect()
    }
}

/// Counts the lines starting in the chunk (the one straddling its start belongs to the chunk
/// before). `Ok(None)`: a quote or a line of the wrong width, so the file needs the csv parser.
fn profile_lines(
    path: &std::path::Path,
    chunk: Chunk,
    delim: u8,
    header: &Header,
    nulls: &Nulls,
    duplicates: &std::sync::Mutex<DuplicateCounter>,
) -> Result<Option<Partial>, Unreadable> {
    let mut partial = header.partial();
    let mut hashes = Vec::with_capacity(HASH_BATCH);
    let mut bounds: Vec<std::ops::Range<usize>> = Vec::with_capacity(header.names.len());
    // A quoted line's values, unescaped, and the row written with the least quoting.
    let (mut unquoted, mut canonical) = (Vec::new(), Vec::new());
    let mut splits = true;
    each_line(path, chunk, |text, _| {
        if text.is_empty() {
            return Ok(true); // a blank line, which the csv parser skips too
        }
        let Some(quoted) = split_fields(text, delim, &mut bounds, &mut unquoted) else {
            splits = false;
            return Ok(false);
        };
        if bounds.len() != header.names.len() {
            splits = false;
            return Ok(false);
        }
        let values = if quoted { &unquoted[..] } else { text };
        let mut hasher = row_hasher();
        if quoted {
            canonical_row(values, &bounds, delim, &mut canonical);
            hasher.write(&canonical);
        } else {
            hasher.write(text);
        }
        hashes.push(hasher.finish());
        if hashes.len() >= HASH_BATCH {
            flush_hashes(duplicates, &mut hashes)?;
        }
        partial.add(
            &Split {
                line: values,
                bounds: &bounds,
            },
            header,
            nulls,
        );
        Ok(true)
    })?;
    flush_hashes(duplicates, &mut hashes)?;
    Ok(splits.then_some(partial))
}

/// Hands row hashes to the duplicate counter a file's chunks share.
fn flush_hashes(
    duplicates: &std::sync::Mutex<DuplicateCounter>,
    hashes: &mut Vec<u64>,
) -> Result<(), Unreadable> {
    let mut counter = duplicates.lock().expect("a profiling thread panicked");
    for hash in hashes.drain(..) {
        counter.add(hash).map_err(Unreadable::Io)?;
    }
    Ok(())
}

/// Calls `line` with each line starting in the chunk (without its `\n` or `\r\n`) and its
/// number among them (from 0, blank lines included), until it returns `Ok(false)`. Returns how
/// many lines start in the chunk (all of them, when `line` never stopped).
fn each_line(
    path: &std::path::Path,
    chunk: Chunk,
    mut line: impl FnMut(&[u8], u64) -> Result<bool, Unreadable>,
) -> Result<u64, Unreadable> {
    use std::io::{Seek, SeekFrom};
    let Chunk {
        start,
        end,
        header_end,
        block,
    } = chunk;
    // From one byte early: a line starts at `start` only if the byte before it ends a line.
    let mut skipping = start > header_end;
    let mut offset = if skipping { start - 1 } else { start };
    let mut file = std::fs::File::open(path).map_err(Unreadable::Io)?;
    file.seek(SeekFrom::Start(offset)).map_err(Unreadable::Io)?;
    // `buf[..kept]` is the unfinished line carried over; `offset` is the file position of buf[0].
    let mut buf = vec![0u8; block];
    let mut kept = 0;
    let mut done = false;
    let mut count = 0u64;
    while !done {
        if kept == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let read = file.read(&mut buf[kept..]).map_err(Unreadable::Io)?;
        let filled = kept + read;
        if read == 0 {
            // The last line of the file has no line end: finish it as if it had.
            if kept == 0 {
                break;
            }
            buf.truncate(filled);
            buf.push(b'\n');
            done = true;
        }
        let block = &buf[..if done { filled + 1 } else { filled }];
        let mut line_start = 0;
        for at in memchr::memchr_iter(b'\n', block) {
            let first = line_start;
            line_start = at + 1;
            if skipping {
                skipping = false;
                continue;
            }
            if offset + first as u64 >= end {
                done = true;
                break;
            }
            let line_end = if at > first && block[at - 1] == b'\r' {
                at - 1
            } else {
                at
            };
            if !line(&block[first..line_end], count)? {
                return Ok(count);
            }
            count += 1;
        }
        if done {
            break;
        }
        // Carry the unfinished line over to the next block.
        buf.copy_within(line_start..filled, 0);
        kept = filled - line_start;
        offset += line_start as u64;
    }
    Ok(count)
}

/// Splits one line of a delimited file into fields (`bounds`, ranges into the line, or into
/// `unquoted` when the line holds a quote: then `Some(true)`). RFC 4180 quoting: a field that
/// starts with `"` runs to the next `"` not doubled, and a delimiter or the line's end must
/// follow. `None` for anything else — a quote inside an unquoted field, text after a closing
/// quote, or a quoted field running past the line (a value holding a line break): the csv
/// parser then reads the file, so what is counted never depends on this reader's leniency.
fn split_fields(
    line: &[u8],
    delim: u8,
    bounds: &mut Vec<std::ops::Range<usize>>,
    unquoted: &mut Vec<u8>,
) -> Option<bool> {
    bounds.clear();
    if memchr::memchr(b'"', line).is_none() {
        let mut start = 0;
        for at in memchr::memchr_iter(delim, line) {
            bounds.push(start..at);
            start = at + 1;
        }
        bounds.push(start..line.len());
        return Some(false);
    }
    unquoted.clear();
    let mut at = 0;
    loop {
        let start = unquoted.len();
        if line.get(at) == Some(&b'"') {
            at += 1;
            loop {
                let quote = at + memchr::memchr(b'"', &line[at..])?;
                unquoted.extend_from_slice(&line[at..quote]);
                at = quote + 1;
                if line.get(at) != Some(&b'"') {
                    break;
                }
                unquoted.push(b'"');
                at += 1;
            }
            if at < line.len() && line[at] != delim {
                return None;
            }
        } else {
            let end = memchr::memchr(delim, &line[at..]).map_or(line.len(), |p| at + p);
            if memchr::memchr(b'"', &line[at..end]).is_some() {
                return None;
            }
            unquoted.extend_from_slice(&line[at..end]);
            at = end;
        }
        bounds.push(start..unquoted.len());
        if at >= line.len() {
            return Some(true);
        }
        at += 1;
    }
}

/// A row written with the least quoting (only values holding the delimiter, a quote or a line
/// break are quoted): rows with equal values have equal canonical forms however they were
/// quoted, and a row needing no quotes is its own line, so duplicates hash alike either way.
fn canonical_row(values: &[u8], bounds: &[std::ops::Range<usize>], delim: u8, out: &mut Vec<u8>) {
    out.clear();
    for (i, range) in bounds.iter().enumerate() {
        if i > 0 {
            out.push(delim);
        }
        let value = &values[range.clone()];
        let needs_quotes = value
            .iter()
            .any(|&b| b == delim || b == b'"' || b == b'\n' || b == b'\r');
        if needs_quotes {
            out.push(b'"');
            for &b in value {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(value);
        }
    }
}

fn profile_jsonl(
    input: &mut dyn Read,
    labels: &[String],
    settings: &Settings,
) -> Result<TableProfile, Unreadable> {
    let mut partial = JsonlPartial::default();
    let mut duplicates = DuplicateCounter::new();
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
        if let Some(hash) = partial
            .add(text, labels, settings)
            .map_err(|why| Unreadable::Malformed(format!("line {number}: {why}")))?
        {
            duplicates.add(hash).map_err(Unreadable::Io)?;
        }
    }
    partial.finish(duplicates, labels, settings)
}

/// Profiles a JSONL file on disk on all cores: a record is a line (JSON escapes line breaks
/// inside strings), so the file splits into chunks at line ends, each counted on its own and
/// merged in file order (columns in the order they first appear, as one reader would).
pub(super) fn profile_jsonl_file(
    path: &std::path::Path,
    labels: &[String],
    settings: &Settings,
) -> Option<Result<TableProfile, Unreadable>> {
    profile_jsonl_in_chunks(path, labels, settings, CHUNK_BYTES)
}

fn profile_jsonl_in_chunks(
    path: &std::path::Path,
    labels: &[String],
    settings: &Settings,
    chunk_bytes: u64,
) -> Option<Result<TableProfile, Unreadable>> {
    use rayon::prelude::*;
    let len = std::fs::metadata(path).ok()?.len();
    let duplicates = std::sync::Mutex::new(DuplicateCounter::new());
    let outcomes: Vec<Result<JsonlChunk, Unreadable>> = Chunk::all(0, len, chunk_bytes)
        .into_par_iter()
        .map(|chunk| {
            let mut partial = JsonlPartial::default();
            let mut hashes = Vec::new();
            let mut bad = None;
            let lines = each_line(path, chunk, |text, number| {
                match partial.add(text, labels, settings) {
                    Ok(hash) => hashes.extend(hash),
                    Err(why) => {
                        bad = Some((number, why));
                        return Ok(false);
                    }
                }
                if hashes.len() >= HASH_BATCH {
                    flush_hashes(&duplicates, &mut hashes)?;
                }
                Ok(true)
            })?;
            flush_hashes(&duplicates, &mut hashes)?;
            Ok(JsonlChunk {
                partial,
                lines,
                bad,
            })
        })
        .collect();
    let mut total = JsonlPartial::default();
    let mut lines_before = 0u64;
    for outcome in outcomes {
        let JsonlChunk {
            partial,
            lines,
            bad,
        } = match outcome {
            Ok(done) => done,
            Err(e) => return Some(Err(e)),
        };
        if let Some((number, why)) = bad {
            let line = lines_before + number + 1;
            return Some(Err(Unreadable::Malformed(format!("line {line}: {why}"))));
        }
        total.merge(partial);
        lines_before += lines;
    }
    let duplicates = duplicates.into_inner().ok()?;
    Some(total.finish(duplicates, labels, settings))
}

/// One chunk of a JSONL file, counted: its lines' counts, how many lines start in it, and its
/// first bad line (numbered within the chunk) with the reason.
struct JsonlChunk {
    partial: JsonlPartial,
    lines: u64,
    bad: Option<(u64, String)>,
}

/// What a run of JSONL lines holds: columns in the order they first appear, each with its
/// counts, label counts, and rows.
#[derive(Default)]
struct JsonlPartial {
    names: Vec<String>,
    positions: HashMap<String, usize>,
    stats: Vec<ColumnStats>,
    labels: HashMap<String, LabelCounts>,
    rows: u64,
}

impl JsonlPartial {
    /// Counts one line; returns its row hash (`None` for a blank line), or why it is no row.
    fn add(
        &mut self,
        text: &[u8],
        labels: &[String],
        settings: &Settings,
    ) -> Result<Option<u64>, String> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let Line::Object(mut row) = serde_json::from_slice(text).map_err(|e| e.to_string())? else {
            return Err("the line is not a JSON object".into());
        };
        // Keys in order and the last of a repeated key, as a JSON object reads.
        row.sort_by(|a, b| a.0.cmp(&b.0));
        self.rows += 1;
        let mut hasher = row_hasher();
        hasher.write(text);
        for (at, (key, value)) in row.iter().enumerate() {
            if row.get(at + 1).is_some_and(|next| next.0 == *key) {
                continue;
            }
            let index = self.column(key);
            let column = &mut self.stats[index];
            column.present += 1;
            let text = match value {
                Cell::Text(s) => Some(s.as_ref()),
                _ => None,
            };
            let null = matches!(value, Cell::Null)
                || text.is_some_and(|s| settings.null_values.iter().any(|n| n == s));
            if null {
                column.nulls += 1;
                continue;
            }
            column.kinds |= match value {
                Cell::Bool(_) => BOOLEAN,
                Cell::Number(n) if n.is_i64() || n.is_u64() => INTEGER,
                Cell::Number(_) => FLOAT,
                _ => STRING,
            };
            if labels.iter().any(|l| l == key) {
                self.labels
                    .entry(key.to_string())
                    .or_default()
                    .add(value.label().as_bytes());
            }
        }
        Ok(Some(hasher.finish()))
    }

    /// The index of a column, added at the end when new.
    fn column(&mut self, key: &str) -> usize {
        if let Some(index) = self.positions.get(key) {
            return *index;
        }
        self.positions.insert(key.to_string(), self.names.len());
        self.names.push(key.to_string());
        self.stats.push(ColumnStats::default());
        self.names.len() - 1
    }

    /// Adds the counts of the lines that follow this run's.
    fn merge(&mut self, other: JsonlPartial) {
        self.rows += other.rows;
        for (name, theirs) in other.names.iter().zip(other.stats) {
            let index = self.column(name);
            let mine = &mut self.stats[index];
            mine.kinds |= theirs.kinds;
            mine.nulls += theirs.nulls;
            mine.present += theirs.present;
        }
        for (label, theirs) in other.labels {
            self.labels.entry(label).or_default().merge(theirs);
        }
    }

    fn finish(
        mut self,
        duplicates: DuplicateCounter,
        labels: &[String],
        settings: &Settings,
    ) -> Result<TableProfile, Unreadable> {
        let rows = self.rows;
        let mut table = TableProfile::counted(
            rows,
            duplicates.finish().map_err(Unreadable::Io)?,
            self.names
                .into_iter()
                .zip(self.stats)
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
                let counts = self.labels.remove(label).unwrap_or_default();
                counts.finish(label, settings.max_label_values, &mut table);
            }
        }
        Ok(table)
    }
}

/// One JSONL line, read without building a JSON tree: an object's fields in the order
/// written (keys borrowed from the line unless escaped), or anything else.
enum Line<'a> {
    Object(Vec<(Cow<'a, str>, Cell<'a>)>),
    Other,
}

/// One field's value: scalars as they are, nested arrays and objects as JSON values (kept
/// only to show them as labels, rare).
enum Cell<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(Cow<'a, str>),
    Nested(Value),
}

impl Cell<'_> {
    /// The value as a label shows it: a string as it is, anything else as its JSON text (as
    /// a JSON value prints it).
    fn label(&self) -> String {
        match self {
            Cell::Null => "null".to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Number(n) => n.to_string(),
            Cell::Text(s) => s.to_string(),
            Cell::Nested(v) => v.to_string(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Line<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LineVisitor;
        impl<'de> serde::de::Visitor<'de> for LineVisitor {
            type Value = Line<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Line<'de>, M::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key_seed(KeySeed)? {
                    fields.push((key, map.next_value()?));
                }
                Ok(Line::Object(fields))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Line<'de>, S::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Line::Other)
            }
            fn visit_unit<E>(self) -> Result<Line<'de>, E> {
                Ok(Line::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Line<'de>, E> {
                Ok(Line::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Line<'de>, E> {
                Ok(Line::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Line<'de>, E> {
                Ok(Line::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Line<'de>, E> {
                Ok(Line::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Line<'de>, E> {
                Ok(Line::Other)
            }
        }
        deserializer.deserialize_any(LineVisitor)
    }
}

/// Reads an object key, borrowing it from the line when it has no escapes.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(key))
            }
            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(key.to_string()))
            }
            fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(key))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Cell<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct CellVisitor;
        impl<'de> serde::de::Visitor<'de> for CellVisitor {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Cell<'de>, E> {
                Ok(Cell::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Cell<'de>, E> {
                Ok(Cell::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Cell<'de>, E> {
                Ok(Cell::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Cell<'de>, E> {
                serde_json::Number::from_f64(n)
                    .map(Cell::Number)
                    .ok_or_else(|| E::custom("a number that is not finite"))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Owned(s)))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                seq: S,
            ) -> Result<Cell<'de>, S::Error> {
                serde::Deserialize::deserialize(SeqAccessDeserializer::new(seq)).map(Cell::Nested)
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<Cell<'de>, M::Error> {
                serde::Deserialize::deserialize(MapAccessDeserializer::new(map)).map(Cell::Nested)
            }
        }
        deserializer.deserialize_any(CellVisitor)
    }
}

/// Hashes kept in memory before they are written out to the partitions' files (64 MiB).
const MEMORY_HASHES: usize = 8 << 20;

/// Counts rows equal to an earlier row, exactly, in bounded memory: row hashes are spread over
/// [`crate::spill`] partitions by their top byte; at the end each partition is sorted on its own
/// (on all cores) and its repeats counted.
pub struct DuplicateCounter {
    hashes: crate::spill::Partitions<u64>,
}

impl Default for DuplicateCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl DuplicateCounter {
    pub fn new() -> Self {
        Self::with_limit(MEMORY_HASHES)
    }

    fn with_limit(limit: usize) -> Self {
        DuplicateCounter {
            hashes: crate::spill::Partitions::new(limit, "dv-profile-"),
        }
    }

    pub fn add(&mut self, hash: u64) -> std::io::Result<()> {
        self.hashes.push((hash >> 56) as usize, hash)
    }

    /// The number of hashes equal to an earlier one.
    pub fn finish(self) -> std::io::Result<u64> {
        use rayon::prelude::*;
        let mut finished = self.hashes.finish();
        finished
            .parts
            .par_iter_mut()
            .map(|part| {
                let mut hashes = part.load()?;
                hashes.sort_unstable();
                Ok(hashes.windows(2).filter(|w| w[0] == w[1]).count() as u64)
            })
            .sum()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written with plain writes
mod tests {
    use super::*;

    /// JSONL as it is read: keys in sorted order, the last of a repeated key, a missing key
    /// counted null, `null` and the null spellings null, numbers typed by what they hold,
    /// nested values labelled by their JSON text, blank lines and CRLF skipped or stripped,
    /// equal lines counted as duplicates.
    #[test]
    fn jsonl_values_are_read_as_json() {
        let text = concat!(
            "{\"z\":1,\"a\":\"x\",\"n\":null,\"f\":1.5,\"t\":[1, 2],\"b\":true}\n",
            "{\"a\":\"NA\",\"z\":18446744073709551615,\"f\":2,\"t\":{\"k\": \"v\",\"c\":1},\"b\":false}\r\n",
            "\n",
            "{\"a\":\"y\\u00e9\",\"a\":\"last\",\"z\":-3,\"f\":-0.5e3,\"t\":\"s\",\"n\":\"\"}\n",
            "{\"z\":1,\"a\":\"x\",\"n\":null,\"f\":1.5,\"t\":[1, 2],\"b\":true}\n",
        );
        let settings = Settings::default();
        let labels = vec!["a".to_string(), "t".to_string()];
        let table = profile_text(Format::Jsonl, &mut text.as_bytes(), &labels, &settings).unwrap();
        assert_eq!(
            serde_json::to_value(&table).unwrap(),
            serde_json::json!({
                "format": "",
                "blob": "0000000000000000000000000000000000000000000000000000000000000000",
                "rows": 4,
                "duplicate_rows": 1,
                "columns": [
                    {"name": "a", "type": "string", "nulls": 1},
                    {"name": "b", "type": "boolean", "nulls": 1},
                    {"name": "f", "type": "float", "nulls": 0},
                    {"name": "n", "type": "null", "nulls": 4},
                    {"name": "t", "type": "string", "nulls": 0},
                    {"name": "z", "type": "integer", "nulls": 0}
                ],
                "labels": {
                    "a": {"last": 1, "x": 2},
                    "t": {"[1,2]": 2, "s": 1, "{\"c\":1,\"k\":\"v\"}": 1}
                }
            })
        );
        let bad = profile_text(Format::Jsonl, &mut &b"{\"a\":1}\n[1]\n"[..], &[], &settings);
        assert!(
            matches!(&bad, Err(Unreadable::Malformed(m)) if m == "line 2: the line is not a JSON object"),
            "{bad:?}"
        );
    }

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
        assert_eq!(classify(b"2."), FLOAT);
        assert_eq!(classify(b".5"), FLOAT);
        assert_eq!(classify(b"+1.5E+3"), FLOAT);
        assert_eq!(classify(b"1e"), STRING);
        assert_eq!(classify(b"."), STRING);
        assert_eq!(classify(b"1.2.3"), STRING);
        assert_eq!(classify(b"e5"), STRING);
        for text in [
            "2.", ".5", "+1.5E+3", "1e", ".", "1.2.3", "e5", "-0", "1_0", "NaN",
        ] {
            assert_eq!(
                classify(text.as_bytes()) != STRING,
                text.parse::<f64>().is_ok() && text != "NaN",
                "{text}"
            );
        }
        assert_eq!(type_name(INTEGER | FLOAT), "float");
        assert_eq!(type_name(INTEGER | BOOLEAN), "string");
    }

    /// The parallel line-split path counts exactly what the csv parser counts, whatever the
    /// chunk boundaries (here: every few bytes), with CRLF, blank lines, nulls, duplicates and no
    /// final newline; a quote anywhere sends the file to the csv parser.
    #[test]
    fn chunked_lines_count_what_the_csv_parser_counts() {
        let text = "id,species,mass\r\n1,Adelie,3750\r\n2,NA,\r\n\r\n3,Gentoo,4.5\n\n2,NA,\n4,Adelie,true\n5,Chinstrap,3800";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let settings = Settings::default();
        let labels = vec!["species".to_string()];
        let parsed = profile_text(Format::Csv, &mut text.as_bytes(), &labels, &settings).unwrap();
        assert_eq!((parsed.rows, parsed.duplicate_rows), (6, 1));
        for chunk in [1, 3, 7, 16, 1 << 20] {
            let split = profile_in_chunks(&path, Format::Csv, &labels, &settings, chunk)
                .expect("no quotes")
                .unwrap();
            assert_eq!(split, parsed, "chunks of {chunk} bytes");
        }
        std::fs::write(&path, "a,b\n1,2,3\n").unwrap();
        assert!(profile_in_chunks(&path, Format::Csv, &labels, &settings, 4).is_none());
    }

    /// Quoted fields (RFC 4180) are split on all cores too, counting exactly what the csv
    /// parser counts: delimiters and doubled quotes inside quotes, empty quoted values, a
    /// quoted header, and rows equal once unquoted counted as duplicates however they were
    /// quoted. A value holding a line break, a quote inside an unquoted field or text after a
    /// closing quote sends the file to the csv parser, whatever the chunk boundaries.
    #[test]
    fn quoted_fields_split_on_all_cores_count_what_the_csv_parser_counts() {
        let text = concat!(
            "\"id\",\"note\",label\r\n",
            "1,\"said \"\"hi\"\", then left\",cat\r\n",
            "2,plain,\"\"\n",
            "2,\"plain\",\"\"\n",
            "3,\"NA\",dog\n",
            "\n",
            "4,\"a,b\",dog\n",
            "4,\"a,b\",dog"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let settings = Settings::default();
        let labels = vec!["label".to_string()];
        let parsed = profile_text(Format::Csv, &mut text.as_bytes(), &labels, &settings).unwrap();
        assert_eq!((parsed.rows, parsed.duplicate_rows), (6, 2));
        assert_eq!(parsed.column("note").unwrap().nulls, 1);
        for chunk in [1, 2, 5, 11, 1 << 20] {
            let split = profile_in_chunks(&path, Format::Csv, &labels, &settings, chunk)
                .expect("RFC 4180 quoting on single lines")
                .unwrap();
            assert_eq!(split, parsed, "chunks of {chunk} bytes");
        }
        for other in [
            "a,b\n1,\"two\nlines\"\n2,x\n",
            "a,b\n1,x\"y\n",
            "a,b\n1,\"x\"y\n",
            "a,b\n1,\"never closed\n",
        ] {
            std::fs::write(&path, other).unwrap();
            for chunk in [1, 3, 1 << 20] {
                assert!(
                    profile_in_chunks(&path, Format::Csv, &labels, &settings, chunk).is_none(),
                    "{other:?} in chunks of {chunk}"
                );
            }
        }
    }

    /// Whatever the bytes, when the parallel splitter takes a file it counts exactly what the
    /// csv parser counts: thousands of small files drawn from quotes, delimiters, line ends,
    /// spaces and nulls, each split in chunks of several sizes.
    #[test]
    fn the_splitter_never_disagrees_with_the_csv_parser() {
        const PIECES: [&str; 10] = ["a", "NA", ",", "\"", "\"\"", "\n", "\r\n", " ", "1", "x,y"];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let settings = Settings::default();
        let labels = vec!["c".to_string()];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut taken = 0;
        for _ in 0..3000 {
            let mut text = String::from("a,b,c\n");
            if next(2) == 0 {
                for _ in 0..next(24) {
                    text.push_str(PIECES[next(PIECES.len())]);
                }
            } else {
                // Rows of three fields, plain or quoted, now and then broken by a stray piece.
                const FIELDS: [&str; 7] = [
                    "a",
                    "",
                    "NA",
                    "\"a\"",
                    "\"x,y\"",
                    "\"say \"\"hi\"\"\"",
                    "\"\"",
                ];
                for _ in 0..next(6) {
                    let fields: Vec<&str> = (0..3).map(|_| FIELDS[next(FIELDS.len())]).collect();
                    text.push_str(&fields.join(","));
                    if next(8) == 0 {
                        text.push_str(PIECES[next(PIECES.len())]);
                    }
                    text.push_str(["\n", "\r\n"][next(2)]);
                }
            }
            std::fs::write(&path, &text).unwrap();
            let parsed = profile_text(Format::Csv, &mut text.as_bytes(), &labels, &settings);
            for chunk in [1, 4, 1 << 20] {
                if let Some(split) =
                    profile_in_chunks(&path, Format::Csv, &labels, &settings, chunk)
                {
                    taken += 1;
                    match (&split, &parsed) {
                        (Ok(split), Ok(parsed)) => assert_eq!(split, parsed, "{text:?} in {chunk}"),
                        _ => panic!("{text:?} in {chunk}: {split:?} against {parsed:?}"),
                    }
                }
            }
        }
        assert!(taken > 2000, "the splitter took only {taken} files");
    }

    /// A JSONL file split at line ends and counted on all cores gives exactly what one reader
    /// gives — columns in first-seen order, nulls for absent keys, labels, duplicates — and a
    /// bad line is named by its number in the file, whatever the chunk boundaries.
    #[test]
    fn jsonl_in_chunks_counts_what_one_reader_counts() {
        const LINES: [&str; 10] = [
            r#"{"id": 1, "label": "cat", "note": "a\nb"}"#,
            r#"{"label": "dog", "id": 2.5}"#,
            r#"{"id": null, "extra": true, "label": "NA"}"#,
            r#"{"id": 1, "label": "cat", "note": "a\nb"}"#,
            "",
            "   ",
            r#"{"nested": {"k": [1, 2]}, "label": "cat"}"#,
            r#"{"id": "x", "id": 3}"#,
            "[1, 2]",
            "{not json",
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let settings = Settings::default();
        let labels = vec!["label".to_string()];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut good, mut bad) = (0, 0);
        for _ in 0..800 {
            let mut text = String::new();
            for _ in 0..next(12) {
                // Bad lines (the last two) are rare, so most files are whole.
                let pick = next(LINES.len() * 6).min(LINES.len() - 1);
                let pick = if pick >= LINES.len() - 2 && next(4) != 0 {
                    0
                } else {
                    pick
                };
                text.push_str(LINES[pick]);
                text.push_str(["\n", "\r\n"][next(2)]);
            }
            if next(3) == 0 {
                text.push_str(LINES[next(4)]); // no final line end
            }
            std::fs::write(&path, &text).unwrap();
            let one = profile_text(Format::Jsonl, &mut text.as_bytes(), &labels, &settings);
            match &one {
                Ok(_) => good += 1,
                Err(_) => bad += 1,
            }
            for chunk in [1, 7, 40, 1 << 20] {
                let split = profile_jsonl_in_chunks(&path, &labels, &settings, chunk).unwrap();
                match (&split, &one) {
                    (Ok(split), Ok(one)) => assert_eq!(split, one, "{text:?} in {chunk}"),
                    (Err(split), Err(one)) => {
                        assert_eq!(split.to_string(), one.to_string(), "{text:?} in {chunk}")
                    }
                    _ => panic!("{text:?} in {chunk}: {split:?} against {one:?}"),
                }
            }
        }
        assert!(
            good > 300 && bad > 50,
            "{good} whole files, {bad} with a bad line"
        );
    }

    /// Hashes spilled to the partitions' files count exactly what memory alone counts,
    /// including repeats of which some were spilled and some not.
    #[test]
    fn duplicates_across_spilled_runs_are_counted_exactly() {
        let values: Vec<u64> = (0..10_000u64)
            .map(|i| ((i * 7919) % 3_001).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let distinct: std::collections::HashSet<u64> = values.iter().copied().collect();
        let expected = (values.len() - distinct.len()) as u64;
        let mut spilled = DuplicateCounter::with_limit(997);
        let mut whole = DuplicateCounter::new();
        for value in &values {
            spilled.add(*value).unwrap();
            whole.add(*value).unwrap();
        }
        assert!(spilled.hashes.spilled());
        assert_eq!(spilled.finish().unwrap(), expected);
        assert_eq!(whole.finish().unwrap(), expected);
    }
}
