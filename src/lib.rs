//! dv: git-like versioning and provenance for datasets.
//!
//! A [`Workspace`] holds a content-addressed object store (the source of truth) and a SQLite
//! index (a rebuildable cache). [`commit::commit`] snapshots a directory into Merkle
//! [trees](object::Tree) of blake3-named blobs and records a [`Version`](object::Version) with
//! its provenance; [`checkout::checkout`] writes one back, byte for byte, verified.
//!
//! ```no_run
//! use dv::{Workspace, commit::{commit, CommitRequest}, progress::NoProgress};
//! # fn main() -> dv::Result<()> {
//! let ws = Workspace::init("project".as_ref(), None)?;
//! let request = CommitRequest {
//!     path: "project/data".into(),
//!     dataset: "penguins".into(),
//!     stage: "raw".into(),
//!     ..Default::default()
//! };
//! let outcome = commit(&ws, &request, &NoProgress)?;
//! println!("{}", outcome.id);
//! # Ok(()) }
//! ```
//!
//! The library never prints; it returns data and typed [`Error`]s for the CLI to render.

pub mod available;
pub mod checkout;
pub mod commit;
pub mod confined;
pub mod diff;
pub mod error;
pub mod failpoint;
pub mod fs_util;
pub mod fsck;
pub mod gc;
pub mod id;
pub mod index;
pub mod lifecycle;
pub mod lineage;
pub mod lock;
pub mod materialize;
pub mod names;
pub mod object;
pub mod params;
pub mod pin;
pub mod process;
pub mod profile;
pub mod progress;
pub mod provenance;
pub mod reach;
pub mod refs;
pub mod remote;
pub mod revision;
pub mod rules;
pub mod run;
pub mod snapshot;
pub mod spill;
pub mod status;
pub mod store;
pub mod table;
pub mod verify;
pub mod walk;
pub mod which;
pub mod workspace;
pub mod worktree;

pub use error::{Error, Result};
pub use id::{BlobId, Hash, TreeId, VersionId};
pub use workspace::Workspace;
