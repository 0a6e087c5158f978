//! Versions: an immutable snapshot (a root tree) plus the provenance that produced it.
//!
//! The canonical encoding is dv's own written rule (docs/format.md, "Canonical JSON"): compact
//! JSON, the fields in the order declared below, object keys at every depth of `params` sorted by
//! their UTF-8 bytes, integers in decimal, other numbers as the shortest decimal that reads back
//! to the same double (always with a `.` or an exponent), strings as UTF-8 with only `"`, `\`
//! and control characters escaped. The version id is the blake3 hash of exactly those bytes.
//! Key order is enforced here rather than left to serde_json's map type (a dependency enabling
//! its `preserve_order` feature would otherwise change every id).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::{BlobId, Hash, TreeId, VersionId};
use crate::store::Kind;

/// The version encoding this dv writes and the newest it reads: 4 for a version whose profile
/// is stored table by table, 3 for one carrying a whole-file profile (written before 4 existed)
/// or the stage rules it failed, 2 for one made by `dv run` without either, 1 for every other.
/// Each older kind keeps its encoding, so ids made by an older dv never change.
pub const VERSION_FORMAT: u32 = 4;
/// The encoding of a version with rule results or a whole-file profile, and no profile tables.
pub const VERSION_FORMAT_PROFILE: u32 = 3;
/// Longest version message kept (a person writes far less; a remote cannot send megabytes).
pub const MAX_MESSAGE: usize = 64 << 10;
/// The encoding of a version with a run record but no profile or rule results.
pub const VERSION_FORMAT_RUN: u32 = 2;
/// The encoding of a version without a run record, profile or rule results.
pub const VERSION_FORMAT_PLAIN: u32 = 1;

/// One version and its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub format: u32,
    pub dataset: String,
    pub stage: String,
    pub tree: TreeId,
    /// Where the data was committed from, relative to the workspace root, `/`-separated.
    pub path: String,
    /// Whether the snapshot was of one file (the tree then holds just that file) rather than a
    /// directory; checkout in place writes it back next to its siblings.
    pub single_file: bool,
    /// Versions this one was made from; the first is the one `REV~N` follows.
    pub inputs: Vec<VersionId>,
    pub transform: Option<String>,
    /// Content hashes of the transform's code files.
    pub code: Vec<CodeFile>,
    #[serde(serialize_with = "canonical_params")]
    pub params: Map<String, Value>,
    /// The git commit the transform's code was at, when it lives in a git repository.
    pub code_revision: Option<CodeRevision>,
    pub message: Option<String>,
    pub author: String,
    pub host: String,
    pub dv_version: String,
    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-22T07:08:34.000000Z`.
    pub created_at: String,
    pub files: u64,
    pub bytes: u64,
    /// How `dv run` made it: the command, its environment and its logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
    /// What the data looks like (see `profile::Profile`), stored as a JSON file: the whole
    /// profile (format 3), or its summary when `profile_tables` names the tables' profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<StoredFile>,
    /// The profile of each table, one JSON file per table at the table's own path (format 4):
    /// versions share a table's profile the way they share its content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_tables: Option<TreeId>,
    /// The stage rules the version failed when it was committed with `--allow-failing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<RuleFailure>,
}

/// One stage rule a version fails, and what it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFailure {
    /// The rule's key in `dv.toml`, e.g. `no_nulls`.
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub message: String,
}

/// A transform code file recorded at commit time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFile {
    /// Path relative to [`CodeFile::base`]. (Versions written before bases existed may hold
    /// an absolute path for code outside the workspace.)
    pub path: String,
    pub blob: BlobId,
    pub size: u64,
    #[serde(default, skip_serializing_if = "CodeBase::is_workspace")]
    pub base: CodeBase,
}

/// What a code file's path is relative to: never a machine's absolute path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeBase {
    /// The workspace root.
    #[default]
    Workspace,
    /// The root of the git repository holding the file (outside the workspace).
    Repository,
    /// Neither: only the file name is kept.
    Elsewhere,
}

impl CodeBase {
    fn is_workspace(&self) -> bool {
        *self == CodeBase::Workspace
    }
}

