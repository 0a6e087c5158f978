//! Changing a version's state on request (`dv deprecate`, `retire`, `unretire`, retiring by
//! policy, forgetting): the checks that make a change sensible, and for `unretire` the fetch of
//! the data it needs. The event records themselves, which remotes carry, are the parent's.

use std::collections::HashMap;

use serde::Serialize;

use super::{State, event, events_dir, record, states, status};
use crate::error::{Error, Result};
use crate::id::VersionId;
use crate::workspace::Workspace;

/// What a lifecycle command asks for.
#[derive(Clone, Debug)]
pub enum Change {
    Deprecate {
        reason: String,
        use_instead: Option<VersionId>,
    },
    Undeprecate,
    /// `force`: even when a recorded consumer pins it.
    Retire {
        reason: String,
        force: bool,
    },
    Unretire,
}

/// Changes a version's state, checking the change makes sense: a retired version is not
/// deprecated, only a deprecated one is undeprecated and only a retired one unretired (while
/// its data is all here), and a version pinned by a recorded consumer is retired only with
/// `force`. Returns the state it had; `None` when it already was retired (nothing recorded).
pub fn change(
    ws: &Workspace,
    version: VersionId,
    change: Change,
    fetch: crate::available::Fetch,
) -> Result<Option<State>> {
    // A retired version's data may be only on the remote (a fresh clone): unretiring fetches
    // it first, as the one way a retired version's data comes back.
    // (Nothing is contacted when the data is all here.)
    let mut not_fetched = "no remote gave them back".to_string();
    if matches!(change, Change::Unretire)
        && status(ws, &version)?.state == State::Retired
        && let Err(e) = crate::available::ensure_here(
            ws,
            &[version],
            crate::available::Need::Data,
            fetch,
            &crate::progress::NoProgress,
        )
    {
        not_fetched = format!("fetching them failed: {e}");
    }
    let _lock = crate::lock::WorkspaceLock::acquire(&ws.dv_dir())?;
    let current = status(ws, &version)?.state;
    let refuse = |message: String| Err(Error::InvalidLifecycle { message });
    let event = match change {
        Change::Deprecate { .. } if current == State::Retired => {
            return refuse(format!(
                "Version {version} is retired; `dv unretire` it before deprecating it"
            ));
        }
        Change::Deprecate { use_instead, .. } if use_instead == Some(version) => {
            return refuse("A version cannot be its own replacement".into());
        }
        Change::Deprecate {
            reason,
            use_instead,
        } => event(ws, version, State::Deprecated, Some(reason), use_instead)?,
        Change::Undeprecate | Change::Unretire => {
            let expected = match change {
                Change::Undeprecate => State::Deprecated,
                _ => State::Retired,
            };
            if current != expected {
                return refuse(format!(
                    "Version {version} is {}, not {}",
                    current.name(),
                    expected.name()
                ));
            }
            if expected == State::Retired {
                let missing = crate::reach::missing_of(ws, &version, crate::available::Need::Data)?;
                if missing > 0 {
                    return refuse(format!(
                        "Version {version} cannot be made active again: {missing} of its \
                         objects are not here (gc may have removed them), and {not_fetched}"
                    ));
                }
            }
            event(ws, version, State::Active, None, None)?
        }
        Change::Retire { .. } if current == State::Retired => return Ok(None),
        Change::Retire { reason, force } => {
            if !force {
                let pins: Vec<String> = crate::pin::consumers(ws)?
                    .into_iter()
                    .filter(|c| c.id == version)
                    .map(|c| format!("{} in {}", c.name, c.lock.display()))
                    .collect();
                if !pins.is_empty() {
                    return Err(Error::PinnedVersion { id: version, pins });
                }
            }
            event(ws, version, State::Retired, Some(reason), None)?
        }
    };
    let wanted = event.state;
    record(ws, &event)?;
    // Never report a change that did not happen.
    let now = status(ws, &version)?.state;
    if now != wanted {
        return refuse(format!(
            "Version {version} is still {} after recording the change (its lifecycle events \
             in .dv/lifecycle/{} decide otherwise; `dv fsck` checks them)",
            now.name(),
            version.to_hex()
        ));
    }
    Ok(Some(current))
}

