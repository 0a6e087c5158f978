//! How library errors reach the user: one mapping decides the wording, the hints and the exit
//! code, so every message a user can act on lives here.

use std::fmt::Write as _;
use std::io::IsTerminal;

use super::ui::visible;
use dv::Error;

/// Exit codes: 0 ok, 1 failure, 2 bad usage, 75 busy (retry later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Failure,
    Usage,
    Busy,
    /// stdout was closed by the reader (`dv log | head`): not an error.
    BrokenPipe,
}

/// An error ready to be shown: message, details, hints and exit code.
#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    pub details: Vec<String>,
    /// The library error's source chain, below what the message already says.
    pub causes: Vec<String>,
    pub hints: Vec<String>,
}

impl CliError {
    pub fn user(message: impl Into<String>) -> Self {
        CliError {
            kind: Kind::Failure,
            message: message.into(),
            details: Vec::new(),
            causes: Vec::new(),
            hints: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            kind: Kind::Usage,
            ..CliError::user(message)
        }
    }

    /// A failure that only sets the exit code: the output already said everything.
    pub fn exit_code_only() -> Self {
        CliError::user(String::new())
    }

    pub fn hinted(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Failure => 1,
            Kind::Usage => 2,
            Kind::Busy => 75,
            Kind::BrokenPipe => 0,
        }
    }

    /// Renders the error for stderr, in colour on a terminal.
    pub fn render(&self) -> String {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let paint = |code: &str, text: &str| {
            if colour {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let mut out = format!("{} {}\n", paint("1;31", "error:"), visible(&self.message));
        for detail in &self.details {
            let _ = writeln!(out, "  {}", visible(detail));
        }
        for cause in &self.causes {
            let _ = writeln!(out, "  caused by: {}", visible(cause));
        }
        for hint in &self.hints {
            let _ = writeln!(out, "{} {}", paint("1;36", "hint:"), visible(hint));
        }
        out
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            CliError {
                kind: Kind::BrokenPipe,
                ..CliError::user(String::new())
            }
        } else {
            CliError::user(format!("Cannot write output: {err}"))
        }
    }
}

const BUSY_HINT: &str =
    "Another dv command is writing to this workspace; retry when it has finished.";

fn list(items: &[String]) -> String {
    items.join(", ")
}

impl From<Error> for CliError {
    fn from(err: Error) -> Self {
        let causes = causes_of(&err);
        CliError {
            causes,
            ..CliError::from_library(err)
        }
    }
}

/// The causes below an error, each as its own text, skipping any that the text above it
/// already contains (most messages quote their immediate source).
fn causes_of(err: &Error) -> Vec<String> {
    let mut shown = err.to_string();
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(err);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !shown.contains(&text) {
            shown.push_str(&text);
            causes.push(text);
        }
        next = cause.source();
    }
    causes
}