/// How `dv run` produced a version: enough to run it again and to say what differed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The exact command line (no shell).
    pub argv: Vec<String>,
    /// The directory it ran in, relative to the workspace root (`""` for the root).
    pub workdir: String,
    /// Where each input was placed for the command, in the order of `Version::inputs`.
    pub inputs: Vec<RunInput>,
    /// Where the workspace root lies in the code's git repository (`""` at its root), when
    /// code files are recorded relative to the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_in_repository: Option<String>,
    pub exit_status: i32,
    /// RFC 3339 in UTC with microseconds.
    pub started_at: String,
    pub ended_at: String,
    pub duration_ms: u64,
    /// Operating system and architecture, e.g. `linux-x86_64`.
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<Interpreter>,
    /// Variables the user asked to record (`--record-env`), with their values.
    pub env: std::collections::BTreeMap<String, String>,
    pub stdout: StoredFile,
    pub stderr: StoredFile,
    /// Files of the workspace outside the output that the command wrote, when it was allowed
    /// to (`--allow-writes-elsewhere`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_elsewhere: Option<WrittenElsewhere>,
}

/// Where a run wrote outside its output: the first 100 paths (workspace-relative) and how many
/// there were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenElsewhere {
    pub paths: Vec<String>,
    pub total: u64,
}

/// One input of a run: the name the command saw it by, and where it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInput {
    pub name: String,
    pub id: VersionId,
    /// Relative to the workspace root.
    pub path: String,
}

/// The interpreter a command ran under (`python3 script.py`), when dv recognises it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    pub program: String,
    pub version: String,
    /// For Python: the installed distributions (`name==version` lines, sorted), stored as a
    /// file of the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<StoredFile>,
}

/// A file dv wrote and stored with the version: a run's log or package listing, a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub blob: BlobId,
    pub size: u64,
}

/// The state of the git repository holding the transform code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRevision {
    /// HEAD's commit id; absent when HEAD is unborn.
    pub commit: Option<String>,
    /// The checked-out branch; absent when HEAD is detached.
    pub branch: Option<String>,
    /// Whether tracked files were modified or untracked files existed.
    pub dirty: bool,
}

/// Serializes params with object keys sorted at every depth, whatever map type serde_json uses.
fn canonical_params<S: serde::Serializer>(
    params: &Map<String, Value>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    Sorted::Object(params).serialize(serializer)
}

/// A JSON value whose objects serialize with sorted keys.
enum Sorted<'a> {
    Object(&'a Map<String, Value>),
    Value(&'a Value),
}

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Sorted::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Sorted::Value(value))?;
                }
                out.end()
            }
            Sorted::Value(Value::Object(map)) => Sorted::Object(map).serialize(serializer),
            Sorted::Value(Value::Array(items)) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted::Value(item))?;
                }
                out.end()
            }
            Sorted::Value(other) => other.serialize(serializer),
        }
    }
}

