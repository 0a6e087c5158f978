//! Walking what versions need: the one rule for which objects an object brings with it.
//!
//! A tree a version lists (its root, or a directory below a listed tree) brings its entries.
//! Chunks and delta bases are needed for their bytes only, so a tree reached only as the delta
//! base of another tree does not bring the files it lists. gc marks and push sends by this
//! rule; getting it wrong keeps garbage alive (gc) or sends files no version needs (push).

use std::collections::HashSet;

use crate::error::Result;
use crate::id::VersionId;
use crate::id::{Hash, TreeId};
use crate::object::Version;
use crate::object::tree::{EntryKind, TreeSource};
use crate::store::{Kind, Store};
use crate::workspace::Workspace;

/// Visits every object reachable from `starts` once. `visit` returns the chunks and delta
/// bases an object is rebuilt from, or `None` when the object is not here (nothing below it is
/// followed).
pub fn walk(
    store: &Store,
    starts: impl IntoIterator<Item = (Kind, Hash)>,
    mut visit: impl FnMut(Kind, &Hash) -> Result<Option<Vec<(Kind, Hash)>>>,
) -> Result<()> {
    let mut visited: HashSet<(Kind, Hash)> = HashSet::new();
    let mut absent: HashSet<(Kind, Hash)> = HashSet::new();
    let mut listed: HashSet<Hash> = HashSet::new();
    let mut stack: Vec<(Kind, Hash, bool)> = starts
        .into_iter()
        .map(|(kind, id)| (kind, id, true))
        .collect();
    while let Some((kind, id, lists)) = stack.pop() {
        if visited.insert((kind, id)) {
            match visit(kind, &id)? {
                Some(parts) => stack.extend(parts.into_iter().map(|(k, part)| (k, part, false))),
                None => {
                    absent.insert((kind, id));
                }
            }
        }
        if kind == Kind::Tree && lists && !absent.contains(&(kind, id)) && listed.insert(id) {
            for entry in store.tree(&TreeId(id))?.entries {
                let kind = if entry.kind == EntryKind::Tree {
                    Kind::Tree
                } else {
                    Kind::Blob
                };
                stack.push((kind, entry.id, true));
            }
        }
    }
    Ok(())
}

/// What of a version must be local: its trees (to compare or verify a directory), its
/// recorded code files, or all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Only the versions' profiles: metadata every clone brings (a retired version's too, so
    /// it can still be described). Every other need brings them as well.
    Profiles,
    Trees,
    Code,
    Data,
}

/// How many objects of a version are not local for `need` (0 when it can be used as is).
pub fn missing_of(ws: &Workspace, id: &VersionId, need: Need) -> Result<usize> {
    let version = ws.version(id)?;
    count_missing(&ws.store, &version, need)
}

/// How many trees and files of a version are not local (a missing tree counts once: what is
/// below it is unknown until it arrives).
fn count_missing(store: &Store, version: &Version, need: Need) -> Result<usize> {
    let mut missing = 0;
    let mut stack = vec![version.tree];
    let mut seen = HashSet::new();
    if matches!(need, Need::Code | Need::Data) {
        missing += version
            .blobs()
            .filter(|blob| !store.has(Kind::Blob, &blob.0))
            .count();
    } else if let Some(profile) = version.profile
        && !store.has(Kind::Blob, &profile.blob.0)
    {
        missing += 1;
    }
    if matches!(need, Need::Code | Need::Profiles) {
        stack.clear();
    }
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if !store.has(Kind::Tree, &id.0) {
            missing += 1;
            continue;
        }
        for entry in store.tree(&id)?.entries {
            match entry.kind {
                EntryKind::Tree => stack.push(TreeId(entry.id)),
                _ if need == Need::Data && !store.has(Kind::Blob, &entry.id) => missing += 1,
                _ => {}
            }
        }
    }
    Ok(missing)
}
