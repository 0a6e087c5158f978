//! Remotes: sharing versions through a directory or an S3-compatible bucket, with no server.
//!
//! A remote holds the same packs and object files as a workspace (see [`layout`]), so what is
//! verified locally is verified the same way when it comes back. Everything a remote sends is
//! treated as hostile: listings are parsed strictly, sizes are bounded before bodies are read,
//! pack indexes are checked against their packs, and every object is verified against its id
//! (with the chunks and delta bases it is rebuilt from) before it enters the local store.
//!
//! Writes are ordered so a remote never names data it does not hold: packs and their indexes,
//! then loose objects, then version records, then tags. Version records and tag records are
//! named by content, so concurrent pushes to one remote cannot overwrite each other.

mod catalog;
mod client;
mod clone;
pub mod config;
mod gc;
pub mod http;
mod layout;
mod lock;
mod on_demand;
mod pull;
mod push;
mod ranges;
mod records;
mod transfer;

use serde::Serialize;

pub use catalog::Catalog;
pub use client::{Client, Tuning};
pub use clone::{ORIGIN, clone};
pub use config::{Location, RemoteSpec, Remotes};
pub use gc::{RemoteGcReport, gc};
pub use on_demand::default_remote_versions;
pub(crate) use on_demand::{ensure_blobs, ensure_local};
pub use pull::{fetch, pull, pull_versions};
pub use push::{Selection, push};

/// How long a remote lock lives without being refreshed (see [`lock`]).
pub const LOCK_STALE_MINUTES: u64 = lock::STALE.as_secs() / 60;

use crate::error::Result;
use crate::workspace::Workspace;

/// What a transfer moved: what was sent (push) or received (fetch, pull, clone).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TransferReport {
    pub remote: String,
    /// Objects moved (blobs, chunks, trees and version records).
    pub objects: u64,
    /// Bytes of payload moved.
    pub bytes: u64,
    /// Requests made to the remote.
    pub requests: u64,
    /// Version records moved.
    pub versions: u64,
    /// Tags created (on the remote for push, locally for fetch).
    pub tags: u64,
    /// Lifecycle events (deprecations, retirements) moved.
    pub lifecycle: u64,
    /// Tags that name one version here and another there: reported, never overwritten.
    pub conflicts: Vec<TagConflict>,
    /// Versions whose record or data the remote sent damaged (or could not send): left out,
    /// while everything else arrived.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<Unavailable>,
}

/// A version a transfer could not bring, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Unavailable {
    pub version: String,
    pub reason: String,
}

/// A tag that names different versions in two places.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TagConflict {
    pub tag: String,
    /// Where each side points.
    pub local: Option<String>,
    pub remote: Vec<String>,
}

/// `dv-remote.json`: the remote's format, and the stages of the workspace that first pushed
/// (a clone starts with them).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    format: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stages: Option<Vec<String>>,
}

/// The stages a clone of the remote starts with (those of the workspace that first pushed).
pub fn remote_stages(remote: &Remote) -> Result<Option<Vec<String>>> {
    Ok(remote.require_format()?.stages)
}

/// An open remote: the connection and the runtime it runs on.
pub struct Remote {
    pub client: Client,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// Opens the remote `name` (the default one when `None`) of a workspace.
    pub fn open(ws: &Workspace, name: Option<&str>, create: bool) -> Result<Remote> {
        let remotes = Remotes::load(&ws.dv_dir())?;
        let (name, spec) = remotes.resolve(name)?;
        Remote::connect(&name, &spec, create)
    }

    /// Opens a remote from its settings.
    pub fn connect(name: &str, spec: &RemoteSpec, create: bool) -> Result<Remote> {
        let runtime = client::runtime()?;
        let _guard = runtime.enter();
        let client = Client::open(name, spec, Tuning::from_env()?, create)?;
        Ok(Remote { client, runtime })
    }

    /// Sets how many requests run at once (overriding `DV_REMOTE_JOBS`).
    pub fn with_jobs(mut self, jobs: Option<usize>) -> Remote {
        if let Some(jobs) = jobs {
            self.client.jobs = jobs.max(1);
        }
        self
    }

    /// Runs remote work to completion.
    pub fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// The counters so far, as a report of what was received (or sent, for a push).
    pub fn report(&self, sending: bool) -> TransferReport {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &self.client.stats;
        TransferReport {
            remote: self.client.name.clone(),
            objects: stats.objects.load(Relaxed),
            bytes: if sending {
                &stats.sent
            } else {
                &stats.received
            }
            .load(Relaxed),
            requests: stats.requests.load(Relaxed),
            ..TransferReport::default()
        }
    }

    /// Checks the remote's format marker; `None` when the remote is empty (never pushed to).
    fn check_format(&self) -> Result<Option<Marker>> {
        let Some(bytes) = self.block_on(self.client.get(layout::MARKER, 64 << 10))? else {
            return Ok(None);
        };
        let marker: Marker = serde_json::from_slice(&bytes).map_err(|e| {
            self.client
                .error(format!("{} is not valid: {e}", layout::MARKER))
        })?;
        if marker.format > layout::REMOTE_FORMAT {
            return Err(self.client.error(format!(
                "it uses remote format {}, but this dv only understands format {} or older",
                marker.format,
                layout::REMOTE_FORMAT
            )));
        }
        let mut marker = marker;
        // No stages named: a clone starts with the default ones.
        if marker.stages.as_ref().is_some_and(Vec::is_empty) {
            marker.stages = None;
        }
        if let Some(stages) = &marker.stages {
            for stage in stages {
                crate::names::check("stage", stage).map_err(|e| {
                    self.client
                        .error(format!("{} is not valid: {e}", layout::MARKER))
                })?;
            }
        }
        Ok(Some(marker))
    }

    /// The remote's format marker, which a remote dv has never pushed to lacks.
    fn require_format(&self) -> Result<Marker> {
        match self.check_format()? {
            Some(marker) => Ok(marker),
            None => Err(self.client.error(format!(
                "it holds no dv data ({} is missing): push to it first",
                layout::MARKER
            ))),
        }
    }
}
