//! Lifecycle states of versions: deprecated (usable, with a warning and a replacement), retired
//! (its data may go; its record stays), or active again.
//!
//! A version is immutable, so its state lives beside it as events: small canonical JSON files
//! `.dv/lifecycle/<version id>/<event id>`, each named by the blake3 hash of its bytes and never
//! rewritten. Events from two machines merge by union, as tags on a remote do: nothing is
//! overwritten.
//!
//! Events are ordered by what their writer saw, not by their clocks: each new event names the
//! events it supersedes (every event that was deciding when it was written). The state is
//! decided among the events nothing supersedes — normally one; several only when two machines
//! changed the state without seeing each other's change, and then the newest by time, then id,
//! wins. So a clock (or a forger) that dates an event in the far future cannot pin a state:
//! the next change supersedes it like any other.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{Hash, VersionId};
use crate::workspace::Workspace;

mod change;

pub use change::{Change, Dependents, Policy, change, forget, select};

/// The format of a lifecycle event: 2 adds `supersedes` (format 1 events supersede nothing).
const EVENT_FORMAT: u32 = 2;
/// Most events dv reads for one version (each is a person's action).
const MAX_EVENTS: usize = 1024;
/// Most events one event may supersede: all of a version's, so a new event always can.
const MAX_SUPERSEDES: usize = MAX_EVENTS;
/// Largest event file dv reads.
pub const MAX_EVENT_BYTES: u64 = 128 << 10;
/// Longest reason kept.
const MAX_REASON: usize = 4096;

/// What a version is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Usable; the default without events, and what undeprecate and unretire return to.
    Active,
    /// Usable, but warned about wherever it is chosen, with what to use instead.
    Deprecated,
    /// Its data may be removed by gc; checking it out is refused.
    Retired,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Deprecated => "deprecated",
            State::Retired => "retired",
        }
    }
}

/// One change of state, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub format: u32,
    pub version: VersionId,
    pub state: State,
    pub reason: Option<String>,
    /// The version to use instead (deprecation).
    #[serde(rename = "use")]
    pub use_instead: Option<VersionId>,
    /// RFC 3339, UTC.
    pub at: String,
    pub author: String,
    /// The events that were deciding when this one was written (format 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supersedes: Vec<Hash>,
}

impl Event {
    /// The canonical bytes (fields in declaration order, no whitespace) and their hash.
    pub fn encode(&self) -> (Vec<u8>, Hash) {
        let bytes = serde_json::to_vec(self).expect("events serialize");
        let id = Hash::of(&bytes);
        (bytes, id)
    }

    /// Parses an event and checks it is exactly what its id and place say.
    pub fn decode(bytes: &[u8], id: &Hash, version: &VersionId) -> Result<Event, String> {
        let event: Event = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a lifecycle event: {e}"))?;
        if event.format > EVENT_FORMAT {
            return Err(format!(
                "it has format {}, newer than this dv understands ({EVENT_FORMAT})",
                event.format
            ));
        }
        if event.version != *version {
            return Err(format!("it is about version {}", event.version));
        }
        if event.reason.as_ref().is_some_and(|r| r.len() > MAX_REASON) {
            return Err("its reason is longer than 4096 bytes".into());
        }
        if event.supersedes.len() > MAX_SUPERSEDES {
            return Err(format!("it supersedes more than {MAX_SUPERSEDES} events"));
        }
        if event.author.len() > MAX_REASON {
            return Err("its author is longer than 4096 bytes".into());
        }
        if chrono::DateTime::parse_from_rfc3339(&event.at).is_err() {
            return Err(format!("its time {:?} is not RFC 3339", event.at));
        }
        let (canonical, actual) = event.encode();
        if canonical != bytes || actual != *id {
            return Err("its bytes are not the canonical event its name says".into());
        }
        Ok(event)
    }
}

/// A version's current state and the event that set it (none: active, never changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub state: State,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventView>,
}

/// The parts of the deciding event shown to users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventView {
    pub reason: Option<String>,
    #[serde(rename = "use")]
    pub use_instead: Option<VersionId>,
    pub at: String,
    pub author: String,
}

impl Status {
    pub fn active() -> Status {
        Status {
            state: State::Active,
            event: None,
        }
    }
}

fn events_dir(ws: &Workspace) -> PathBuf {
    ws.dv_dir().join("lifecycle")
}

/// Every version's state that ever changed (versions missing from the map are active).
/// A damaged event file is an error naming it: states are not guessed.
pub fn states(ws: &Workspace) -> Result<HashMap<VersionId, Status>> {
    states_from(ws, |_, _| true)
}

/// The states the events `counts` accepts give (a remote's states, from the events it holds).
pub fn states_from(
    ws: &Workspace,
    counts: impl Fn(&VersionId, &Hash) -> bool,
) -> Result<HashMap<VersionId, Status>> {
    let mut out = HashMap::new();
    let dir = events_dir(ws);
    let versions = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in versions {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(|n| n.parse::<VersionId>().ok()) else {
            continue;
        };
        let events: Vec<(Event, Hash)> = read_events(&entry.path(), &version)?
            .into_iter()
            .filter(|(_, id)| counts(&version, id))
            .collect();
        if let Some(deciding) = deciding(events) {
            out.insert(version, status_of(deciding));
        }
    }
    Ok(out)
}

