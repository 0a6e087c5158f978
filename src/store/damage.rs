//! Saying why an object cannot be read: the damaged or missing base or chunk at the bottom of
//! what it is rebuilt from.

use std::io::{self};

use super::{Kind, Opened, Store, VerifiedReader, corrupt, delta, read_error, verify};
use crate::error::Error;
use crate::id::Hash;

impl Store {
    /// Looks for the damaged part of an object rebuilt from others, once its content failed
    /// verification: reads stay fast, and a failure still names the chunk or base to restore.
    pub(super) fn diagnosis(&self, kind: Kind, id: &Hash) -> verify::Diagnose {
        let (store, id) = (self.clone(), *id);
        Box::new(move || {
            let (part, part_id, error) = store.find_damage(kind, &id, 0)?;
            if part_id == id {
                return Some(error.object_reason());
            }
            let name = if part == Kind::Chunk {
                "chunk"
            } else {
                "delta base"
            };
            Some(damaged_part(name, &part_id, &error))
        })
    }

    /// The first object below `id` (its chunks, its delta bases, then itself) whose content
    /// does not match its id, with the reason.
    fn find_damage(&self, kind: Kind, id: &Hash, depth: u8) -> Option<(Kind, Hash, Error)> {
        let damaged = |e: Error| Some((kind, *id, e));
        // A chunk list, then a chain of bases.
        if depth > delta::MAX_DEPTH + 1 {
            return None;
        }
        let needs = match self.dependencies(kind, id) {
            Ok(needs) => needs,
            Err(e) => return damaged(e),
        };
        if let Some(found) = needs
            .iter()
            .find_map(|(part, part_id)| self.find_damage(*part, part_id, depth + 1))
        {
            return Some(found);
        }
        // A chunk list whose chunks are intact: the list itself is wrong, which the caller's
        // hash mismatch already says.
        if needs.first().is_some_and(|(part, _)| *part == Kind::Chunk) {
            return None;
        }
        let verified = match self.open_object(kind, id) {
            Ok(Opened::Stream(file, header)) => VerifiedReader::new(file, header, *id)
                .and_then(|mut reader| io::copy(&mut reader, &mut io::sink()))
                .map(|_| None)
                .map_err(|e| read_error(kind, id, e)),
            Ok(Opened::Memory(..)) => self
                .content(kind, id)
                .map(|(content, _)| Some(Hash::of(&content))),
            Err(e) => Err(e),
        };
        match verified {
            Err(e) => damaged(e),
            Ok(Some(actual)) if actual != *id => {
                damaged(corrupt(kind, id, format!("its content hashes to {actual}")))
            }
            Ok(_) => None,
        }
    }
}

/// How the reason of an object whose delta base is damaged begins.
pub(super) const DAMAGED_BASE: &str = "its delta base ";

/// Why an object rebuilt from a part (a chunk, a delta base) cannot be read, naming the part.
pub(crate) fn damaged_part(name: &str, part: &Hash, err: &Error) -> String {
    match err {
        Error::MissingObject { .. } => format!("its {name} {part} is missing"),
        other => format!("its {name} {part} is damaged: {}", other.object_reason()),
    }
}
