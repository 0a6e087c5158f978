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
    /// Names the file in crash points (`tag`, `worktree`, ...).
    what: &'static str,
}

impl AtomicFile {
    /// Creates the temporary file next to `target` (whose directory must exist).
    pub fn new(target: &Path, what: &'static str) -> Result<Self> {
        let dir = parent_dir(target);
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .with_path(dir)?;
        Ok(AtomicFile {
            temp,
            target: target.to_path_buf(),
            what,
        })
    }

    /// The open temporary file, for writing.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Publishes the file durably (see [`publish`]).
    pub fn commit(self) -> Result<()> {
        publish(self.temp, &self.target, Durability::Synced, self.what)
    }
}

/// Whether a published file must survive power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Content and directory entries reach the disk before `publish` returns.
    Synced,
    /// Only for caches that detect their own damage (the stat cache's checksum): renamed
    /// atomically, but a power cut may lose the new file.
    Cache,
}

/// The one way dv publishes a file: the finished temporary file is synced, missing parent
/// directories are created, it is renamed over `target`, then the directory is synced, and so
/// is the parent of every directory just created (otherwise a power cut could forget the new
/// directory and with it the file). `what` names the file in crash points
/// (`WHAT.synced`, `WHAT.renamed`).
pub fn publish(
    temp: tempfile::NamedTempFile,
    target: &Path,
    durability: Durability,
    what: &str,
) -> Result<()> {
    let dirs = make_room_for(target)?;
    if durability == Durability::Synced {
        temp.as_file().sync_all().with_path(temp.path())?;
    }
    crate::failpoint::hit(what, "synced").with_path(target)?;
    rename_into_place(temp.into_temp_path(), target)?;
    crate::failpoint::hit(what, "renamed").with_path(target)?;
    if durability == Durability::Synced {
        let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        sync_paths(&dirs)?;
    }
    Ok(())
}

/// Files published together, as [`publish`] publishes one: every temporary file is synced in
/// one round (several fsyncs at once share the filesystem's journal commits), then each is
/// renamed into place in the order added, then every directory touched is synced. Nothing
/// appears under its name before its bytes are on disk. A store batch's objects and packs are
/// published this way. Crash points: `WHAT.written`, `WHAT.synced`, each file's own step after
/// its rename, `WHAT.renamed`.
pub struct PublishTogether {
    what: &'static str,
    files: Vec<(tempfile::TempPath, PathBuf, &'static str)>,
}

impl PublishTogether {
    pub fn new(what: &'static str) -> PublishTogether {
        PublishTogether {
            what,
            files: Vec::new(),
        }
    }

    /// Adds a finished temporary file to publish as `target`; `step` names the crash point
    /// passed right after its rename.
    pub fn add(&mut self, temp: tempfile::TempPath, target: PathBuf, step: &'static str) {
        self.files.push((temp, target, step));
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Publishes every file added; on an error, the files not yet renamed are deleted.
    pub fn publish(self) -> Result<()> {
        let Some((_, first, _)) = self.files.first() else {
            return Ok(());
        };
        let at = parent_dir(first).to_path_buf();
        // Only these files are flushed (a filesystem-wide sync would also wait for whatever
        // else is dirty, such as the data a pipeline wrote just before committing).
        crate::failpoint::hit(self.what, "written").with_path(&at)?;
        let temps: Vec<&Path> = self
            .files
            .iter()
            .map(|(temp, _, _)| temp.as_ref())
            .collect();
        sync_paths(&temps)?;
        crate::failpoint::hit(self.what, "synced").with_path(&at)?;
        let mut dirs = std::collections::BTreeSet::new();
        for (temp, target, step) in self.files {
            if !dirs.contains(parent_dir(&target)) {
                dirs.extend(make_room_for(&target)?);
            }
            rename_into_place(temp, &target)?;
            crate::failpoint::hit(self.what, step).with_path(&target)?;
        }
        crate::failpoint::hit(self.what, "renamed").with_path(&at)?;
        let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        sync_paths(&dirs)
    }
}

/// Creates the directory `target` goes in; returns the directories whose entries its
/// publication changes (that one, and the parent of each directory created).
fn make_room_for(target: &Path) -> Result<Vec<PathBuf>> {
    let dir = parent_dir(target);
    let created = create_dirs(dir)?;
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(
        created
            .iter()
            .filter_map(|d| d.parent().map(Path::to_path_buf)),
    );
    Ok(dirs)
}

/// The rename that publishes a synced temporary file: the one call of `persist` in dv.
#[allow(clippy::disallowed_methods)] // the publishing primitive itself
fn rename_into_place(temp: tempfile::TempPath, target: &Path) -> Result<()> {
    temp.persist(target)
        .map_err(|e| crate::Error::io(target, e.error))
}

/// Creates `dir` and its missing parents; returns the directories it created, outermost first.
pub fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(candidate) = at {
        if candidate.as_os_str().is_empty() || candidate.is_dir() {
            break;
        }
        missing.push(candidate.to_path_buf());
        at = candidate.parent();
    }
    missing.reverse();
    for dir in &missing {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(crate::Error::io(dir, e));
            }
            _ => {}
        }
    }
    Ok(missing)
}

