//! A Parquet file's structure checked against dv's bounds before arrow-rs reads it.
//!
//! arrow-rs trusts what a file declares: a page header claiming 2 GiB is allocated as such, a
//! schema nested 5,000 groups deep is converted by recursion until the stack overflows, and a
//! table of no columns and 2^50 rows is "read" one empty batch at a time. A committed file may
//! come from anywhere, so before reading, dv decodes the footer's Thrift (compact protocol)
//! itself, without recursion beyond a fixed depth, and then every page header, and refuses what
//! is out of bounds: the table's profile says why, and the commit goes on.

use std::io::{BufReader, Read, Seek, SeekFrom};

/// Deepest nesting of groups in a schema.
pub const MAX_NESTING: usize = 64;
/// Largest page, once decompressed (writers default to 1 MiB).
pub const MAX_PAGE_BYTES: i64 = 256 << 20;
/// Largest footer (the file's metadata: schema, row groups, column chunks).
pub const MAX_FOOTER_BYTES: u64 = 64 << 20;
/// Deepest nesting of Thrift structures skipped while decoding.
const MAX_THRIFT_DEPTH: usize = 32;

/// What the footer says, once it is found within bounds.
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    /// Leaf columns.
    pub columns: usize,
    /// Rows, as the footer declares them.
    pub rows: u64,
}

/// Checks the file's footer and every page header against the bounds above; the error says
/// what was out of bounds.
pub fn check(file: &mut std::fs::File) -> Result<Shape, String> {
    let len = file.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    if len < 12 {
        return Err("it is too short to be a Parquet file".into());
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8)).map_err(|e| e.to_string())?;
    file.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Err(
            "it does not end with Parquet's magic bytes (or its footer is encrypted)".into(),
        );
    }
    let footer_len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    if footer_len > len - 12 || footer_len > MAX_FOOTER_BYTES {
        return Err(format!(
            "its footer claims {footer_len} bytes (at most {MAX_FOOTER_BYTES}, within the file's {len})"
        ));
    }
    let mut footer = vec![0u8; footer_len as usize];
    file.seek(SeekFrom::Start(len - 8 - footer_len))
        .map_err(|e| e.to_string())?;
    file.read_exact(&mut footer).map_err(|e| e.to_string())?;
    let meta = FileMeta::decode(&mut Thrift::new(footer.as_slice()))?;
    let columns = check_schema(&meta.schema)?;
    for chunk in &meta.chunks {
        check_pages(file, len, chunk)?;
    }
    Ok(Shape {
        columns,
        rows: u64::try_from(meta.rows).map_err(|_| "it declares a negative row count")?,
    })
}

/// Counts the leaf columns of a schema given as its elements' child counts in depth-first
/// order, refusing nesting deeper than [`MAX_NESTING`] or counts that do not add up.
fn check_schema(children: &[i32]) -> Result<usize, String> {
    let bad = |what: &str| Err(format!("its schema is malformed: {what}"));
    let Some((&root, rest)) = children.split_first() else {
        return bad("it has no root");
    };
    if root < 0 {
        return bad("a group claims a negative number of children");
    }
    let mut open: Vec<i32> = Vec::new();
    if root > 0 {
        open.push(root);
    }
    let mut leaves = 0;
    for &count in rest {
        match open.last_mut() {
            Some(left) => *left -= 1,
            None => return bad("it lists more elements than its root holds"),
        }
        match count {
            0 => leaves += 1,
            n if n < 0 => return bad("a group claims a negative number of children"),
            n => {
                if open.len() >= MAX_NESTING {
                    return Err(format!("its schema nests groups deeper than {MAX_NESTING}"));
                }
                open.push(n);
            }
        }
        while open.last() == Some(&0) {
            open.pop();
        }
    }
    if !open.is_empty() {
        return bad("its groups claim more children than it lists");
    }
    Ok(leaves)
}

