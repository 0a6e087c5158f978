//! A workspace: a directory holding `.dv/` with the object store, the index and the config.
//!
//! `.dv/config.json` carries the workspace format number, checked on every open, and the list of
//! pipeline stages. Commands find the workspace by walking up from the current directory.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::{self, write_atomic};
use crate::id::VersionId;
use crate::index::Index;
use crate::object::Version;
use crate::store::Store;

/// The workspace format this dv writes and the newest it opens. Format 2 added pack files;
/// format 3 chunked files, deltas and trees with raw hashes. An older workspace is read as it
/// is and upgraded (its config rewritten) when this dv first writes to it, since older dv
/// releases cannot read what is written afterwards.
pub const WORKSPACE_FORMAT: u32 = 3;

pub use crate::names::DV_DIR;

/// Stages a new workspace starts with.
pub const DEFAULT_STAGES: [&str; 4] = ["raw", "cleaned", "labeled", "training-ready"];

/// The settings in `.dv/config.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    pub format: u32,
    pub stages: Vec<String>,
}

/// What a command does with the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only (`log`, `show`, `status`...): works on a read-only workspace and writes
    /// nothing there, not even repairs (those wait for the next writing command, under its lock).
    Read,
    /// May write: upgrades the format, repairs the index and finishes interrupted work first.
    Write,
}

/// An open workspace.
pub struct Workspace {
    root: PathBuf,
    config: Config,
    access: Access,
    pub(crate) store: Store,
    pub(crate) index: Index,
    /// The index on disk was made by another dv or damaged: rebuilt by `prepare_to_write`.
    index_stale: bool,
}

impl Workspace {
    /// Makes a new workspace in `dir` (created if missing).
    pub fn init(dir: &Path, stages: Option<Vec<String>>) -> Result<Workspace> {
        let root = fs_util::absolute(dir)?;
        let dv = root.join(DV_DIR);
        if dv.exists() {
            return Err(Error::WorkspaceExists { path: root });
        }
        let stages = match stages {
            Some(stages) => {
                for stage in &stages {
                    crate::names::check("stage", stage)?;
                }
                stages
            }
            None => DEFAULT_STAGES.iter().map(|s| s.to_string()).collect(),
        };
        if let Ok(meta) = fs::metadata(&root)
            && !meta.is_dir()
        {
            return Err(Error::NotADirectory {
                path: root,
                found: "file",
            });
        }
        fs::create_dir_all(&root).with_path(&root)?;
        // Build the layout in a temporary directory and rename it, so an interrupted init leaves
        // no half-made workspace behind.
        let staging = tempfile::Builder::new()
            .prefix(".dv-init-")
            .tempdir_in(&root)
            .with_path(&root)?;
        Store::create(&staging.path().join("objects"))?;
        let tags = staging.path().join("refs").join("tags");
        fs::create_dir_all(&tags).with_path(&tags)?;
        let config = Config {
            format: WORKSPACE_FORMAT,
            stages,
        };
        write_config(&staging.path().join("config.json"), &config)?;
        let staging = staging.keep();
        fs::rename(&staging, &dv).with_path(&dv)?;
        fs_util::sync_dir(&root)?;
        Workspace::open_at(root)
    }

    /// Finds the workspace containing `start` (walking up), opens it for writing and prepares
    /// it ([`Workspace::prepare_to_write`]).
    pub fn discover(start: &Path) -> Result<Workspace> {
        let mut ws = Workspace::discover_for(start, Access::Write)?;
        ws.prepare_to_write()?;
        Ok(ws)
    }

    /// Finds the workspace containing `start` (walking up) and opens it for `access`, writing
    /// nothing (see [`Workspace::open_for`]).
    pub fn discover_for(start: &Path, access: Access) -> Result<Workspace> {
        let start = fs_util::absolute(start)?;
        let mut dir = Some(start.as_path());
        while let Some(candidate) = dir {
            if candidate.join(DV_DIR).join("config.json").is_file() {
                return Workspace::open_for(candidate.to_path_buf(), access);
            }
            dir = candidate.parent();
        }
        Err(Error::NotAWorkspace { start })
    }

    /// Opens the workspace whose root is `root` for writing, checking its format, and prepares
    /// it ([`Workspace::prepare_to_write`]).
    pub fn open_at(root: PathBuf) -> Result<Workspace> {
        let mut ws = Workspace::open_for(root, Access::Write)?;
        ws.prepare_to_write()?;
        Ok(ws)
    }