impl CliError {
    /// The wording, hints and exit code of a library error.
    fn from_library(err: Error) -> Self {
        let message = err.to_string();
        let base = CliError::user(message);
        let busy = err.is_busy();
        match err {
            Error::NotAWorkspace { .. } => {
                base.hinted("Run `dv init` to make one here, or cd into an existing workspace.")
            }
            Error::FormatTooNew { .. } => base.hinted("Upgrade dv to work with this workspace."),
            Error::PathOutsideWorkspace { .. } => base.hinted(
                "Data must live inside the workspace: move it there, or run `dv init` in a directory that contains it.",
            ),
            Error::PathNotFound { .. } => base.hinted("Check the path for typos."),
            Error::UnsupportedFileType { .. } => base.hinted("Exclude it with a .dvignore file."),
            Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                base.hinted("Fix the permissions, or exclude the path with a .dvignore file.")
            }
            Error::UnknownStage { ref valid, .. } => base.hinted(format!("Valid stages are: {}.", list(valid))),
            Error::InvalidParam { .. } => base.hinted("Write parameters as KEY=VALUE, for example --param lr=0.001."),
            Error::UnknownRevision { ref rev, ref datasets, ref tags } => {
                let mut e = base;
                if rev.len() < dv::revision::MIN_PREFIX && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
                    e = e.hinted(format!("A version id prefix needs at least {} hex digits.", dv::revision::MIN_PREFIX));
                }
                if datasets.is_empty() && tags.is_empty() {
                    e.hinted("There are no versions yet; make one with `dv commit`.")
                } else {
                    if !datasets.is_empty() {
                        e = e.hinted(format!("Datasets: {}.", list(datasets)));
                    }
                    if !tags.is_empty() {
                        e = e.hinted(format!("Tags: {}.", list(tags)));
                    }
                    e
                }
            }
            Error::AmbiguousRevision { ref candidates, .. } => CliError { details: candidates.clone(), ..base }
                .hinted("Name it with the full id, a longer id prefix, or DATASET@STAGE."),
            Error::EmptyStage { ref dataset, .. } => {
                base.hinted(format!("See which stages it has with `dv log --dataset {dataset}`."))
            }
            Error::MissingObject { .. } | Error::CorruptObject { .. } => base.hinted(
                "The object store is damaged; restore .dv/objects from a backup or a remote copy.",
            ),
            Error::TargetNotEmpty { .. } => {
                base.hinted("Check out into an empty directory, or add --force to write over its contents.")
            }
            Error::NoRoom { .. } => base.hinted(
                "Nothing was written. Free space or inodes there, check out somewhere with room (--to DIR), or check the version with `dv fsck` if it should not be this large.",
            ),
            Error::UncommittedChanges { ref changes, .. } => {
                let mut details: Vec<String> = changes.iter().take(10).cloned().collect();
                if changes.len() > 10 {
                    details.push(format!("... and {} more", changes.len() - 10));
                }
                CliError { details, ..base }
                    .hinted("Commit them with `dv commit`, or add --force to discard them.")
            }
            Error::NotADirectory { .. } => base.hinted("Move it out of the way, or choose another directory."),
            Error::FileExists { .. } => base.hinted("Add --force to replace it, or choose another directory."),
            Error::TagExists { .. } => base.hinted("Add --force to move it, or pick another name."),
            Error::TagNotFound { .. } => base.hinted("List tags with `dv tag --list`."),
            Error::NotTracked { .. } => base.hinted(
                "Commit it with `dv commit PATH --dataset NAME --stage STAGE`, or check a version out there.",
            ),
            Error::PinNotFound { ref known, .. } if known.is_empty() => base.hinted("The lock file pins nothing yet; add pins with `dv pin REV`."),
            Error::PinNotFound { ref known, .. } => base.hinted(format!("Pinned names: {}.", list(known))),
            Error::PinnedVersionMissing { .. } => base.hinted("Fetch it from the remote the lock file's data came from, or pin a version this workspace has."),
            Error::UnsafePinPath { .. } => base.hinted("Pin paths must be relative directories inside the workspace; fix the entry with `dv pin REV --as NAME --path DIR`."),
            Error::BadLockFile { .. } => base.hinted("Nothing was written. Fix or regenerate the lock file with `dv pin`."),
            Error::InexactParam { .. } => base.hinted("Quote it to keep it exact as a string, for example \"12345678901234567890123\"."),
            Error::DamagedTag { ref path } => base.hinted(format!(
                "Restore the file from a backup, or delete {} to drop the tag.",
                path.display()
            )),
            Error::NotARegularFile { .. } | Error::FileTooLarge { .. } => {
                base.hinted("Nothing was read or written. Point dv at the real file.")
            }
            Error::NotLocal { ref reason, .. } => {
                let hint = if reason.starts_with("--offline") {
                    "Run it without --offline to fetch the missing data from the default remote."
                } else if reason.starts_with("no remote") {
                    "Add the remote it came from with `dv remote add NAME URL`."
                } else {
                    "Run the command where the workspace is writable, or `dv pull` first."
                };
                base.hinted(format!("{reason}. {hint}"))
            }
            Error::Retired { .. } => base.hinted("Use an active version (`dv log --active`), or `dv unretire REV` (it fetches the data from the default remote if it is still there)."),
            Error::PinnedVersion { .. } => base.hinted("Retiring it would break those lock files: pin another version there first, or add --force."),
            Error::ForgetRefused { ref dependents, .. } => CliError { details: dependents.clone(), ..base }
                .hinted("Retire it instead (its record stays), or add --force to forget it anyway."),
            Error::CommandNotFound { recorded: true, .. } => base.hinted("Install the program the version was made with (`dv show REV` shows the command and interpreter), then run it again."),
            Error::CommandNotFound { .. } => base.hinted("Check the command's spelling, or give the program's path (for example ./clean.sh)."),
            Error::RunFailed { .. } => base.hinted("Its output and error log are kept: `dv runs --failed` shows them."),
            Error::InputsModified { ref files, .. } => CliError { details: first_ten(files), ..base }.hinted(
                "A transform must write only into --out. Restore the inputs with `dv checkout REV --force`.",
            ),
            Error::CodeChanged { ref files, .. } => CliError { details: first_ten(files), ..base }.hinted(
                "Keep generated files out of the code the command runs, then run it again.",
            ),
            Error::WroteElsewhere { ref files, .. } => CliError { details: first_ten(files), ..base }.hinted(
                "Write only into --out (or list scratch paths in .dvignore), or add --allow-writes-elsewhere to commit anyway with the paths recorded.",
            ),
            Error::OutputNotEmpty { .. } => base.hinted("Commit or move what is there, or choose an empty or missing directory."),
            Error::NoRunRecord { ref dataset, ref stage, .. } => base.hinted(format!(
                "Make the next {dataset}@{stage} with `dv run -d {dataset} -s {stage} ... -- COMMAND` to record how it is made."
            )),
            Error::Export { .. } => base.hinted("Events already accepted stay accepted: posting again sends the same events (same run ids), so it is safe to retry."),
            Error::NoVersions => base.hinted("Make one with `dv commit` or `dv run`."),
            Error::RemovedDuringCommit { .. } => base.hinted("Run the commit again: it stores what is missing."),
            Error::NoRemote => base.hinted("Add one with `dv remote add NAME URL` (a directory or s3://bucket/prefix)."),
            Error::UnknownRemote { ref known, .. } if known.is_empty() => base.hinted("There are no remotes; add one with `dv remote add NAME URL`."),
            Error::UnknownRemote { ref known, .. } => base.hinted(format!("Remotes: {}.", list(known))),
            Error::RemoteExists { .. } => base.hinted("Pick another name, or `dv remote remove` the old one first."),
            Error::InvalidRemoteUrl { .. } => base.hinted("Examples: /mnt/shared/dv, file:///mnt/shared/dv, s3://bucket/team/project."),
            Error::RemoteGone { .. } => base.hinted("Run the command again: it lists the remote afresh, and what already arrived is kept."),
            Error::RemoteBusy { .. } => CliError { kind: Kind::Busy, ..base }.hinted(format!(
                "Run it again once that has finished. A lock left by a dv that died is ignored {} minutes after its last confirmation, or at once on the machine it ran on.",
                dv::remote::LOCK_STALE_MINUTES
            )),
            Error::Remote { .. } => base.hinted("Check the remote's address and credentials (`dv remote list`), then run the command again: what was already transferred and verified is kept."),
            Error::BadIgnoreFile { .. } => base.hinted("Nothing was written. Fix the .dvignore file (gitignore syntax; docs/reliability.md lists its bounds)."),
            Error::BadRules { .. } => base.hinted("Nothing was written. Fix dv.toml; docs/rules.md describes its format, `dv rules` shows the rules in force."),
            Error::RulesFailed { ref failures, .. } => CliError { details: dv::rules::report(failures), ..base }.hinted(
                "Fix the data, or change the rules in dv.toml. `--allow-failing` commits it anyway, recorded in the version as failing.",
            ),
            Error::PathNotInVersion { .. } => base.hinted("Paths are relative to the version's root; list them with `dv show REV --files`."),
            _ if busy => CliError { kind: Kind::Busy, ..base }.hinted(BUSY_HINT),
            _ => base,
        }
    }
}

/// The first ten of `items`, then how many more there are.
fn first_ten(items: &[String]) -> Vec<String> {
    let mut details: Vec<String> = items.iter().take(10).cloned().collect();
    if items.len() > 10 {
        details.push(format!("... and {} more", items.len() - 10));
    }
    details
}
