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
use crate::object::walk::TreeLevels;
use crate::store::{Kind, Store};
use crate::workspace::Workspace;

/// Visits every object reachable from `starts` once. `visit` returns the chunks and delta
/// bases an object is rebuilt from, or `None` when the object is not here (nothing below it is
/// followed). Listed trees are walked level by level through [`TreeLevels`], so a crafted
/// chain nested past [`MAX_DEPTH`](crate::object::tree::MAX_DEPTH) is an error, not a walk.
pub fn walk(
    store: &Store,
    starts: impl IntoIterator<Item = (Kind, Hash)>,
    mut visit: impl FnMut(Kind, &Hash) -> Result<Option<Vec<(Kind, Hash)>>>,
) -> Result<()> {
    let mut visited: HashSet<(Kind, Hash)> = HashSet::new();
    let mut absent: HashSet<(Kind, Hash)> = HashSet::new();
    // Visits an object (once) and everything it is rebuilt from.
    let mut visit_rebuilt = |kind: Kind, id: Hash, absent: &mut HashSet<_>| -> Result<()> {
        let mut stack = vec![(kind, id)];
        while let Some((kind, id)) = stack.pop() {
            if visited.insert((kind, id)) {
                match visit(kind, &id)? {
                    Some(parts) => stack.extend(parts),
                    None => {
                        absent.insert((kind, id));
                    }
                }
            }
        }
        Ok(())
    };
    let mut listed = TreeLevels::new(std::iter::empty());
    for (kind, id) in starts {
        if kind == Kind::Tree {
            listed.push(TreeId(id), ());
        } else {
            visit_rebuilt(kind, id, &mut absent)?;
        }
    }
    while let Some(level) = listed.next_level()? {
        for (tree, ()) in level {
            // A tree visited before as another's delta base is still listed here.
            visit_rebuilt(Kind::Tree, tree.0, &mut absent)?;
            if absent.contains(&(Kind::Tree, tree.0)) {
                continue;
            }
            for entry in store.tree(&tree)?.entries {
                if entry.kind == EntryKind::Tree {
                    listed.push(TreeId(entry.id), ());
                } else {
                    visit_rebuilt(Kind::Blob, entry.id, &mut absent)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether an operation may fetch what is not in the workspace from the default remote: the
/// one way every operation that may need absent data is told.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fetch {
    /// Fetch what is missing from the default remote, when one is configured.
    #[default]
    OnDemand,
    /// Never contact a remote: what is not local is an error (`--offline`).
    Offline,
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
    // A profile's tables are metadata every need brings.
    if let Some(tables) = version.profile_tables {
        missing += missing_below(store, tables, true)?;
    }
    if matches!(need, Need::Code | Need::Profiles) {
        return Ok(missing);
    }
    Ok(missing + missing_below(store, version.tree, need == Need::Data)?)
}

/// How many trees below `root` (and with `files`, files) are not local.
fn missing_below(store: &Store, root: TreeId, files: bool) -> Result<usize> {
    let mut missing = 0;
    let mut trees = TreeLevels::new([(root, ())]);
    while let Some(level) = trees.next_level()? {
        for (id, ()) in level {
            if !store.has(Kind::Tree, &id.0) {
                missing += 1;
                continue;
            }
            for entry in store.tree(&id)?.entries {
                match entry.kind {
                    EntryKind::Tree => trees.push(TreeId(entry.id), ()),
                    _ if files && !store.has(Kind::Blob, &entry.id) => missing += 1,
                    _ => {}
                }
            }
        }
    }
    Ok(missing)
}