/// Reads every page header of one column chunk, refusing a page larger than
/// [`MAX_PAGE_BYTES`] once decompressed, or one that does not fit in its chunk.
fn check_pages(file: &mut std::fs::File, len: u64, chunk: &Chunk) -> Result<(), String> {
    let start = match chunk.dictionary_offset {
        Some(offset) if offset > 0 && offset < chunk.data_offset => offset,
        _ => chunk.data_offset,
    };
    let (Ok(start), Ok(size)) = (u64::try_from(start), u64::try_from(chunk.compressed_size)) else {
        return Err("a column chunk claims a negative offset or size".into());
    };
    let end = start.saturating_add(size);
    if end > len {
        return Err(format!(
            "a column chunk claims bytes {start}..{end}, past the file's end ({len})"
        ));
    }
    let mut at = start;
    while at < end {
        file.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        let mut reader = Thrift::new(BufReader::new((&mut *file).take(end - at)));
        let page = PageSizes::decode(&mut reader)?;
        if page.uncompressed > MAX_PAGE_BYTES || page.uncompressed < 0 || page.compressed < 0 {
            return Err(format!(
                "a page claims {} bytes once decompressed (at most {MAX_PAGE_BYTES})",
                page.uncompressed
            ));
        }
        at = at
            .saturating_add(reader.consumed)
            .saturating_add(page.compressed as u64);
    }
    if at != end {
        return Err("a page runs past the end of its column chunk".into());
    }
    Ok(())
}

/// The parts of `FileMetaData` that bounds are checked on.
#[derive(Default)]
struct FileMeta {
    /// Each schema element's `num_children` (0 for a leaf), depth first.
    schema: Vec<i32>,
    rows: i64,
    chunks: Vec<Chunk>,
}

/// Where a column chunk's pages are.
#[derive(Default)]
struct Chunk {
    data_offset: i64,
    dictionary_offset: Option<i64>,
    compressed_size: i64,
}

/// A page header's sizes.
#[derive(Default)]
struct PageSizes {
    uncompressed: i64,
    compressed: i64,
}

// Thrift compact protocol types.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

impl FileMeta {
    fn decode<R: Read>(t: &mut Thrift<R>) -> Result<FileMeta, String> {
        let mut meta = FileMeta::default();
        t.fields(0, &mut |t, id, ty| match (id, ty) {
            (2, LIST) => {
                let (n, elem) = t.list_header()?;
                for _ in 0..n {
                    t.expect(elem, STRUCT)?;
                    let mut children = 0;
                    t.fields(1, &mut |t, id, ty| match (id, ty) {
                        (5, I32) => {
                            children = t.int()? as i32;
                            Ok(())
                        }
                        _ => t.skip(ty, 1),
                    })?;
                    meta.schema.push(children);
                }
                Ok(())
            }
            (3, I64) => {
                meta.rows = t.int()?;
                Ok(())
            }
            (4, LIST) => {
                let (n, elem) = t.list_header()?;
                for _ in 0..n {
                    t.expect(elem, STRUCT)?;
                    t.fields(1, &mut |t, id, ty| match (id, ty) {
                        (1, LIST) => {
                            let (n, elem) = t.list_header()?;
                            for _ in 0..n {
                                t.expect(elem, STRUCT)?;
                                meta.chunks.push(Chunk::decode(t)?);
                            }
                            Ok(())
                        }
                        _ => t.skip(ty, 2),
                    })?;
                }
                Ok(())
            }
            _ => t.skip(ty, 1),
        })?;
        Ok(meta)
    }
}

impl Chunk {
    fn decode<R: Read>(t: &mut Thrift<R>) -> Result<Chunk, String> {
        let mut chunk = None;
        t.fields(2, &mut |t, id, ty| match (id, ty) {
            (3, STRUCT) => {
                let mut found = Chunk::default();
                t.fields(3, &mut |t, id, ty| match (id, ty) {
                    (7, I64) => {
                        found.compressed_size = t.int()?;
                        Ok(())
                    }
                    (9, I64) => {
                        found.data_offset = t.int()?;
                        Ok(())
                    }
                    (11, I64) => {
                        found.dictionary_offset = Some(t.int()?);
                        Ok(())
                    }
                    _ => t.skip(ty, 4),
                })?;
                chunk = Some(found);
                Ok(())
            }
            _ => t.skip(ty, 3),
        })?;
        // Column data in another file is not something dv reads.
        chunk.ok_or_else(|| "a column chunk has no metadata (its data is elsewhere)".into())
    }
}

