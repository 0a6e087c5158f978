//! Trees: one object per directory, naming its entries and their hashes (a Merkle tree, as in
//! git), so two versions that share a directory share its tree object and diffs can skip it.
//!
//! Encoding (bytes, no padding):
//!
//! ```text
//! "dv-tree 2 " <files> " " <bytes> "\n"                       totals of the whole subtree
//! then per entry, sorted by name bytes:
//! <kind> <32-byte hash> <size> " " <name bytes> "\0"
//! ```
//!
//! Format 1 (still read) wrote each hash as 64 hex digits between spaces: twice the bytes,
//! and incompressible ones.
//!
//! `kind` is `f` (file), `x` (executable file), `l` (symlink; the hash names a blob holding
//! the link target) or `d` (directory; the hash names its tree, `size` is the subtree's bytes).
//! Names are raw bytes (not necessarily UTF-8), never empty, `.`, `..`, or containing `/` or NUL.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::id::{Hash, TreeId};
use crate::store::{Kind, Store};

/// What a tree entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Executable,
    Symlink,
    Tree,
}

impl EntryKind {
    fn code(self) -> u8 {
        match self {
            EntryKind::File => b'f',
            EntryKind::Executable => b'x',
            EntryKind::Symlink => b'l',
            EntryKind::Tree => b'd',
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            b'f' => EntryKind::File,
            b'x' => EntryKind::Executable,
            b'l' => EntryKind::Symlink,
            b'd' => EntryKind::Tree,
            _ => return None,
        })
    }

    /// The word used in human and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Executable => "executable",
            EntryKind::Symlink => "symlink",
            EntryKind::Tree => "directory",
        }
    }
}

/// One name in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// A blob id for files and symlinks, a tree id for directories.
    pub id: Hash,
    /// Content bytes for files, target length for symlinks, subtree bytes for directories.
    pub size: u64,
}

/// One directory listing with the totals of everything below it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub entries: Vec<Entry>,
    /// Files and symlinks in the whole subtree.
    pub files: u64,
    /// Bytes of files and symlink targets in the whole subtree.
    pub bytes: u64,
}

const MAGIC: &[u8] = b"dv-tree 2 ";
const MAGIC_V1: &[u8] = b"dv-tree 1 ";

/// Longest path dv follows while walking trees; Linux paths cannot be longer, so deeper nesting
/// can only come from a crafted object.
pub const MAX_PATH_BYTES: usize = 4096;

/// Deepest directory nesting dv snapshots or walks. Walks recurse, so the bound keeps a
/// crafted chain of trees from exhausting the stack; real datasets stay far below it.
pub const MAX_DEPTH: usize = 256;

/// Fails when `prefix` (a `/`-separated path inside tree `id`) is nested too deep to walk.
pub fn check_depth(prefix: &[u8], id: &TreeId) -> Result<()> {
    let depth = if prefix.is_empty() {
        0
    } else {
        1 + prefix.iter().filter(|&&b| b == b'/').count()
    };
    if depth > MAX_DEPTH || prefix.len() > MAX_PATH_BYTES {
        return Err(too_deep(id));
    }
    Ok(())
}

/// The one error every tree walk gives at its depth bound: stopping is never silent.
pub fn too_deep(id: &TreeId) -> Error {
    corrupt_tree(
        id,
        format!("it nests deeper than any real path (more than {MAX_DEPTH} levels)"),
    )
}

/// Whether encoded tree bytes are in format 1 (hex hashes), written before workspace format 3.
pub fn is_format_1(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC_V1)
}

/// Checks that a name can be a single path component on every platform dv writes to.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

impl Tree {
    /// Builds a tree from entries in any order, computing totals from them.
    pub fn new(mut entries: Vec<Entry>, subtree_files: u64) -> Self {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let bytes = entries.iter().map(|e| e.size).sum();
        let direct = entries.iter().filter(|e| e.kind != EntryKind::Tree).count() as u64;
        Tree {
            entries,
            files: direct + subtree_files,
            bytes,
        }
    }

