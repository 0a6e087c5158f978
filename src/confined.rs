//! Writing below a directory through handles that never follow a symlink.
//!
//! Checkout and materialize write where a version (or a lock file) says, and the directory may
//! already hold links that earlier checked-out data made. Paths joined and then opened by name
//! would follow such a link out of the target. Here every step is relative to an open
//! directory handle (`openat`, `mkdirat`, `renameat`, `unlinkat`, with `O_NOFOLLOW`), one
//! component at a time, so a symlink met on the way is refused (or, when the caller may replace
//! what is in the way, removed), never followed.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::{TEMP_PREFIX, os_str};

/// An open directory; everything below it is reached through it.
#[derive(Debug)]
pub struct ConfinedDir {
    fd: OwnedFd,
    /// For messages only, never opened again by name.
    path: PathBuf,
}

/// What a name in a directory is, without following it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Missing,
    Directory,
    Symlink,
    /// A regular file or anything else that is not a directory.
    Other,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl ConfinedDir {
    /// Opens `path`, a directory the user named (symlinks on the way there are theirs), making
    /// it and its parents when missing.
    pub fn open_or_create(path: &Path) -> Result<ConfinedDir> {
        std::fs::create_dir_all(path).with_path(path)?;
        Self::open(path)
    }

    /// Opens `path`, a directory the user named.
    pub fn open(path: &Path) -> Result<ConfinedDir> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(path, e.into()))?;
        Ok(ConfinedDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens (with `create`, making missing ones) the `/`-separated directory `rel` below this
    /// one, one component at a time. A symlink or file on the way is an error naming it; with
    /// `replace` it is removed and a directory made in its place.
    pub fn dir(&self, rel: &[u8], create: bool, replace: bool) -> Result<ConfinedDir> {
        let mut current: Option<ConfinedDir> = None;
        for name in rel.split(|&b| b == b'/').filter(|n| !n.is_empty()) {
            let parent = current.as_ref().unwrap_or(self);
            let next = parent.child_dir(os_str(name), create, replace)?;
            current = Some(next);
        }
        match current {
            Some(dir) => Ok(dir),
            None => self.try_clone(),
        }
    }

    fn try_clone(&self) -> Result<ConfinedDir> {
        Ok(ConfinedDir {
            fd: self.fd.try_clone().with_path(&self.path)?,
            path: self.path.clone(),
        })
    }

    fn child_dir(&self, name: &OsStr, create: bool, replace: bool) -> Result<ConfinedDir> {
        let path = self.path.join(name);
        loop {
            match rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => return Ok(ConfinedDir { fd, path }),
                Err(rustix::io::Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => continue,
                        Err(e) => return Err(Error::io(&path, e.into())),
                    }
                }
                // O_NOFOLLOW on a symlink, or O_DIRECTORY on a file.
                Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                    let found = self.find(name)?;
                    if !replace || found == Found::Directory {
                        return Err(Error::NotADirectory {
                            path,
                            found: if found == Found::Symlink {
                                "symlink"
                            } else {
                                "file"
                            },
                        });
                    }
                    self.remove_file(name)?;
                }
                Err(e) => return Err(Error::io(&path, e.into())),
            }
        }
    }

    /// What `name` is in this directory (not following a symlink).
    pub fn find(&self, name: &OsStr) -> Result<Found> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => Found::Directory,
                FileType::Symlink => Found::Symlink,
                _ => Found::Other,
            }),
            Err(rustix::io::Errno::NOENT) => Ok(Found::Missing),
            Err(e) => Err(Error::io(self.path.join(name), e.into())),
        }
    }

    /// Makes a new, empty temporary file in this directory (never through a link).
    pub fn temp_file(&self, mode: u32) -> Result<(File, std::ffi::OsString)> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let name = temp_name(COUNTER.fetch_add(1, Ordering::Relaxed));
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(&self.fd, &name, flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => return Ok((File::from(fd), name)),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(Error::io(self.path.join(&name), e.into())),
            }
        }
    }

    /// Makes a symlink under a temporary name; returns the name.
    pub fn temp_symlink(&self, target: &OsStr) -> Result<std::ffi::OsString> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let name = temp_name(COUNTER.fetch_add(1, Ordering::Relaxed) | (1 << 63));
            match rustix::fs::symlinkat(target, &self.fd, &name) {
                Ok(()) => return Ok(name),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(Error::io(self.path.join(&name), e.into())),
            }
        }
    }

    /// Renames `from` over `to`, both in this directory. A symlink at `to` is replaced, never
    /// followed.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to)
            .map_err(|e| Error::io(self.path.join(to), e.into()))
    }

    /// Removes a file or symlink; a missing one is fine.
    pub fn remove_file(&self, name: &OsStr) -> Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::io(self.path.join(name), e.into())),
        }
    }

    /// Removes an empty directory; one that is missing or still holds something stays.
    pub fn remove_empty_dir(&self, name: &OsStr) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR);
    }

    /// The names in this directory (not `.` and `..`).
    pub fn names(&self) -> Result<Vec<Vec<u8>>> {
        let listing =
            rustix::fs::Dir::read_from(&self.fd).map_err(|e| Error::io(&self.path, e.into()))?;
        let mut names = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(&self.path, e.into()))?;
            let child = entry.file_name().to_bytes();
            if child != b"." && child != b".." {
                names.push(child.to_vec());
            }
        }
        Ok(names)
    }

    /// Removes, below this directory and through handles (no symlink followed), every file
    /// whose name starts with `prefix`: what a killed writer left. dv writes no deeper than
    /// [`MAX_DEPTH`](crate::object::tree::MAX_DEPTH) levels, so it looks no deeper either.
    pub fn remove_files_named(&self, prefix: &[u8]) -> Result<()> {
        self.remove_files_below(prefix, 0)
    }

    fn remove_files_below(&self, prefix: &[u8], depth: usize) -> Result<()> {
        for name in self.names()? {
            let child = os_str(&name);
            match self.find(child)? {
                Found::Directory if depth < crate::object::tree::MAX_DEPTH => self
                    .child_dir(child, false, false)?
                    .remove_files_below(prefix, depth + 1)?,
                Found::Other if name.starts_with(prefix) => self.remove_file(child)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes a directory and everything below it, through handles.
    pub fn remove_dir_all(&self, name: &OsStr) -> Result<()> {
        let dir = self.child_dir(name, false, false)?;
        for child in dir.names()? {
            let child = os_str(&child);
            match dir.find(child)? {
                Found::Directory => dir.remove_dir_all(child)?,
                _ => dir.remove_file(child)?,
            }
        }
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)
            .map_err(|e| Error::io(&dir.path, e.into()))
    }

    /// The path this directory was reached by, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn temp_name(unique: u64) -> std::ffi::OsString {
    format!("{TEMP_PREFIX}{}-{unique:x}", std::process::id()).into()
}