    /// Opens the workspace whose root is `root` for `access`, checking its format. Opening
    /// changes nothing: an older format, a stale index or what a crash left are dealt with by
    /// [`Workspace::prepare_to_write`], under the lock.
    pub fn open_for(root: PathBuf, access: Access) -> Result<Workspace> {
        let config_path = root.join(DV_DIR).join("config.json");
        let config_err = |message: String| Error::Config {
            path: config_path.clone(),
            message,
        };
        let bytes = fs_util::read_bounded(&config_path, fs_util::MAX_STATE_BYTES)?
            .ok_or_else(|| Error::io(&config_path, std::io::ErrorKind::NotFound.into()))?;
        let text = String::from_utf8(bytes).map_err(|_| config_err("it is not UTF-8".into()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| config_err(e.to_string()))?;
        let format = value
            .get("format")
            .and_then(|f| f.as_u64())
            .ok_or_else(|| config_err("it has no \"format\" number".into()))?;
        if format > u64::from(WORKSPACE_FORMAT) {
            return Err(Error::FormatTooNew {
                found: format as u32,
                supported: WORKSPACE_FORMAT,
            });
        }
        let config: Config =
            serde_json::from_value(value).map_err(|e| config_err(e.to_string()))?;
        if config.stages.is_empty() {
            return Err(config_err("\"stages\" is empty".into()));
        }
        if access == Access::Read {
            return Workspace::open_reader(root, config);
        }
        let store = Store::at(root.join(DV_DIR).join("objects"));
        let (index, stale) = Index::open(&root.join(DV_DIR).join("index.sqlite"), store.clone())?;
        Ok(Workspace {
            root,
            config,
            access,
            store,
            index,
            index_stale: stale,
        })
    }

    /// The explicit step before a workspace opened to write is written to: under the workspace
    /// lock, an older format is upgraded (a failure is an error, never ignored), a stale index
    /// rebuilt from the objects, a version a crash left pending entered, and tags brought in
    /// step with the tag files. Costs a few reads (no lock) when nothing needs doing.
    pub fn prepare_to_write(&mut self) -> Result<()> {
        if self.access == Access::Read {
            return Ok(());
        }
        let upgrade = self.config.format < WORKSPACE_FORMAT;
        let pending = self.pending_version_path().exists();
        // A damaged tag file is reported by the commands that use tags (and by fsck), not by
        // every command that opens the workspace.
        let tag_files = crate::refs::file::read_tag_files(&self.tags_dir()).ok();
        let tags_differ = match &tag_files {
            Some(files) => *files != self.index.tags()?,
            None => false,
        };
        if !(upgrade || self.index_stale || pending || tags_differ) {
            return Ok(());
        }
        let _lock = crate::lock::WorkspaceLock::acquire(&self.dv_dir())?;
        if upgrade {
            let path = self.dv_dir().join("config.json");
            let mut config = self.config.clone();
            config.format = WORKSPACE_FORMAT;
            write_config(&path, &config).map_err(|e| Error::Config {
                path: path.clone(),
                message: format!(
                    "upgrading the workspace from format {} to {WORKSPACE_FORMAT} failed: {e}",
                    self.config.format
                ),
            })?;
            self.config = config;
        }
        if self.index_stale {
            crate::index::rebuild(&self.index, &self.store, &self.tags_dir())?;
            self.index_stale = false;
            return Ok(());
        }
        if pending {
            self.enter_pending_version()?;
        }
        if let Some(files) = tag_files
            && files != self.index.tags()?
        {
            self.index.replace_tags(&files)?;
        }
        Ok(())
    }

    /// Opens for reading: the index on disk is used when it is whole and current; otherwise
    /// (missing, damaged, a version still pending from a crash, tags out of step) one is built
    /// in memory from the objects, and nothing on disk changes.
    fn open_reader(root: PathBuf, config: Config) -> Result<Workspace> {
        let store = Store::at(root.join(DV_DIR).join("objects")).read_only();
        let path = root.join(DV_DIR).join("index.sqlite");
        let tags_dir = root.join(DV_DIR).join("refs").join("tags");
        let pending = root.join(DV_DIR).join("pending-version").exists();
        let current = Index::open_read_only(&path, &store).filter(|index| {
            !pending
                && crate::refs::file::read_tag_files(&tags_dir)
                    .is_ok_and(|files| index.tags().is_ok_and(|tags| tags == files))
        });
        let index = match current {
            Some(index) => index,
            None => {
                let index = Index::in_memory(&path, &store)?;
                crate::index::rebuild(&index, &store, &tags_dir)?;
                index
            }
        };
        Ok(Workspace {
            root,
            config,
            access: Access::Read,
            store,
            index,
            index_stale: false,
        })
    }

    /// Whether this workspace was opened by a command that may write.
    pub fn writable(&self) -> bool {
        self.access == Access::Write
    }

    /// Where a commit notes the version it is publishing until the index has it.
    pub fn pending_version_path(&self) -> PathBuf {
        self.dv_dir().join("pending-version")
    }

    /// Enters the version a crashed commit left pending (when its object was stored) and
    /// removes the marker. The caller holds the workspace lock.
    fn enter_pending_version(&self) -> Result<()> {
        let pending = self.pending_version_path();
        let text = fs_util::read_bounded(&pending, 1024)
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        if let Ok(id) = text.trim().parse::<crate::VersionId>()
            && self.store.has(crate::store::Kind::Version, &id.0)
        {
            let bytes = self.store.get_bytes(crate::store::Kind::Version, &id.0)?;
            let version = crate::object::Version::decode(&bytes, &id)?;
            self.index.insert_version(&id, &version)?;
        }
        match fs::remove_file(&pending) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&pending, e)),
            _ => Ok(()),
        }
    }

    /// Deletes temporary files that killed processes left in `.dv/` (older than
    /// [`fs_util::TEMP_GRACE`], so those of a command still running survive). Called by commands
    /// that write.
    pub fn remove_stale_temp_files(&self) -> Result<usize> {
        let grace = fs_util::TEMP_GRACE;
        Ok(
            fs_util::remove_stale_temp_files(
                &self.dv_dir().join("objects").join("tmp"),
                "",
                grace,
            )? + fs_util::remove_stale_temp_files(&self.dv_dir(), fs_util::TEMP_PREFIX, grace)?
                + fs_util::remove_stale_temp_files(&self.tags_dir(), fs_util::TEMP_PREFIX, grace)?,
        )
    }

    /// The directory holding `.dv/`.
    /// Versions newest first, as `filter` selects them.
    pub fn log(&self, filter: &crate::index::LogFilter) -> Result<Vec<(VersionId, Version)>> {
        self.index.log(filter)
    }

    /// Every tag with the version it names, by name.
    pub fn tags(&self) -> Result<Vec<(String, VersionId)>> {
        self.index.tags()
    }

    /// The version `id` when this workspace holds it (a tag may name one it does not).
    pub fn find_version(&self, id: &VersionId) -> Result<Option<Version>> {
        self.index.version(id)
    }

    /// Where versions' trees are read from, for walks over a version's files.
    pub fn trees(&self) -> &dyn crate::object::TreeSource {
        &self.store
    }

    /// The whole content of a stored file of a version (a code file, a captured log, a
    /// profile), verified against its id.
    pub fn read_file(&self, blob: &crate::id::BlobId) -> Result<Vec<u8>> {
        self.store.get_bytes(crate::store::Kind::Blob, &blob.0)
    }

    /// The version `id`, from the index; the one error for a version this workspace does not
    /// hold.
    pub fn version(&self, id: &VersionId) -> Result<Version> {
        self.index.version(id)?.ok_or_else(|| Error::MissingObject {
            kind: "version",
            id: id.0,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `.dv/` directory.
    pub fn dv_dir(&self) -> PathBuf {
        self.root.join(DV_DIR)
    }

    /// The directory holding tag files.
    pub fn tags_dir(&self) -> PathBuf {
        self.dv_dir().join("refs").join("tags")
    }

    /// Rebuilds the index from the objects and tag files.
    pub fn reindex(&self) -> Result<crate::index::RebuildReport> {
        let _lock = crate::lock::WorkspaceLock::acquire(&self.dv_dir())?;
        crate::index::rebuild(&self.index, &self.store, &self.tags_dir())
    }

    /// The configured pipeline stages, in order.
    pub fn stages(&self) -> &[String] {
        &self.config.stages
    }

    /// Fails with the list of valid stages unless `stage` is configured.
    pub fn check_stage(&self, stage: &str) -> Result<()> {
        if self.config.stages.iter().any(|s| s == stage) {
            Ok(())
        } else {
            Err(Error::UnknownStage {
                stage: stage.to_string(),
                valid: self.config.stages.clone(),
            })
        }
    }

    /// Resolves a user-given path to an absolute one inside the workspace and returns both it
    /// and its `/`-separated form relative to the root (empty for the root itself).
    pub fn relative(&self, path: &Path) -> Result<(PathBuf, String)> {
        let abs = fs_util::absolute(path)?;
        let rel = abs
            .strip_prefix(&self.root)
            .map_err(|_| Error::PathOutsideWorkspace {
                path: path.to_path_buf(),
                workspace: self.root.clone(),
            })?;
        if rel.starts_with(DV_DIR) {
            return Err(Error::PathOutsideWorkspace {
                path: path.to_path_buf(),
                workspace: self.root.clone(),
            });
        }
        let rel_text = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        Ok((abs, rel_text))
    }

    /// Turns a stored workspace-relative path back into an absolute one.
    pub fn absolute(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

fn write_config(path: &Path, config: &Config) -> Result<()> {
    let text = serde_json::to_string_pretty(config).expect("config serializes") + "\n";
    write_atomic(path, text.as_bytes(), "config")
}
