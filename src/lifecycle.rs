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
            id: version.to_hex(),
            reason: event.reason.unwrap_or_else(|| "no reason given".into()),
            at: event.at,
        }),
        _ => Ok(()),
    }
}

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
                    return Err(Error::PinnedVersion {
                        id: version.to_hex(),
                        pins,
                    });
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
            id: id.to_hex(),
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
