//! Hostile Parquet files, built byte by byte here: each is committed with its table's profile
//! marked unreadable (or read within bounds), never a crash, a hang or a huge allocation.

use crate::common::TestEnv;

/// A Thrift compact-protocol writer, enough to write Parquet footers and page headers.
#[derive(Default)]
struct Compact {
    out: Vec<u8>,
    /// The last field id of each open struct.
    last: Vec<i64>,
}

const I32: u8 = 5;
const I64: u8 = 6;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const STRUCT: u8 = 12;

impl Compact {
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn zigzag(&mut self, n: i64) {
        self.varint(((n << 1) ^ (n >> 63)) as u64);
    }

    fn field(&mut self, id: i64, ty: u8) -> &mut Self {
        let last = self.last.last_mut().expect("inside a struct");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | ty);
        } else {
            self.out.push(ty);
            self.zigzag(id);
        }
        self
    }

    fn int(&mut self, id: i64, ty: u8, value: i64) -> &mut Self {
        self.field(id, ty).zigzag(value);
        self
    }

    fn text(&mut self, id: i64, value: &str) -> &mut Self {
        self.field(id, BINARY).varint(value.len() as u64);
        self.out.extend_from_slice(value.as_bytes());
        self
    }

    fn list(&mut self, id: i64, elem: u8, n: usize) -> &mut Self {
        self.field(id, LIST);
        if n < 15 {
            self.out.push(((n as u8) << 4) | elem);
        } else {
            self.out.push(0xf0 | elem);
            self.varint(n as u64);
        }
        self
    }

    /// Starts a struct (as a list element, or after its field header).
    fn begin(&mut self) -> &mut Self {
        self.last.push(0);
        self
    }

    fn end(&mut self) -> &mut Self {
        self.out.push(0);
        self.last.pop();
        self
    }
}

/// A one-column INT32 table: `groups` row groups of one row each, every one pointing at the same
/// uncompressed data page, whose header claims `uncompressed` bytes.
fn int_table(groups: usize, uncompressed: i64) -> Vec<u8> {
    let mut page = Compact::default();
    page.begin()
        .int(1, I32, 0) // DATA_PAGE
        .int(2, I32, uncompressed)
        .int(3, I32, 4);
    page.field(5, STRUCT).begin();
    page.int(1, I32, 1)
        .int(2, I32, 0)
        .int(3, I32, 0)
        .int(4, I32, 0);
    page.end().end();
    let mut file = b"PAR1".to_vec();
    file.extend_from_slice(&page.out);
    file.extend_from_slice(&7i32.to_le_bytes());
    let chunk_len = (page.out.len() + 4) as i64;
    let mut meta = Compact::default();
    meta.begin().int(1, I32, 1);
    meta.list(2, STRUCT, 2);
    meta.begin().text(4, "schema").int(5, I32, 1).end();
    meta.begin()
        .int(1, I32, 1) // INT32
        .int(3, I32, 0) // REQUIRED
        .text(4, "x")
        .end();
    meta.int(3, I64, groups as i64);
    meta.list(4, STRUCT, groups);
    for _ in 0..groups {
        meta.begin().list(1, STRUCT, 1);
        meta.begin().int(2, I64, 4);
        meta.field(3, STRUCT).begin();
        meta.int(1, I32, 1);
        meta.list(2, I32, 1).zigzag(0);
        meta.list(3, BINARY, 1).varint(1);
        meta.out.push(b'x');
        meta.int(4, I32, 0) // UNCOMPRESSED
            .int(5, I64, 1)
            .int(6, I64, chunk_len)
            .int(7, I64, chunk_len)
            .int(9, I64, 4);
        meta.end().end();
        meta.int(2, I64, chunk_len).int(3, I64, 1).end();
    }
    meta.end();
    file.extend_from_slice(&meta.out);
    file.extend_from_slice(&(meta.out.len() as u32).to_le_bytes());
    file.extend_from_slice(b"PAR1");
    file
}

/// A footer-only file: a schema of `depth` nested groups (no leaf when `depth` is 0) declaring
/// `rows` rows in one row group of no columns.
fn schema_only(depth: usize, rows: i64) -> Vec<u8> {
    let mut meta = Compact::default();
    meta.begin().int(1, I32, 1);
    meta.list(2, STRUCT, depth + 1);
    meta.begin()
        .text(4, "schema")
        .int(5, I32, i64::from(depth > 0))
        .end();
    for level in 0..depth {
        meta.begin().int(3, I32, 1).text(4, "g");
        if level + 1 < depth {
            meta.int(5, I32, 1);
        } else {
            meta.int(1, I32, 1);
        }
        meta.end();
    }
    meta.int(3, I64, rows);
    meta.list(4, STRUCT, 1);
    meta.begin()
        .list(1, STRUCT, 0)
        .int(2, I64, 0)
        .int(3, I64, rows)
        .end();
    meta.end();
    let mut file = b"PAR1".to_vec();
    file.extend_from_slice(&meta.out);
    file.extend_from_slice(&(meta.out.len() as u32).to_le_bytes());
    file.extend_from_slice(b"PAR1");
    file
}

/// Commits `bytes` as `data/t.parquet` and returns its table's profile.
fn profile_of(env: &TestEnv, bytes: &[u8], stage: &str) -> serde_json::Value {
    env.write("data/t.parquet", bytes);
    let out = env.finishes(&["commit", "data", "-d", "d", "-s", stage]);
    assert_eq!(out.code, 0, "{out}");
    let shown = env.finishes(&["show", &format!("d@{stage}"), "--profile", "--json"]);
    assert_eq!(shown.code, 0, "{shown}");
    shown.json()["tables"]["t.parquet"].clone()
}

#[test]
fn hostile_parquet_files_are_committed_with_their_profile_marked() {
    let env = TestEnv::new();
    // A sound file of this shape reads back its one value.
    let sound = profile_of(&env, &int_table(1, 4), "raw");
    assert_eq!(sound["rows"], 1, "{sound:#}");
    assert_eq!(sound["columns"][0]["name"], "x", "{sound:#}");

    // A page claiming 2 GiB once decompressed is refused before anything is allocated.
    let huge_page = profile_of(&env, &int_table(1, i64::from(i32::MAX)), "cleaned");
    assert_eq!(
        huge_page["error"], "a page claims 2147483647 bytes once decompressed (at most 268435456)",
        "{huge_page:#}"
    );

    // 5,000 nested groups: refused by depth, never converted by recursion.
    let nested = profile_of(&env, &schema_only(5_000, 1), "labeled");
    assert_eq!(
        nested["error"], "its schema nests groups deeper than 64",
        "{nested:#}"
    );

    // No columns and 2^50 rows: the rows are taken as declared, none is read.
    let empty = profile_of(&env, &schema_only(0, 1 << 50), "training-ready");
    assert_eq!(empty["rows"], 1u64 << 50, "{empty:#}");
    assert_eq!(empty["columns"], serde_json::json!([]), "{empty:#}");
}

#[test]
fn a_parquet_file_of_many_row_groups_is_profiled_reading_its_footer_once() {
    let env = TestEnv::new();
    // 20,000 row groups in 640 KB took over a minute when each group re-read the footer.
    let table = profile_of(&env, &int_table(20_000, 4), "raw");
    assert_eq!(table["rows"], 20_000, "{table:#}");
    assert_eq!(table["duplicate_rows"], 19_999, "{table:#}");
}
