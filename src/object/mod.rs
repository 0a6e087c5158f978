//! Canonical encodings of the objects that describe data: trees and versions.
//!
//! The same logical object always encodes to the same bytes, so its id (the blake3 hash of the
//! encoding) is stable across machines and dv releases of the same format.

pub mod tree;
pub mod version;
pub mod walk;

pub use tree::{Entry, EntryKind, Tree, TreeSource};
pub use version::{
    CodeBase, CodeFile, CodeRevision, Interpreter, RuleFailure, RunInput, RunRecord, StoredFile,
    Version, WrittenElsewhere,
};
