//! Listing the files under a directory for a snapshot.
//!
//! Directories are read and entries stat'ed on all cores, each entry relative to its open
//! directory (no lookup of the full path per file). The result is sorted by path bytes, which
//! lets a snapshot pair it with the sorted stat cache in one pass.
//! `.dvignore` files (gitignore syntax) apply in their directory and below, a deeper one
//! overriding its parents, including those in the directories above the walked one up to the
//! workspace root (so the root's covers every dataset), and none outside the workspace. `.dv` directories and dv's temporary files are never
//! listed. Symlinks are listed, not followed.

use std::fs::{self, Metadata};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;

use crate::error::{Error, IoResultExt, Result};
use crate::fs_util::TEMP_PREFIX;
use crate::index::FileStat;
use crate::object::tree::MAX_DEPTH;
use crate::workspace::DV_DIR;

/// The name of the ignore files.
pub const IGNORE_FILE: &str = ".dvignore";

/// A file or symlink found by the walk.
pub struct Found {
    /// Path relative to the walked directory, `/`-separated bytes.
    pub rel: Vec<u8>,
    pub stat: FileStat,
}

/// Lists every file and symlink under `root`, skipping `dv_dir`, sorted by `rel`.
/// `ignore_from` are the directories above `root` whose `.dvignore` files apply, outermost first:
/// those between the workspace root and the snapshot, never beyond the workspace (the same data
/// must snapshot the same on every machine).
pub fn walk(root: &Path, ignore_from: &[&Path], dv_dir: &Path) -> Result<Walked> {
    let mut ignores = Ignores::default();
    for dir in ignore_from {
        ignores = ignores.with_dir(dir)?;
    }
    let rules = Rules {
        dv_dir,
        watch: None,
    };
    let listing = list(&rules, root, &[], 0, &ignores)?;
    let leftovers = listing.leftovers;
    let mut found = Vec::with_capacity(listing.files);
    listing.flatten_into(&mut found);
    Ok(Walked { found, leftovers })
}

/// What a watch leaves out: directories by their path from the walked root (`--out`, the
/// inputs) and by name (`.git`, bytecode caches), neither of them listed at all.
pub struct Unwatched<'a> {
    pub paths: &'a [Vec<u8>],
    pub names: &'a [&'a [u8]],
}

/// Lists the files under `root` to notice what changes there (`dv run`'s guard), not to
/// store them: `.dvignore` applies as in [`walk`], `skip` is not entered, and what a snapshot
/// refuses (named pipes, sockets, unreadable or too deeply nested directories) is listed as it
/// is or passed over instead of failing the walk.
pub fn watch(root: &Path, dv_dir: &Path, skip: &Unwatched<'_>) -> Result<Vec<Found>> {
    let rules = Rules {
        dv_dir,
        watch: Some(skip),
    };
    let listing = list(&rules, root, &[], 0, &Ignores::default())?;
    let mut found = Vec::with_capacity(listing.files);
    listing.flatten_into(&mut found);
    Ok(found)
}

/// How a walk treats what it finds.
struct Rules<'a> {
    dv_dir: &'a Path,
    /// For a watch: what it leaves out. A snapshot (`None`) skips only `.dv` and refuses what
    /// it cannot store.
    watch: Option<&'a Unwatched<'a>>,
}

/// What a walk found.
pub struct Walked {
    /// Files and symlinks, sorted by path.
    pub found: Vec<Found>,
    /// Whether dv temporary files (skipped) were seen: a killed checkout's leftovers.
    pub leftovers: bool,
}

/// One directory's files and subdirectories, in the order of their full paths' bytes.
#[derive(Default)]
struct Listing {
    items: Vec<Item>,
    /// Files in the whole subtree.
    files: usize,
    /// Whether dv temporary files were skipped in the subtree.
    leftovers: bool,
}

enum Item {
    File(Found),
    Dir(Listing),
}

impl Listing {
    fn flatten_into(self, out: &mut Vec<Found>) {
        for item in self.items {
            match item {
                Item::File(found) => out.push(found),
                Item::Dir(listing) => listing.flatten_into(out),
            }
        }
    }
}