impl Version {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a version always serializes")
    }

    /// Every file the version holds beside its trees: code files, a run's logs and package
    /// listing, the profile (its summary, with profile tables). What gc keeps, push sends and
    /// fsck checks with the trees.
    pub fn blobs(&self) -> impl Iterator<Item = BlobId> + '_ {
        let run = self.run_files().into_iter().map(|(_, file)| file.blob);
        let profile = self.profile.iter().map(|file| file.blob);
        self.code
            .iter()
            .map(|code| code.blob)
            .chain(run)
            .chain(profile)
    }

    /// Every object the version names: its data tree, the files beside it and its profile
    /// tables. Where a walk of what a version needs (gc's, push's, a commit's check) starts.
    pub fn objects(&self) -> impl Iterator<Item = (Kind, Hash)> + '_ {
        std::iter::once((Kind::Tree, self.tree.0))
            .chain(self.blobs().map(|blob| (Kind::Blob, blob.0)))
            .chain(self.profile_tables.map(|tree| (Kind::Tree, tree.0)))
    }

    /// The objects of its profile: metadata that stays with the record (a retired version's
    /// too) and comes with every kind of pull.
    pub fn profile_objects(&self) -> impl Iterator<Item = (Kind, Hash)> + '_ {
        let summary = self.profile.map(|file| (Kind::Blob, file.blob.0));
        summary
            .into_iter()
            .chain(self.profile_tables.map(|tree| (Kind::Tree, tree.0)))
    }

    /// The encoding a version with these fields is written in (see [`VERSION_FORMAT`]).
    pub fn format_for(&self) -> u32 {
        if self.profile_tables.is_some() {
            VERSION_FORMAT
        } else if self.profile.is_some() || !self.failed_rules.is_empty() {
            VERSION_FORMAT_PROFILE
        } else if self.run.is_some() {
            VERSION_FORMAT_RUN
        } else {
            VERSION_FORMAT_PLAIN
        }
    }

    /// The files a run record names: its logs and package listing, by name.
    pub fn run_files(&self) -> Vec<(&'static str, StoredFile)> {
        let Some(run) = &self.run else {
            return Vec::new();
        };
        let mut files = vec![("stdout", run.stdout), ("stderr", run.stderr)];
        if let Some(packages) = run.interpreter.as_ref().and_then(|i| i.packages) {
            files.push(("packages", packages));
        }
        files
    }

    /// The id of this version.
    pub fn id(&self) -> VersionId {
        VersionId(Hash::of(&self.encode()))
    }

    /// Parses a stored version, refusing formats newer than this dv knows.
    pub fn decode(bytes: &[u8], id: &VersionId) -> Result<Version> {
        let bad = |reason: String| Error::CorruptObject {
            kind: "version",
            id: id.0,
            reason,
        };
        // Bytes may come from an index row as well as the store: bounded either way.
        if bytes.len() as u64 > crate::store::MAX_VERSION_OBJECT {
            return Err(bad(format!(
                "it is {} bytes, more than a version record may be ({} bytes)",
                bytes.len(),
                crate::store::MAX_VERSION_OBJECT
            )));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("it is not valid JSON: {e}")))?;
        let format = value
            .get("format")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("it has no format number".into()))?;
        if format > u64::from(VERSION_FORMAT) {
            return Err(bad(format!(
                "it uses version format {format}, newer than this dv understands ({VERSION_FORMAT}); upgrade dv"
            )));
        }
        let version: Version = serde_json::from_value(value)
            .map_err(|e| bad(format!("its fields are invalid: {e}")))?;
        version.validate().map_err(bad)?;
        Ok(version)
    }

    /// Checks the fields a version from elsewhere could use against us: names follow the
    /// CLI's rules and the committed path stays inside the workspace.
    fn validate(&self) -> std::result::Result<(), String> {
        crate::names::check("dataset", &self.dataset).map_err(|e| e.to_string())?;
        if let Some(message) = &self.message
            && message.len() > MAX_MESSAGE
        {
            return Err(format!(
                "its message is {} bytes, more than the {MAX_MESSAGE} a person writes",
                message.len()
            ));
        }
        crate::names::check("stage", &self.stage).map_err(|e| e.to_string())?;
        if !self.path.is_empty() {
            crate::names::check_relative_path("its path", &self.path)?;
        }
        for code in &self.code {
            if code.base != CodeBase::Workspace {
                crate::names::check_relative_path("its code file", &code.path)?;
            }
        }
        if (self.profile.is_some() || !self.failed_rules.is_empty())
            && self.format < VERSION_FORMAT_PROFILE
        {
            return Err(format!(
                "it carries a profile or rule results but claims version format {}",
                self.format
            ));
        }
        if self.profile_tables.is_some() && (self.format < VERSION_FORMAT || self.profile.is_none())
        {
            return Err(format!(
                "it names profile tables {}but claims version format {}",
                if self.profile.is_none() {
                    "without a profile "
                } else {
                    ""
                },
                self.format
            ));
        }
        if let Some(run) = &self.run {
            // Rerun places files at these paths: each must stay inside its scratch directory.
            if self.format < VERSION_FORMAT_RUN {
                return Err("it carries a run record but claims version format 1".into());
            }
            let paths = std::iter::once(("its run's directory", &run.workdir))
                .chain(run.inputs.iter().map(|i| ("its run's input", &i.path)))
                .chain(
                    run.workspace_in_repository
                        .iter()
                        .map(|p| ("its workspace's place in the repository", p)),
                );
            for (what, path) in paths {
                if !path.is_empty() {
                    crate::names::check_relative_path(what, path)?;
                }
            }
            for code in &self.code {
                if code.base == CodeBase::Workspace {
                    crate::names::check_relative_path("its code file", &code.path)?;
                }
            }
            if run.argv.is_empty() {
                return Err("its run record has no command".into());
            }
            if run.inputs.len() != self.inputs.len()
                || run
                    .inputs
                    .iter()
                    .zip(&self.inputs)
                    .any(|(r, id)| r.id != *id)
            {
                return Err("its run's inputs are not its inputs".into());
            }
        }
        Ok(())
    }
}