/// The order in which concurrent events win: by time, then id.
fn by_time(a: &&(Event, Hash), b: &&(Event, Hash)) -> std::cmp::Ordering {
    a.0.at.cmp(&b.0.at).then(a.1.cmp(&b.1))
}

/// The events nothing else among `events` supersedes.
fn heads(events: &[(Event, Hash)]) -> Vec<&(Event, Hash)> {
    let superseded: std::collections::HashSet<&Hash> = events
        .iter()
        .flat_map(|(event, _)| event.supersedes.iter())
        .collect();
    events
        .iter()
        .filter(|(_, id)| !superseded.contains(id))
        .collect()
}

/// The event that decides a version's state: the newest of the heads. A set of events where
/// every one is superseded (a forged cycle) falls back to the newest of all.
fn deciding(events: Vec<(Event, Hash)>) -> Option<Event> {
    let heads = heads(&events);
    let candidates = if heads.is_empty() {
        events.iter().collect()
    } else {
        heads
    };
    candidates
        .into_iter()
        .max_by(by_time)
        .map(|(event, _)| event.clone())
}

/// One version's state.
pub fn status(ws: &Workspace, version: &VersionId) -> Result<Status> {
    let dir = events_dir(ws).join(version.to_hex());
    let events = read_events(&dir, version)?;
    Ok(deciding(events).map_or_else(Status::active, status_of))
}

fn status_of(event: Event) -> Status {
    Status {
        state: event.state,
        event: Some(EventView {
            reason: event.reason,
            use_instead: event.use_instead,
            at: event.at,
            author: event.author,
        }),
    }
}

/// The events of one version, each checked against its name.
fn read_events(dir: &Path, version: &VersionId) -> Result<Vec<(Event, Hash)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Hash::from_hex)
        else {
            // Temporary files of a write in progress.
            continue;
        };
        if out.len() == MAX_EVENTS {
            return Err(Error::Config {
                path: dir.to_path_buf(),
                message: format!(
                    "it holds more than {MAX_EVENTS} lifecycle events; a person makes far fewer \
                     (remove the directory's forged events)"
                ),
            });
        }
        let bytes = crate::fs_util::read_bounded(&path, MAX_EVENT_BYTES)?.unwrap_or_default();
        let event = Event::decode(&bytes, &id, version).map_err(|message| Error::Config {
            path: path.clone(),
            message,
        })?;
        out.push((event, id));
    }
    Ok(out)
}

/// Every recorded event of the versions in `versions` (all when `None`), as (version, event id,
/// canonical bytes), for sending to a remote.
pub fn recorded(
    ws: &Workspace,
    versions: Option<&std::collections::HashSet<VersionId>>,
) -> Result<Vec<(VersionId, Hash, Vec<u8>)>> {
    let mut out = Vec::new();
    let dir = events_dir(ws);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let Some(version) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<VersionId>().ok())
        else {
            continue;
        };
        if versions.is_some_and(|wanted| !wanted.contains(&version)) {
            continue;
        }
        for (event, id) in read_events(&entry.path(), &version)? {
            out.push((version, id, event.encode().0));
        }
    }
    Ok(out)
}

/// Records an event received from elsewhere after checking it is exactly what its name says.
pub fn receive(ws: &Workspace, version: &VersionId, id: &Hash, bytes: &[u8]) -> Result<(), String> {
    let event = Event::decode(bytes, id, version)?;
    record(ws, &event).map(|_| ()).map_err(|e| e.to_string())
}

/// Records an event (durably; an identical one already there is left as it is).
pub fn record(ws: &Workspace, event: &Event) -> Result<Hash> {
    let (bytes, id) = event.encode();
    let dir = events_dir(ws).join(event.version.to_hex());
    let path = dir.join(id.to_hex());
    if !path.exists() {
        crate::fs_util::create_dirs(&dir)?;
        crate::fs_util::write_atomic(&path, &bytes, "lifecycle")?;
    }
    Ok(id)
}

/// A new event for `version`, stamped with the clock and author dv records versions with,
/// superseding every event that decides its state now.
pub fn event(
    ws: &Workspace,
    version: VersionId,
    state: State,
    reason: Option<String>,
    use_instead: Option<VersionId>,
) -> Result<Event> {
    let events = read_events(&events_dir(ws).join(version.to_hex()), &version)?;
    let mut supersedes: Vec<Hash> = heads(&events).into_iter().map(|(_, id)| *id).collect();
    if supersedes.is_empty() {
        // A forged cycle: supersede everything there is.
        supersedes = events.iter().map(|(_, id)| *id).collect();
    }
    supersedes.sort();
    if let Some(reason) = &reason
        && reason.len() > MAX_REASON
    {
        return Err(Error::InvalidLifecycle {
            message: "a reason is at most 4096 bytes".into(),
        });
    }
    Ok(Event {
        format: EVENT_FORMAT,
        version,
        state,
        reason,
        use_instead,
        at: crate::provenance::timestamp()?,
        author: crate::provenance::author(),
        supersedes,
    })
}

/// Fails with the reason and date when a version is retired: its data is not to be used.
pub fn ensure_usable(ws: &Workspace, version: &VersionId) -> Result<()> {
    let status = status(ws, version)?;
    match (status.state, status.event) {
        (State::Retired, Some(event)) => Err(Error::Retired {
            id: *version,
            reason: event.reason.unwrap_or_else(|| "no reason given".into()),
            at: event.at,
        }),
        _ => Ok(()),
    }
}
