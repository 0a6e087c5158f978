//! What a command run by `dv run` must leave alone.
//!
//! The code files recorded as what ran are stored before the command starts, so a version
//! records the code as it ran, and a script that rewrites itself is caught by comparing them
//! afterwards. The workspace outside `--out` and the inputs is listed (paths and metadata, no
//! content read) before and after, so a file the command created, changed or removed there is
//! caught too: a transform that writes elsewhere is not reproducible from its record.

use std::path::PathBuf;

use crate::error::Result;
use crate::index::FileStat;
use crate::object::CodeFile;
use crate::workspace::Workspace;

/// Directories never compared: version control's, and Python's bytecode caches, which any
/// import writes next to the module and which are never data.
const NOT_WATCHED: [&[u8]; 2] = [b".git", b"__pycache__"];

/// Most paths a refusal or a run record names; the rest are counted.
pub const MAX_NAMED_PATHS: usize = 100;

/// The state of the workspace and the code before the command ran.
pub struct Before {
    /// Each code file's path and what was stored of it.
    code: Vec<(PathBuf, CodeFile)>,
    /// Files outside the output and the inputs, with their metadata, sorted by path.
    listing: Vec<(Vec<u8>, FileStat)>,
    /// Workspace-relative directories the command may write (its output) or that dv wrote
    /// (its inputs).
    exempt: Vec<Vec<u8>>,
}

impl Before {
    /// Stores the code files and lists the workspace, leaving out `exempt` directories
    /// (workspace-relative).
    pub fn take(ws: &Workspace, code: &[PathBuf], exempt: &[&str]) -> Result<Before> {
        let stored = crate::commit::store_code_files(ws, code)?;
        let exempt: Vec<Vec<u8>> = exempt.iter().map(|d| d.as_bytes().to_vec()).collect();
        Ok(Before {
            code: code.iter().cloned().zip(stored).collect(),
            listing: listing(ws, &exempt)?,
            exempt,
        })
    }

    /// The code files as they were when the command started.
    pub fn code(&self) -> Vec<CodeFile> {
        self.code.iter().map(|(_, file)| file.clone()).collect()
    }

    /// Code files whose content is no longer what ran (or that are gone).
    pub fn changed_code(&self) -> Vec<String> {
        self.code
            .iter()
            .filter(|(path, file)| {
                crate::snapshot::hash_file(path).map_or(true, |(hash, size)| {
                    hash != file.blob.0 || size != file.size
                })
            })
            .map(|(_, file)| file.path.clone())
            .collect()
    }

    /// Workspace paths outside the output and the inputs that were created, changed or
    /// removed since, in path order.
    pub fn writes_elsewhere(&self, ws: &Workspace) -> Result<Vec<String>> {
        let after = listing(ws, &self.exempt)?;
        let (mut old, mut new) = (self.listing.iter().peekable(), after.iter().peekable());
        let mut written = Vec::new();
        loop {
            let path = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some((a, _)), None) => {
                    old.next();
                    a
                }
                (None, Some((b, _))) => {
                    new.next();
                    b
                }
                (Some((a, sa)), Some((b, sb))) => match a.cmp(b) {
                    std::cmp::Ordering::Less => {
                        old.next();
                        a
                    }
                    std::cmp::Ordering::Greater => {
                        new.next();
                        b
                    }
                    std::cmp::Ordering::Equal => {
                        old.next();
                        new.next();
                        if sa == sb {
                            continue;
                        }
                        a
                    }
                },
            };
            written.push(String::from_utf8_lossy(path).into_owned());
        }
        Ok(written)
    }
}

/// Every file of the workspace outside `exempt` directories and those never watched.
fn listing(ws: &Workspace, exempt: &[Vec<u8>]) -> Result<Vec<(Vec<u8>, FileStat)>> {
    let skip = crate::walk::Unwatched {
        paths: exempt,
        names: &NOT_WATCHED,
    };
    Ok(crate::walk::watch(ws.root(), &ws.dv_dir(), &skip)?
        .into_iter()
        .map(|found| (found.rel, found.stat))
        .collect())
}

/// Names at most [`MAX_NAMED_PATHS`] paths, then how many more there are.
pub fn named(paths: &[String]) -> Vec<String> {
    let mut out: Vec<String> = paths.iter().take(MAX_NAMED_PATHS).cloned().collect();
    if paths.len() > MAX_NAMED_PATHS {
        out.push(format!("... and {} more", paths.len() - MAX_NAMED_PATHS));
    }
    out
}