/// A retention policy, like restic's `forget --keep-*`: per dataset and stage, the newest
/// `keep_last` versions stay; of the others, those older than `older_than` (all when `None`)
/// are selected. Tagged versions, versions a recorded lock file pins, and versions already
/// retired are never selected.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub keep_last: usize,
    pub dataset: Option<String>,
    pub stage: Option<String>,
    pub older_than: Option<std::time::Duration>,
}

/// The versions a policy would retire, oldest first within each dataset and stage.
pub fn select(ws: &Workspace, policy: &Policy) -> Result<Vec<(VersionId, crate::object::Version)>> {
    let filter = crate::index::LogFilter {
        dataset: policy.dataset.clone(),
        stage: policy.stage.clone(),
        ..Default::default()
    };
    let states = states(ws)?;
    let tagged: std::collections::HashSet<VersionId> =
        ws.index.tags()?.into_iter().map(|(_, id)| id).collect();
    let pinned: std::collections::HashSet<VersionId> = crate::pin::consumers(ws)?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let cutoff = match policy.older_than {
        Some(age) => {
            let age = chrono::Duration::from_std(age).map_err(|_| Error::InvalidLifecycle {
                message: "--older-than is too long".into(),
            })?;
            Some(chrono::Utc::now() - age)
        }
        None => None,
    };
    // Newest first, as the log lists them.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut selected = Vec::new();
    for (id, version) in ws.index.log(&filter)? {
        let rank = seen
            .entry((version.dataset.clone(), version.stage.clone()))
            .or_default();
        *rank += 1;
        if *rank <= policy.keep_last || tagged.contains(&id) || pinned.contains(&id) {
            continue;
        }
        if states.get(&id).is_some_and(|s| s.state == State::Retired) {
            continue;
        }
        let old_enough = cutoff.is_none_or(|cutoff| {
            chrono::DateTime::parse_from_rfc3339(&version.created_at)
                .is_ok_and(|created| created < cutoff)
        });
        if old_enough {
            selected.push((id, version));
        }
    }
    selected.reverse();
    Ok(selected)
}

/// What forgetting a version would break: newer versions made from it, tags naming it, lock
/// files pinning it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Dependents {
    pub children: Vec<VersionId>,
    pub tags: Vec<String>,
    pub pins: Vec<String>,
}

impl Dependents {
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.tags.is_empty() && self.pins.is_empty()
    }

    /// One line per thing that breaks.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .children
            .iter()
            .map(|id| format!("version {id} was made from it (its lineage would end there)"))
            .collect();
        out.extend(
            self.tags
                .iter()
                .map(|t| format!("tag {t} names it (it is deleted)")),
        );
        out.extend(
            self.pins
                .iter()
                .map(|p| format!("pin {p} (materialize would fail)")),
        );
        out
    }
}

/// Removes a version's record: its object, its index row, its lifecycle events, and the tags
/// naming it. Refused while anything depends on it unless `force`; returns what it broke. Its
/// data goes with the next `dv gc` (nothing else reaching it).
pub fn forget(ws: &Workspace, id: &VersionId, force: bool) -> Result<Dependents> {
    let dependents = Dependents {
        children: ws.index.children(id)?,
        tags: ws
            .index
            .tags()?
            .into_iter()
            .filter(|(_, tagged)| tagged == id)
            .map(|(name, _)| name)
            .collect(),
        pins: crate::pin::consumers(ws)?
            .into_iter()
            .filter(|c| c.id == *id)
            .map(|c| format!("{} in {}", c.name, c.lock.display()))
            .collect(),
    };
    if !dependents.is_empty() && !force {
        return Err(Error::ForgetRefused {
            id: *id,
            dependents: dependents.describe(),
        });
    }
    for tag in &dependents.tags {
        crate::refs::delete_tag(ws, tag)?;
    }
    let _lock = crate::lock::WorkspaceLock::acquire(&ws.dv_dir())?;
    ws.store.remove_loose(crate::store::Kind::Version, &id.0)?;
    ws.index.remove_version(id)?;
    let events = events_dir(ws).join(id.to_hex());
    match std::fs::remove_dir_all(&events) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&events, e)),
        _ => {}
    }
    Ok(dependents)
}
