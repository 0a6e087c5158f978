//! The one error type of the library.
//!
//! Variants exist where a caller (usually the CLI) branches on the case or renders it with its
//! own hint; everything else is an I/O error that keeps the path it concerned.

use std::path::{Path, PathBuf};

use crate::id::{Hash, VersionId};

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in dv, with the fields a caller needs to explain it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not inside a dv workspace (searched from {} upwards)", start.display())]
    NotAWorkspace { start: PathBuf },

    #[error("A dv workspace already exists at {}", path.display())]
    WorkspaceExists { path: PathBuf },

    #[error(
        "This workspace uses format {found}, but this dv only understands format {supported} or older"
    )]
    FormatTooNew { found: u32, supported: u32 },

    #[error("Cannot access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{} is a {found}, not a regular file", path.display())]
    NotARegularFile { path: PathBuf, found: &'static str },

    #[error("{} is larger than {max} bytes, more than dv reads from such a file", path.display())]
    FileTooLarge { path: PathBuf, max: u64 },

    #[error("Path {} does not exist", path.display())]
    PathNotFound { path: PathBuf },

    #[error("Path {} is outside the workspace at {}", path.display(), workspace.display())]
    PathOutsideWorkspace { path: PathBuf, workspace: PathBuf },

    #[error("Path {} is a {found}, expected a directory", path.display())]
    NotADirectory { path: PathBuf, found: &'static str },

    #[error("Cannot snapshot {}: it is a {kind}, and only files, directories and symlinks can be stored", path.display())]
    UnsupportedFileType { path: PathBuf, kind: &'static str },

    #[error("Cannot snapshot {}: it is nested deeper than {max} directories", path.display())]
    TooDeep { path: PathBuf, max: usize },

    #[error("Unknown stage \"{stage}\"")]
    UnknownStage { stage: String, valid: Vec<String> },

    #[error("Invalid {what} name \"{name}\": {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },

    #[error("The message is {bytes} bytes; a version message is at most {max} bytes")]
    MessageTooLong { bytes: usize, max: usize },

    #[error("Invalid --param \"{arg}\": expected KEY=VALUE")]
    InvalidParam { arg: String },

    #[error("Invalid JSON in params file {} at line {line}, column {column}: {message}", path.display())]
    ParamsFileSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("Params file {} holds the integer {number}, which does not fit in 64 bits and would be stored inexactly", path.display())]
    InexactParam { path: PathBuf, number: String },

    #[error("Params file {} must hold a JSON object, found {found}", path.display())]
    ParamsFileNotObject { path: PathBuf, found: &'static str },

    #[error("Revision \"{rev}\" doesn't exist")]
    UnknownRevision {
        rev: String,
        datasets: Vec<String>,
        tags: Vec<String>,
    },

    #[error("Revision \"{rev}\" is ambiguous")]
    AmbiguousRevision {
        rev: String,
        candidates: Vec<String>,
    },

    #[error(
        "Revision \"{rev}\" goes back further than its history: {base} has no input {steps} steps back"
    )]
    NoSuchAncestor {
        rev: String,
        base: String,
        steps: usize,
    },

    #[error("Invalid revision \"{rev}\": {reason}")]
    InvalidRevision { rev: String, reason: String },

    #[error("Dataset \"{dataset}\" has no version at stage \"{stage}\"")]
    EmptyStage { dataset: String, stage: String },

    #[error("{kind} object {id} is missing from the store")]
    MissingObject { kind: &'static str, id: Hash },

    #[error("{kind} object {id} is corrupt: {reason}")]
    CorruptObject {
        kind: &'static str,
        id: Hash,
        reason: String,
    },

    #[error("Object store format {found} is newer than this dv understands ({supported})")]
    ObjectFormatTooNew { found: u8, supported: u8 },

    #[error("Directory {} is not empty", path.display())]
    TargetNotEmpty { path: PathBuf },

    #[error(
        "Version {id} declares {files_needed} files and {bytes_needed} bytes, but the filesystem of {} has room for {files_free} files and {bytes_free} bytes",
        path.display()
    )]
    NoRoom {
        id: VersionId,
        path: PathBuf,
        files_needed: u64,
        bytes_needed: u64,
        files_free: u64,
        bytes_free: u64,
    },

    #[error("File {} already exists", path.display())]
    FileExists { path: PathBuf },

    #[error("{} has changes that are not committed ({} path{})", path.display(), changes.len(), if changes.len() == 1 { "" } else { "s" })]
    UncommittedChanges { path: PathBuf, changes: Vec<String> },

    #[error("No directory to check out {id} into")]
    NoCheckoutTarget { id: VersionId },

    #[error("Tag \"{name}\" already exists and points to {current}")]
    TagExists { name: String, current: VersionId },

    #[error("Tag file {} is damaged: it does not hold a version id", path.display())]
    DamagedTag { path: PathBuf },

    #[error("Tag \"{name}\" doesn't exist")]
    TagNotFound { name: String },

    #[error("Nothing tracked at {}", path.display())]
    NotTracked { path: PathBuf },

    #[error("The workspace is busy: another dv process{} holds {}", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default(), lock.display())]
    Busy {
        lock: PathBuf,
        holder: Option<String>,
    },

    #[error("Ignore file {}: {message}", path.display())]
    BadIgnoreFile { path: PathBuf, message: String },

    #[error("Invalid workspace config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    #[error("Invalid {name}=\"{value}\": expected {expected}")]
    InvalidEnvironment {
        name: &'static str,
        value: String,
        expected: String,
    },

    #[error("Invalid lock file {}: {message}", path.display())]
    BadLockFile { path: PathBuf, message: String },

    #[error("Lock file {} pins \"{name}\" to {path:?}, which is not allowed: {reason}", lock.display())]
    UnsafePinPath {
        lock: PathBuf,
        name: String,
        path: String,
        reason: String,
    },

    #[error("Lock file {} has no pin named \"{name}\"", lock.display())]
    PinNotFound {
        name: String,
        lock: PathBuf,
        known: Vec<String>,
    },

    #[error("Lock file {} pins \"{name}\" to version {id}, which is not in this workspace", lock.display())]
    PinnedVersionMissing {
        lock: PathBuf,
        name: String,
        id: VersionId,
    },

    #[error("Invalid dv URI \"{uri}\": {reason}")]
    InvalidUri { uri: String, reason: String },

    #[error("{}: {message}", path.display())]
    BadRules { path: PathBuf, message: String },

    #[error("{dataset}@{stage} fails {} stage rule{} in dv.toml", failures.len(), if failures.len() == 1 { "" } else { "s" })]
    RulesFailed {
        dataset: String,
        stage: String,
        failures: Vec<crate::object::RuleFailure>,
    },

    #[error("{path} ({side} version) is not valid{}: {message}", at_line(*line))]
    MalformedTable {
        path: String,
        side: String,
        line: u64,
        message: String,
    },

    #[error("Key column \"{column}\" is not in both versions of {path}")]
    UnknownKeyColumn {
        path: String,
        column: String,
        columns: Vec<String>,
    },

    #[error("{message}")]
    InvalidLifecycle { message: String },

    #[error("Version {id} is still needed, so it was not forgotten")]
    ForgetRefused {
        id: VersionId,
        dependents: Vec<String>,
    },

    #[error(
        "Invalid duration \"{text}\": expected a number and a unit (s, m, h, d, w), such as 0s, 2h or 14d"
    )]
    InvalidDuration { text: String },

    #[error(
        "A dv gc that ran during this commit removed {missing} objects the new version needs; nothing was committed"
    )]
    RemovedDuringCommit { missing: usize },

    #[error("The command {program:?} was not found{}", if *recorded { " (it is what the version recorded)" } else { "" })]
    CommandNotFound { program: String, recorded: bool },

    #[error("The command exited with status {status}: nothing was committed (run {run})")]
    RunFailed { status: i32, run: String },

    #[error("The command changed its inputs, so nothing was committed (run {run})")]
    InputsModified { files: Vec<String>, run: String },

    #[error(
        "The command changed its own code while it ran, so what ran is not what is there now; nothing was committed (run {run})"
    )]
    CodeChanged { files: Vec<String>, run: String },

    #[error(
        "The command wrote to the workspace outside --out, so its output alone would not reproduce what it did; nothing was committed (run {run})"
    )]
    WroteElsewhere { files: Vec<String>, run: String },

    #[error("--out {} holds files dv has not stored; the command must start from an empty output", path.display())]
    OutputNotEmpty { path: PathBuf },

    #[error("Posting lineage to {url} failed: {message}")]
    Export { url: String, message: String },

    #[error("There are no versions yet")]
    NoVersions,

    #[error("Cannot run: {message}")]
    RunSetup { message: String },

    #[error("Version {id} was not made by `dv run`: it records no command to run again")]
    NoRunRecord {
        id: VersionId,
        dataset: String,
        stage: String,
    },

    #[error("Version {id} is retired ({at}: {reason}): its data may already be gone")]
    Retired {
        id: VersionId,
        reason: String,
        at: String,
    },

    #[error("Version {id} is pinned by {}", pins.join(", "))]
    PinnedVersion { id: VersionId, pins: Vec<String> },

    #[error("There is no path {path} in version {version}")]
    PathNotInVersion { path: String, version: VersionId },

    #[error("Invalid remote URL \"{url}\": {reason}")]
    InvalidRemoteUrl { url: String, reason: String },

    #[error("A remote named \"{name}\" already exists")]
    RemoteExists { name: String },

    #[error("No remote is configured")]
    NoRemote,

    #[error("Unknown remote \"{name}\"")]
    UnknownRemote { name: String, known: Vec<String> },

    /// A remote failed, or sent something that is not what dv stored there.
    /// A remote failed; `source` is the transport's own error when there is one, whose causes
    /// (a refused connection under "error sending request") the CLI shows as "caused by".
    #[error("Remote {remote}: {message}")]
    Remote {
        remote: String,
        message: String,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A file the remote listed is gone: a pruning gc rewrote or removed it meanwhile.
    #[error("Remote {remote}: {key} is gone (a gc on the remote removed or rewrote it meanwhile)")]
    RemoteGone { remote: String, key: String },

    /// Another dv holds a lock on the remote that this command cannot run beside.
    #[error("Remote {remote}: {message}")]
    RemoteBusy { remote: String, message: String },

    #[error("{what} is not in this workspace ({missing} {} missing)", if *missing == 1 { "object" } else { "objects" })]
    NotLocal {
        what: String,
        missing: usize,
        /// Why it was not fetched: `--offline`, or no remote configured.
        reason: String,
    },

    /// The SQLite index failed; `doing` says at what, and the source is kept for the chain.
    #[error("The index failed while {doing}: {source}")]
    Index {
        doing: &'static str,
        source: rusqlite::Error,
    },
}

impl Error {
    /// Why an object is unusable, in words that follow its name ("corrupt blob X: ...").
    pub fn object_reason(&self) -> String {
        match self {
            Error::CorruptObject { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// Whether another process holds the workspace (the lock, or SQLite's own): retrying
    /// later will work, so the CLI exits with 75.
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Busy { .. } | Error::RemoteBusy { .. } => true,
            Error::Index { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }

    /// Wraps an I/O error with the path it concerned.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Attaches a path to I/O results: `fs::read(p).with_path(p)?`.
pub trait IoResultExt<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoResultExt<T> for std::io::Result<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|source| Error::io(path.as_ref(), source))
    }
}

/// " at line N" for a known line, nothing for formats without lines (Parquet).
fn at_line(line: u64) -> String {
    if line > 0 {
        format!(" at line {line}")
    } else {
        String::new()
    }
}
