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

/// The name of the workspace's metadata directory.
pub const DV_DIR: &str = ".dv";

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

    /// Finds the workspace containing `start` (walking up) and opens it for writing.
    pub fn discover(start: &Path) -> Result<Workspace> {
        Workspace::discover_for(start, Access::Write)
    }

    /// Finds the workspace containing `start` (walking up) and opens it for `access`.
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

    /// Opens the workspace whose root is `root` for writing, checking its format.
    pub fn open_at(root: PathBuf) -> Result<Workspace> {
        Workspace::open_for(root, Access::Write)
    }

    /// Opens the workspace whose root is `root` for `access`, checking its format.
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
        let mut config: Config =
            serde_json::from_value(value).map_err(|e| config_err(e.to_string()))?;
        if config.stages.is_empty() {
            return Err(config_err("\"stages\" is empty".into()));
        }
        if access == Access::Read {
            return Workspace::open_reader(root, config);
        }
        if config.format < WORKSPACE_FORMAT {
            // Best effort: a read-only workspace (a shared mount, say) still reads fine as format
            // 1, and anything that writes to it fails on its own with a clear error.
            config.format = WORKSPACE_FORMAT;
            let _ = write_config(&config_path, &config);
        }
        let store = Store::at(root.join(DV_DIR).join("objects"));
        let (index, stale) = Index::open(&root.join(DV_DIR).join("index.sqlite"), store.clone())?;
        let ws = Workspace {
            root,
            config,
            access,
            store,
            index,
        };
        if stale {
            ws.reindex()?;
        } else {
            ws.recover()?;
        }
        Ok(ws)
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
                && crate::refs::read_tag_files(&tags_dir)
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

    /// Finishes what a crash interrupted: indexes a version whose object was written but not
    /// yet indexed, and brings the index's tags in line with the tag files (the truth).
    fn recover(&self) -> Result<()> {
        let pending = self.pending_version_path();
        if pending.exists() {
            let _lock = crate::lock::WorkspaceLock::acquire(&self.dv_dir())?;
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
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&pending, e));
                }
                _ => {}
            }
        }
        // A damaged tag file is reported by the commands that use tags (and by fsck), not
        // by every command that opens the workspace.
        let Ok(files) = crate::refs::read_tag_files(&self.tags_dir()) else {
            return Ok(());
        };
        if files != self.index.tags()? {
            let _lock = crate::lock::WorkspaceLock::acquire(&self.dv_dir())?;
            self.index.replace_tags(&files)?;
        }
        Ok(())
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
            id: id.to_hex(),
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