impl PageSizes {
    fn decode<R: Read>(t: &mut Thrift<R>) -> Result<PageSizes, String> {
        let mut page = PageSizes::default();
        t.fields(0, &mut |t, id, ty| match (id, ty) {
            (2, I32) => {
                page.uncompressed = t.int()?;
                Ok(())
            }
            (3, I32) => {
                page.compressed = t.int()?;
                Ok(())
            }
            _ => t.skip(ty, 1),
        })?;
        Ok(page)
    }
}

/// A Thrift compact-protocol reader that counts the bytes it consumed.
struct Thrift<R> {
    input: R,
    consumed: u64,
}

impl<R: Read> Thrift<R> {
    fn new(input: R) -> Self {
        Thrift { input, consumed: 0 }
    }

    fn byte(&mut self) -> Result<u8, String> {
        let mut one = [0u8];
        self.input
            .read_exact(&mut one)
            .map_err(|_| "its metadata ends early".to_string())?;
        self.consumed += 1;
        Ok(one[0])
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("its metadata holds an integer longer than 64 bits".into())
    }

    /// A zigzag-encoded integer (i16, i32 or i64).
    fn int(&mut self) -> Result<i64, String> {
        let n = self.varint()?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), String> {
        let copied = std::io::copy(&mut (&mut self.input).take(n), &mut std::io::sink())
            .map_err(|e| e.to_string())?;
        self.consumed += copied;
        if copied != n {
            return Err("its metadata ends early".into());
        }
        Ok(())
    }

    /// A list or set header: its length and element type.
    fn list_header(&mut self) -> Result<(u64, u8), String> {
        let b = self.byte()?;
        let n = match b >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        Ok((n, b & 0x0f))
    }

    fn expect(&self, found: u8, wanted: u8) -> Result<(), String> {
        if found == wanted {
            return Ok(());
        }
        Err(format!(
            "its metadata holds a list of type {found} where type {wanted} belongs"
        ))
    }

    /// Reads a struct's fields up to its stop byte, handing each (id, type) to `field`, which
    /// must consume the value.
    fn fields(
        &mut self,
        depth: usize,
        field: &mut dyn FnMut(&mut Self, i64, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        if depth > MAX_THRIFT_DEPTH {
            return Err("its metadata nests structures too deeply".into());
        }
        let mut id = 0i64;
        loop {
            let b = self.byte()?;
            if b == 0 {
                return Ok(());
            }
            id = match b >> 4 {
                0 => self.int()?,
                delta => id + i64::from(delta),
            };
            field(self, id, b & 0x0f)?;
        }
    }

    /// Skips one value of type `ty` found as a struct field.
    fn skip(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            _ => self.skip_value(ty, depth),
        }
    }

    /// Skips one value of type `ty` (a boolean takes a byte, as in a list).
    fn skip_value(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_THRIFT_DEPTH {
            return Err("its metadata nests structures too deeply".into());
        }
        match ty {
            BOOL_TRUE | BOOL_FALSE | BYTE => self.skip_bytes(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip_bytes(8),
            BINARY => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            LIST | SET => {
                let (n, elem) = self.list_header()?;
                for _ in 0..n {
                    self.skip_value(elem, depth + 1)?;
                }
                Ok(())
            }
            MAP => {
                let n = self.varint()?;
                if n > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..n {
                        self.skip_value(kinds >> 4, depth + 1)?;
                        self.skip_value(kinds & 0x0f, depth + 1)?;
                    }
                }
                Ok(())
            }
            STRUCT => self.fields(depth + 1, &mut |t, _, ty| t.skip(ty, depth + 1)),
            UUID => self.skip_bytes(16),
            other => Err(format!("its metadata holds an unknown type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_schema;

    #[test]
    fn schema_depth_and_leaves_are_counted_without_recursion() {
        assert_eq!(check_schema(&[2, 0, 0]), Ok(2));
        assert_eq!(check_schema(&[2, 1, 0, 0]), Ok(2));
        assert_eq!(check_schema(&[0]), Ok(0));
        let mut deep = vec![1; 5_000];
        deep.push(0);
        assert_eq!(
            check_schema(&deep),
            Err("its schema nests groups deeper than 64".into())
        );
        assert!(check_schema(&[1, 0, 0]).is_err());
        assert!(check_schema(&[3, 0]).is_err());
        assert!(check_schema(&[-1]).is_err());
    }
}