/// Reads a small file that may come from elsewhere (a lock file, a config, a tag): opened once
/// without blocking, refused unless it is a regular file, and read through a size cap, so a
/// FIFO, a device or a link to `/dev/zero` fails at once instead of hanging or filling memory.
/// Returns `None` when the file does not exist.
pub fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let (file, meta) = match open_nonblocking(path) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::Error::io(path, e)),
    };
    if !meta.is_file() {
        return Err(crate::Error::NotARegularFile {
            path: path.to_path_buf(),
            found: file_type_name(&meta.file_type()),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    file.take(max + 1).read_to_end(&mut bytes).with_path(path)?;
    if bytes.len() as u64 > max {
        return Err(crate::Error::FileTooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(Some(bytes))
}

/// Opens a file for reading only if it is a regular file: without blocking (a FIFO planted
/// where an object or pack belongs would otherwise hang the open) and refusing devices,
/// sockets and directories with an `InvalidData` error.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let (file, meta) = open_nonblocking(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is a {}, not a regular file",
                file_type_name(&meta.file_type())
            ),
        ));
    }
    Ok(file)
}

/// Opens `path` for reading with `O_NONBLOCK` (opening a FIFO does not wait for a writer) and
/// returns what it is, so the caller can refuse anything but a regular file.
fn open_nonblocking(path: &Path) -> std::io::Result<(File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// A file type in words, for messages.
pub fn file_type_name(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_fifo() {
        "named pipe"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "file"
    }
}

/// The cap on dv's own small state files (config, tracked directories, consumers, tags).
pub const MAX_STATE_BYTES: u64 = 16 << 20;

/// How old a temporary file must be before another process may delete it as abandoned. A day:
/// a commit can spend hours hashing between writing one temporary object and publishing it.
pub const TEMP_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Deletes dv's temporary files in `dir` (not below it) that are older than `grace`: what a
/// killed process left behind. `prefix` selects them; a file that vanishes meanwhile is fine.
pub fn remove_stale_temp_files(
    dir: &Path,
    prefix: &str,
    grace: std::time::Duration,
) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(crate::Error::io(dir, e)),
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for entry in entries {
        let entry = entry.with_path(dir)?;
        if !entry.file_name().as_bytes().starts_with(prefix.as_bytes()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if meta.is_file() && age.is_some_and(|age| age >= grace) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::Error::io(entry.path(), e)),
            }
        }
    }
    Ok(removed)
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

/// Publishes a copy of the file at `from` as `path`, the same way as [`write_atomic`].
pub fn copy_atomic(from: &Path, path: &Path, what: &'static str) -> Result<()> {
    let mut source = File::open(from).with_path(from)?;
    let mut file = AtomicFile::new(path, what)?;
    std::io::copy(&mut source, file.file()).with_path(path)?;
    file.commit()
}

/// Writes `bytes` to `path` atomically and durably; `what` names it in crash points.
pub fn write_atomic(path: &Path, bytes: &[u8], what: &'static str) -> Result<()> {
    let mut file = AtomicFile::new(path, what)?;
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
