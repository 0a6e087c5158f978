//! `.dv/runs/`: a record of every `dv run`, so a failed pipeline step can be read later.
//!
//! Each run is `ID.json` (what ran, on what, how it ended); a failed run also keeps its
//! captured output as `ID.stdout` and `ID.stderr` (a committed run's logs are objects of its
//! version). These files are read back bounded and checked; a damaged one is reported, not
//! guessed at.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::{Hash, VersionId};
use crate::object::RunInput;
use crate::workspace::Workspace;

/// The largest run record read back.
const MAX_RECORD: u64 = 1 << 20;
/// How much of a failed run's log `dv runs` shows: its end, where errors are.
pub const LOG_TAIL: u64 = 64 << 10;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new version was committed.
    Committed,
    /// The output was identical to the stage's newest version, made the same way.
    Unchanged,
    /// The command failed (non-zero exit or a signal).
    Failed,
    /// The command changed its inputs.
    ModifiedInputs,
    /// The command changed its own code files while it ran.
    CodeChanged,
    /// The command wrote to the workspace outside its output.
    WroteElsewhere,
}

impl Outcome {
    /// Whether nothing was committed because the run failed or was refused.
    pub fn failed(self) -> bool {
        !matches!(self, Outcome::Committed | Outcome::Unchanged)
    }
}

/// One run, as `dv runs` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunEntry {
    pub id: String,
    pub outcome: Outcome,
    pub dataset: String,
    pub stage: String,
    pub argv: Vec<String>,
    pub workdir: String,
    pub params: Map<String, Value>,
    pub inputs: Vec<RunInput>,
    pub exit_status: i32,
    pub started_at: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionId>,
    /// For a run that changed its inputs: which files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modified_inputs: Vec<String>,
    /// For a run that changed its code files: which (workspace- or repository-relative).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_code: Vec<String>,
    /// For a run refused for writing outside its output: where (the first 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub written_elsewhere: Vec<String>,
}

fn runs_dir(ws: &Workspace) -> PathBuf {
    ws.dv_dir().join("runs")
}

/// A run's id: its start time (sortable) and a hash of what ran.
pub fn new_id(started_at: &str, argv: &[String]) -> String {
    let stamp: String = started_at
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(20)
        .collect();
    let hash = Hash::of(format!("{started_at}\n{argv:?}\n{}", std::process::id()).as_bytes());
    format!("{stamp}-{}", &hash.to_hex()[..8])
}

/// Records a run; for a failed one, keeps its captured logs beside it.
pub fn record(ws: &Workspace, entry: &RunEntry, logs: Option<(&Path, &Path)>) -> Result<()> {
    let dir = runs_dir(ws);
    crate::fs_util::create_dirs(&dir)?;
    if let Some((stdout, stderr)) = logs {
        for (from, ext) in [(stdout, "stdout"), (stderr, "stderr")] {
            let to = dir.join(format!("{}.{ext}", entry.id));
            crate::fs_util::copy_atomic(from, &to, "run")?;
        }
    }
    let json = serde_json::to_vec_pretty(entry).expect("a run record serializes");
    crate::fs_util::write_atomic(&dir.join(format!("{}.json", entry.id)), &json, "run")
}

/// Every recorded run, newest first.
pub fn list(ws: &Workspace) -> Result<Vec<RunEntry>> {
    let dir = runs_dir(ws);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(id) = name.strip_suffix(".json") else {
            continue;
        };
        let bytes = crate::fs_util::read_bounded(&path, MAX_RECORD)?.unwrap_or_default();
        let run: RunEntry = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
            path: path.clone(),
            message: format!("it is not a run record: {e}"),
        })?;
        if run.id != id {
            return Err(Error::Config {
                path,
                message: format!("it names run {:?}", run.id),
            });
        }
        runs.push(run);
    }
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(runs)
}

/// The end of a failed run's captured stream (`stdout` or `stderr`), at most [`LOG_TAIL`]
/// bytes; empty when none was kept.
pub fn log_tail(ws: &Workspace, id: &str, stream: &str) -> Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let path = runs_dir(ws).join(format!("{id}.{stream}"));
    let mut file = match crate::fs_util::open_regular(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)))
        .map_err(|e| Error::io(&path, e))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