/// Lists a directory: entries sorted so that a depth-first walk yields paths in byte order (a
/// directory sorts as its name followed by `/`, as in git), subdirectories and stats on all
/// cores.
fn list(
    rules: &Rules<'_>,
    dir: &Path,
    rel: &[u8],
    depth: usize,
    inherited: &Ignores,
) -> Result<Listing> {
    let ignores = inherited.with_dir(dir)?;
    let mut entries = Vec::new();
    let mut leftovers = false;
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(_) if rules.watch.is_some() => return Ok(Listing::default()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in read {
        let entry = entry.with_path(dir)?;
        let name = entry.file_name();
        if name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
            leftovers = true;
            continue;
        }
        // Paths are built only when needed: this loop runs once per file.
        let is_dir = entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_dir();
        if !ignores.is_empty() && ignores.ignored(&entry.path(), is_dir) {
            continue;
        }
        // No `.dv` directory is data: not this workspace's, nor a nested workspace's.
        if is_dir && (name.as_bytes() == DV_DIR.as_bytes() || entry.path() == rules.dv_dir) {
            continue;
        }
        if is_dir
            && let Some(skip) = rules.watch
            && (skip.names.contains(&name.as_bytes())
                || skip.paths.iter().any(|p| *p == join(rel, name.as_bytes())))
        {
            continue;
        }
        let mut key = name.into_vec();
        if is_dir {
            key.push(b'/');
        }
        entries.push((key, entry, is_dir));
    }
    entries.sort_unstable_by(|(a, ..), (b, ..)| a.cmp(b));
    // Deeper than trees may nest (also bounds this recursion): refuse rather than walk on
    // (a watch stops there: nothing deeper can be a version's data).
    if depth >= MAX_DEPTH && rules.watch.is_some() {
        return Ok(Listing::default());
    }
    if depth >= MAX_DEPTH
        && let Some((_, entry, _)) = entries.first()
    {
        return Err(Error::TooDeep {
            path: entry.path(),
            max: MAX_DEPTH,
        });
    }
    let items = entries
        .into_par_iter()
        .map(|(key, entry, is_dir)| {
            let name = if is_dir {
                &key[..key.len() - 1]
            } else {
                &key[..]
            };
            let child_rel = join(rel, name);
            if is_dir {
                let listing = list(rules, &entry.path(), &child_rel, depth + 1, &ignores)?;
                let keep = listing.files > 0 || listing.leftovers;
                return Ok(keep.then_some(Item::Dir(listing)));
            }
            // Relative to the open directory, and never following a symlink.
            let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
            if meta.is_dir() {
                return Ok(None);
            }
            if rules.watch.is_none() {
                check_supported(&meta, || entry.path())?;
            }
            Ok(Some(Item::File(Found {
                rel: child_rel,
                stat: FileStat::of(&meta),
            })))
        })
        .filter_map(Result::transpose)
        .collect::<Result<Vec<Item>>>()?;
    let files = items
        .iter()
        .map(|item| match item {
            Item::File(_) => 1,
            Item::Dir(listing) => listing.files,
        })
        .sum();
    leftovers |= items
        .iter()
        .any(|item| matches!(item, Item::Dir(listing) if listing.leftovers));
    Ok(Listing {
        items,
        files,
        leftovers,
    })
}

/// Refuses what cannot be stored: named pipes, sockets and devices. `path` names the file in
/// the error, and is only built then.
pub(crate) fn check_supported(meta: &Metadata, path: impl FnOnce() -> PathBuf) -> Result<()> {
    let file_type = meta.file_type();
    if file_type.is_file() || file_type.is_dir() || file_type.is_symlink() {
        return Ok(());
    }
    Err(Error::UnsupportedFileType {
        path: path(),
        kind: crate::fs_util::file_type_name(&file_type),
    })
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut joined = Vec::with_capacity(rel.len() + 1 + name.len());
    joined.extend_from_slice(rel);
    if !rel.is_empty() {
        joined.push(b'/');
    }
    joined.extend_from_slice(name);
    joined
}

/// The largest `.dvignore` read, and what one may hold: bounds that keep a crafted file
/// (a gigabyte of patterns, 100,000 nested braces) from exhausting memory or the stack.
pub const MAX_IGNORE_BYTES: u64 = 1 << 20;
pub const MAX_IGNORE_PATTERNS: usize = 10_000;
pub const MAX_PATTERN_BYTES: usize = 4096;
pub const MAX_BRACE_DEPTH: usize = 8;

/// How deeply `{` groups nest in a glob (escaped braces do not count).
fn brace_depth(pattern: &str) -> usize {
    let (mut depth, mut deepest, mut escaped) = (0usize, 0, false);
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The `.dvignore` matchers in force in a directory, outermost first.
#[derive(Clone, Default)]
struct Ignores(Vec<Arc<Gitignore>>);

impl Ignores {
    /// These matchers plus the directory's own `.dvignore`, if it has one.
    fn with_dir(&self, dir: &Path) -> Result<Ignores> {
        let file = dir.join(IGNORE_FILE);
        let bad = |message: String| Error::BadIgnoreFile {
            path: file.clone(),
            message,
        };
        let bytes = match crate::fs_util::read_bounded(&file, MAX_IGNORE_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(self.clone()),
            Err(Error::FileTooLarge { .. }) => {
                return Err(bad(format!("it is larger than {MAX_IGNORE_BYTES} bytes")));
            }
            // A directory that cannot be listed is named itself, not the file looked for in it.
            Err(e) => {
                return Err(std::fs::read_dir(dir)
                    .err()
                    .map_or(e, |e| Error::io(dir, e)));
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
        let mut builder = GitignoreBuilder::new(dir);
        let mut patterns = 0;
        for (n, line) in text.lines().enumerate() {
            let at = |message: String| bad(format!("line {}: {message}", n + 1));
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            patterns += 1;
            if patterns > MAX_IGNORE_PATTERNS {
                return Err(bad(format!(
                    "it holds more than {MAX_IGNORE_PATTERNS} patterns"
                )));
            }
            if line.len() > MAX_PATTERN_BYTES {
                return Err(at(format!(
                    "the pattern is longer than {MAX_PATTERN_BYTES} bytes"
                )));
            }
            if brace_depth(line) > MAX_BRACE_DEPTH {
                return Err(at(format!(
                    "braces are nested deeper than {MAX_BRACE_DEPTH}"
                )));
            }
            builder
                .add_line(None, line)
                .map_err(|e| at(e.to_string()))?;
        }
        let matcher = builder.build().map_err(|e| bad(e.to_string()))?;
        let mut ignores = self.clone();
        ignores.0.push(Arc::new(matcher));
        Ok(ignores)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the innermost `.dvignore` with an opinion on `path` excludes it.
    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        for matcher in self.0.iter().rev() {
            match matcher.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}