    /// The canonical encoding (format 2).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_in(false)
    }

    /// The format-1 encoding (hex hashes), which trees of workspaces before format 3 hold:
    /// never written any more, but a format-1 tree must be in exactly this form to be read.
    pub fn encode_format_1(&self) -> Vec<u8> {
        self.encode_in(true)
    }

    /// The two encodings differ only in the magic and in how an entry's hash is spelled.
    fn encode_in(&self, format_1: bool) -> Vec<u8> {
        use std::io::Write as _;
        let names: usize = self.entries.iter().map(|e| e.name.len()).sum();
        let mut out = Vec::with_capacity(32 + self.entries.len() * 48 + names);
        out.extend_from_slice(if format_1 { MAGIC_V1 } else { MAGIC });
        writeln!(out, "{} {}", self.files, self.bytes).expect("writing to memory");
        for entry in &self.entries {
            out.push(entry.kind.code());
            if format_1 {
                let hex = blake3::Hash::from_bytes(entry.id.0).to_hex();
                write!(out, " {hex} ").expect("writing to memory");
            } else {
                out.extend_from_slice(&entry.id.0);
            }
            write!(out, "{} ", entry.size).expect("writing to memory");
            out.extend_from_slice(&entry.name);
            out.push(0);
        }
        out
    }

    /// The id this tree has (the hash of its encoding).
    pub fn id(&self) -> TreeId {
        TreeId(Hash::of(&self.encode()))
    }

    /// Parses an encoding, rejecting anything a well-behaved dv would not have written.
    pub fn decode(bytes: &[u8], id: &TreeId) -> Result<Tree> {
        let bad = |reason: &str| Error::CorruptObject {
            kind: "tree",
            id: id.0,
            reason: reason.to_string(),
        };
        let (v1, rest) = match (bytes.strip_prefix(MAGIC), bytes.strip_prefix(MAGIC_V1)) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(bad("it does not start with \"dv-tree 2\" (or 1)")),
        };
        let line_end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("its header line is unterminated"))?;
        let header =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| bad("its header is not text"))?;
        let (files, total) = header
            .split_once(' ')
            .ok_or_else(|| bad("its header lacks totals"))?;
        let files: u64 = files
            .parse()
            .map_err(|_| bad("its file count is not a number"))?;
        let total: u64 = total
            .parse()
            .map_err(|_| bad("its byte count is not a number"))?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut body = &rest[line_end + 1..];
        while !body.is_empty() {
            // Kind and hash have fixed sizes (a raw hash may hold any byte, NUL included).
            let fixed = if v1 { 67 } else { 33 };
            if body.len() < fixed + 3 || (v1 && (body[1] != b' ' || body[66] != b' ')) {
                return Err(bad("an entry is malformed"));
            }
            let kind =
                EntryKind::from_code(body[0]).ok_or_else(|| bad("an entry has an unknown kind"))?;
            let entry_id = if v1 {
                std::str::from_utf8(&body[2..66])
                    .ok()
                    .and_then(Hash::from_hex)
                    .ok_or_else(|| bad("an entry hash is not hex"))?
            } else {
                Hash(body[1..33].try_into().expect("32 bytes"))
            };
            let tail = &body[fixed..];
            let end = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("an entry is not NUL-terminated"))?;
            body = &tail[end + 1..];
            let tail = &tail[..end];
            let space = tail
                .iter()
                .position(|&b| b == b' ')
                .ok_or_else(|| bad("an entry is malformed"))?;
            let size = std::str::from_utf8(&tail[..space])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| bad("an entry size is not a number"))?;
            let name = tail[space + 1..].to_vec();
            if !valid_name(&name) {
                return Err(bad(&format!(
                    "it holds the unsafe name {:?}",
                    String::from_utf8_lossy(&name)
                )));
            }
            if entries.last().is_some_and(|prev| prev.name >= name) {
                return Err(bad("its entries are not sorted and unique"));
            }
            entries.push(Entry {
                name,
                kind,
                id: entry_id,
                size,
            });
        }
        let sum = entries
            .iter()
            .try_fold(0u64, |acc, e| acc.checked_add(e.size));
        if sum != Some(total) {
            return Err(bad("its byte total does not match its entries"));
        }
        let tree = Tree {
            entries,
            files,
            bytes: total,
        };
        // One tree, one encoding: uppercase hex, `+5` or `05` would give the same tree another
        // id (found by fuzzing). Re-encoding is cheaper than the hash that got us here.
        let canonical = if v1 {
            tree.encode_format_1()
        } else {
            tree.encode()
        };
        if canonical != bytes {
            return Err(bad("it is not in canonical form"));
        }
        Ok(tree)
    }

    /// Looks an entry up by name.
    pub fn get(&self, name: &[u8]) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.name.as_slice().cmp(name))
            .ok()
            .map(|i| &self.entries[i])
    }
}

/// Where trees come from: the store, or trees computed in memory for a working directory.
pub trait TreeSource {
    fn tree(&self, id: &TreeId) -> Result<Tree>;
}

impl TreeSource for Store {
    fn tree(&self, id: &TreeId) -> Result<Tree> {
        let bytes = self.get_bytes(Kind::Tree, &id.0)?;
        Tree::decode(&bytes, id)
    }
}

/// Trees of an unstored snapshot, falling back to the store for everything else.
pub struct Overlay<'a> {
    pub store: &'a Store,
    pub trees: &'a HashMap<TreeId, Tree>,
}

impl TreeSource for Overlay<'_> {
    fn tree(&self, id: &TreeId) -> Result<Tree> {
        match self.trees.get(id) {
            Some(tree) => Ok(tree.clone()),
            None => self.store.tree(id),
        }
    }
}

/// A file or symlink with its full `/`-separated path from the root of the version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub path: Vec<u8>,
    pub kind: EntryKind,
    pub id: Hash,
    pub size: u64,
}

/// Lists every file and symlink under a tree, in path order (see [`super::walk::walk_files`]).
pub fn flatten(source: &dyn TreeSource, root: &TreeId) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    super::walk::walk_files(source, root, &mut |file| {
        out.push(file);
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn corrupt_tree(id: &TreeId, reason: String) -> Error {
    Error::CorruptObject {
        kind: "tree",
        id: id.0,
        reason,
    }
}
