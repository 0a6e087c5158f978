//! Walking what versions need: the one rule for which objects an object brings with it.
//!
//! A tree a version lists (its root, or a directory below a listed tree) brings its entries.
//! Chunks and delta bases are needed for their bytes only, so a tree reached only as the delta
//! base of another tree does not bring the files it lists. gc marks and push sends by this
//! rule; getting it wrong keeps garbage alive (gc) or sends files no version needs (push).

use std::collections::HashSet;

use crate::error::Result;
use crate::id::{Hash, TreeId};
use crate::object::tree::{EntryKind, TreeSource};
use crate::store::{Kind, Store};

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
