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
        let wait = std::env::var("DV_LOCK_TIMEOUT_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(DEFAULT_WAIT, Duration::from_millis);
        let path = dv_dir.join("lock");
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
                Ok(()) => return Ok(WorkspaceLock { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Busy {
                        lock: PathBuf::from(&path),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
    }
}
