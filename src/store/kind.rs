//! What an object is (its kind, a namespace of its own) and how large each kind may be in memory.

use super::{chunks, delta};

/// The kinds of stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A piece of a large file (see [`chunks`]).
    Chunk,
    /// File content or a symlink target.
    Blob,
    /// One directory listing.
    Tree,
    /// One version with its provenance.
    Version,
}

impl Kind {
    /// All kinds, in the order fsck and reindex visit them.
    pub const ALL: [Kind; 4] = [Kind::Chunk, Kind::Blob, Kind::Tree, Kind::Version];

    /// The directory name of the kind's namespace, also used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chunk => "chunk",
            Kind::Blob => "blob",
            Kind::Tree => "tree",
            Kind::Version => "version",
        }
    }

    /// The kind's byte in object headers and packs.
    pub fn code(self) -> u8 {
        match self {
            Kind::Chunk => b'c',
            Kind::Blob => b'b',
            Kind::Tree => b't',
            Kind::Version => b'v',
        }
    }

    /// The kind a header or pack byte names, if any.
    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The kind with this directory name, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Largest tree object dv will load into memory; protects against crafted objects.
pub const MAX_METADATA_OBJECT: u64 = 256 << 20;
/// Largest version record, decoded: what people write (a message, params, code lists) fits in
/// far less, and a record from a remote that expands past it is refused before it is parsed.
pub const MAX_VERSION_OBJECT: u64 = 4 << 20;

/// The most bytes an object of `kind` may decode to in memory.
pub(super) fn memory_limit(kind: Kind) -> u64 {
    match kind {
        Kind::Chunk => chunks::MAX_CHUNK as u64,
        Kind::Blob => delta::MAX_DELTA_CONTENT,
        Kind::Tree => MAX_METADATA_OBJECT,
        Kind::Version => MAX_VERSION_OBJECT,
    }
}
