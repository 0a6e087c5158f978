//! The workspace lock: serialises the short critical sections that publish versions, move tags
//! and record checkouts. It is an OS file lock, so a process killed with `kill -9` releases it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoResultExt, Result};

/// How long to wait for another dv process before reporting "busy".
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Held while alive; dropping it releases the lock.
pub struct WorkspaceLock {
    _file: File,
}

impl WorkspaceLock {
    /// Takes the lock, retrying with backoff for up to [`DEFAULT_WAIT`] (or `DV_LOCK_TIMEOUT_MS`).
    pub fn acquire(dv_dir: &Path) -> Result<WorkspaceLock> {
        Self::acquire_at(dv_dir.join("lock"))
    }

    /// Takes the lock that keeps two checkouts from writing into one directory at once (they
    /// would interleave files of two versions). Keyed by the target's absolute path, in
    /// `.dv/locks/`; held for the whole checkout, which the workspace lock is not.
    pub fn acquire_directory(dv_dir: &Path, target: &Path) -> Result<WorkspaceLock> {
        use std::os::unix::ffi::OsStrExt;
        let dir = dv_dir.join("locks");
        crate::fs_util::create_dirs(&dir)?;
        let key = blake3::hash(target.as_os_str().as_bytes()).to_hex();
        Self::acquire_at(dir.join(format!("checkout-{}", &key[..32])))
    }

    fn acquire_at(path: PathBuf) -> Result<WorkspaceLock> {
        let wait = wait_limit()?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_path(&path)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    note_holder(&file);
                    return Ok(WorkspaceLock { _file: file });
                }
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Busy {
                        lock: PathBuf::from(&path),
                        holder: read_holder(&path),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
    }
}

/// How long to wait: `DV_LOCK_TIMEOUT_MS` when set (a whole number of milliseconds), else
/// [`DEFAULT_WAIT`]. A value that is not a number is an error, not silently the default.
fn wait_limit() -> Result<Duration> {
    match std::env::var("DV_LOCK_TIMEOUT_MS") {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_WAIT),
        Ok(text) => {
            text.trim()
                .parse()
                .map(Duration::from_millis)
                .map_err(|_| Error::InvalidEnvironment {
                    name: "DV_LOCK_TIMEOUT_MS",
                    value: text,
                    expected: "a whole number of milliseconds".into(),
                })
        }
        Err(std::env::VarError::NotUnicode(text)) => Err(Error::InvalidEnvironment {
            name: "DV_LOCK_TIMEOUT_MS",
            value: text.to_string_lossy().into_owned(),
            expected: "a whole number of milliseconds".into(),
        }),
    }
}

/// Writes who holds the lock into the lock file, for the "busy" message of the process that
/// waits. Best effort: the lock itself is the OS lock, not this text.
fn note_holder(mut file: &File) {
    use std::io::{Seek, Write};
    let command: Vec<String> = std::env::args().skip(1).take(3).collect();
    let text = format!("pid {}: dv {}\n", std::process::id(), command.join(" "));
    let _ = file
        .set_len(0)
        .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
        .and_then(|_| file.write_all(text.as_bytes()));
}

/// Who the lock file says holds it (one line of text, bounded).
fn read_holder(path: &Path) -> Option<String> {
    let bytes = crate::fs_util::read_bounded(path, 4096).ok()??;
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let printable = text.chars().all(|c| !c.is_control());
    (!text.is_empty() && printable).then_some(text)
}
