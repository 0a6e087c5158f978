//! Atomic file publication and byte-faithful path helpers.
//!
//! Every file dv publishes is written to a temporary file in the destination directory, synced,
//! then renamed into place, so a crash leaves either the old file or the new one, never half.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{IoResultExt, Result};

/// The name prefix of dv's temporary files. Files with it are never data: snapshots skip them
/// (one can be left behind in a data directory by a checkout killed mid-write).
pub const TEMP_PREFIX: &str = ".dv-tmp-";

/// A temporary file in the directory of its final path, published by [`AtomicFile::commit`].
pub struct AtomicFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file next to `target` (whose directory must exist).
    pub fn new(target: &Path) -> Result<Self> {
        let dir = parent_dir(target);
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .with_path(dir)?;
        Ok(AtomicFile {
            temp,
            target: target.to_path_buf(),
        })
    }

    /// The open temporary file, for writing.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Syncs the content and renames it over the target, then syncs the directory entry.
    pub fn commit(self) -> Result<()> {
        self.temp.as_file().sync_all().with_path(self.temp.path())?;
        let target = self.target;
        self.temp
            .persist(&target)
            .map_err(|e| crate::Error::io(&target, e.error))?;
        sync_dir(parent_dir(&target))
    }
}

/// Flushes files or directories to disk, several at a time: waiting for the disk is the cost,
/// and concurrent fsyncs on one filesystem share its journal commits.
pub fn sync_paths(paths: &[&Path]) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failure = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..paths.len().min(8) {
            scope.spawn(|| {
                while let Some(path) = paths.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(e) = File::open(path).and_then(|file| file.sync_all()) {
                        let mut failure = failure.lock().expect("no panics under the lock");
                        failure.get_or_insert(crate::Error::io(path, e));
                        return;
                    }
                }
            });
        }
    });
    match failure.into_inner().expect("no panics under the lock") {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::new(path)?;
    file.file().write_all(bytes).with_path(path)?;
    file.commit()
}

/// Flushes a directory's entries to disk so a rename inside it survives power loss.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_path(dir)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Turns raw name bytes back into an OS path component.
pub fn os_str(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

/// Renders stored path bytes for people and JSON: `/`-separated, invalid UTF-8 replaced.
pub fn display_path(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Makes `path` absolute against the current directory and removes `.` and `..` components
/// lexically (without following symlinks), so workspace containment can be checked.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().with_path(".")?.join(path)
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}
