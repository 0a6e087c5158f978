//! Integrity check: re-hash every object, and check that every version's trees, files, code
//! files and tags point at objects that exist and are intact. Each problem names the object
//! and every version and path it affects, so a user knows what data is at risk.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fs_util::display_path;
use crate::id::{Hash, TreeId, VersionId};
use crate::object::walk::{Fold, Opened, fold_trees};
use crate::object::{EntryKind, Tree, Version};
use crate::progress::Progress;
use crate::store::{Kind, Store};
use crate::workspace::Workspace;

/// What is wrong with one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Its bytes do not match its id, or it cannot be decoded.
    Corrupt,
    /// Something refers to it, but it is not in the store.
    Missing,
    /// Not in the store, but every version needing it is on the default remote, which holds
    /// all of each version it lists: fetched when needed, not a problem.
    NotLocal,
    /// Not in the store because every version needing it is retired and gc removed it.
    Collected,
}

/// A version and the path inside it that a damaged object holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Affected {
    pub version: VersionId,
    pub dataset: String,
    pub stage: String,
    /// `/`-separated path inside the version; empty for the version's root tree or the version
    /// object itself; `code:PATH` for a code file, `profile` for its profile.
    pub path: String,
}

/// One damaged or missing object.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub problem: Problem,
    pub kind: &'static str,
    pub id: String,
    pub reason: String,
    pub affects: Vec<Affected>,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FsckReport {
    pub objects: u64,
    pub bytes: u64,
    pub versions: u64,
    pub findings: Vec<Finding>,
    /// Tags naming versions that do not exist.
    pub dangling_tags: Vec<String>,
    /// Tag files that do not hold a version id.
    pub damaged_tags: Vec<String>,
    /// Pack files that cannot be read at all; their objects are reported as missing.
    pub broken_packs: Vec<BrokenPack>,
    /// The default remote asked about missing objects (found there: `not_local`), if one was.
    #[serde(skip)]
    pub remote: Option<String>,
}

/// A pack file that cannot be indexed, with its workspace-relative path.
#[derive(Clone, Debug, Serialize)]
pub struct BrokenPack {
    pub pack: String,
    pub reason: String,
}

impl FsckReport {
    pub fn ok(&self) -> bool {
        self.problems() == 0
    }

    /// Findings that are problems (objects only on the remote, or collected with their
    /// retired versions, are not).
    pub fn damage(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| !matches!(f.problem, Problem::NotLocal | Problem::Collected))
    }

    /// Reclassifies missing objects as `to` when every version needing them is in `versions`:
    /// on the default remote (not local) or retired (collected by gc).
    pub fn reclassify_missing(&mut self, versions: &HashSet<VersionId>, to: Problem) {
        for finding in &mut self.findings {
            if finding.problem == Problem::Missing
                && !finding.affects.is_empty()
                && finding
                    .affects
                    .iter()
                    .all(|a| versions.contains(&a.version))
            {
                finding.problem = to;
            }
        }
    }

    /// How many separate problems the report lists.
    pub fn problems(&self) -> usize {
        self.damage().count()
            + self.dangling_tags.len()
            + self.damaged_tags.len()
            + self.broken_packs.len()
    }
}

/// [`fsck`], then: objects a clone has not fetched yet are on the default remote, which holds
/// all of every version it lists, so missing objects every version needing them is listed
/// there are `not_local`, not damage. The remote is asked only when something is missing, and
/// never with [`Fetch::Offline`](crate::available::Fetch::Offline).
pub fn check(
    ws: &Workspace,
    fetch: crate::available::Fetch,
    progress: &dyn Progress,
) -> Result<FsckReport> {
    let mut report = fsck(ws, progress)?;
    let missing = report
        .findings
        .iter()
        .any(|f| f.problem == Problem::Missing);
    if missing
        && fetch == crate::available::Fetch::OnDemand
        && let Some((name, versions)) = crate::remote::default_remote_versions(ws)?
    {
        report.reclassify_missing(&versions, Problem::NotLocal);
        report.remote = Some(name);
    }
    Ok(report)
}

/// Checks every object and reference in the workspace.
pub fn fsck(ws: &Workspace, progress: &dyn Progress) -> Result<FsckReport> {
    let store = &ws.store;
    let mut report = FsckReport::default();
    for broken in store.broken_packs()? {
        let path = broken.path.strip_prefix(ws.root()).unwrap_or(&broken.path);
        report.broken_packs.push(BrokenPack {
            pack: path.display().to_string(),
            reason: broken.reason,
        });
    }
    // 1. Re-hash every object (decoding trees and versions), keeping the versions.
    let mut bad: HashMap<(Kind, Hash), String> = HashMap::new();
    let mut needs: HashMap<(Kind, Hash), Vec<(Kind, Hash)>> = HashMap::new();
    let mut versions: Vec<(VersionId, Version)> = Vec::new();
    let mut blob_sizes: HashMap<Hash, u64> = HashMap::new();
    for kind in Kind::ALL {
        let ids = store.list(kind)?;
        progress.begin("Checking", ids.len() as u64, crate::progress::Unit::Objects);
        let results: Vec<ObjectCheck> = ids
            .par_iter()
            .map(|id| {
                let outcome = check_object(store, kind, id);
                // What the object is rebuilt from, to name the damaged base or chunk under a
                // damaged file; an object too broken to say is its own cause.
                let needs = store.dependencies(kind, id).unwrap_or_default();
                progress.advance(1);
                (*id, outcome, needs)
            })
            .collect();
        progress.finish();
        for (id, outcome, dependencies) in results {
            report.objects += 1;
            match outcome {
                Ok(checked) => {
                    report.bytes += checked.bytes;
                    if kind == Kind::Blob {
                        blob_sizes.insert(id, checked.bytes);
                    }
                    if let Some(version) = checked.version {
                        versions.push((VersionId(id), *version));
                    }
                }
                Err(reason) => {
                    bad.insert((kind, id), reason);
                }
            }
            if !dependencies.is_empty() {
                needs.insert((kind, id), dependencies);
            }
        }
    }
    // 2. Follow every version's references.
    let mut findings: BTreeMap<(Kind, Hash), (Problem, String, Vec<Affected>)> = BTreeMap::new();
    for ((kind, id), reason) in &bad {
        findings.insert((*kind, *id), (Problem::Corrupt, reason.clone(), Vec::new()));
    }
    let mut memo = HashMap::new();
    let mut walker = Walker {
        store,
        bad: &bad,
        needs: &needs,
        inconsistent: BTreeMap::new(),
        blob_sizes: &blob_sizes,
    };
    report.versions = versions.len() as u64;
    for (id, version) in versions {
        let affected = |path: String| Affected {
            version: id,
            dataset: version.dataset.clone(),
            stage: version.stage.clone(),
            path,
        };
        // The data, then the profile's tables (named `profile:` and the table's path).
        let trees = std::iter::once((version.tree, ""))
            .chain(version.profile_tables.map(|tree| (tree, "profile:")));
        for (tree, label) in trees {
            let below = fold_trees(&tree, &mut memo, &mut walker)?;
            for (kind, object, problem, path) in below.found {
                let entry = findings
                    .entry((kind, object))
                    .or_insert_with(|| (problem, reason_for(problem), Vec::new()));
                entry
                    .2
                    .push(affected(format!("{label}{}", display_path(&path))));
            }
        }
        let beside = version
            .code
            .iter()
            .map(|code| (format!("code:{}", code.path), code.blob))
            .chain(
                version
                    .run_files()
                    .into_iter()
                    .map(|(name, file)| (format!("run:{name}"), file.blob)),
            )
            .chain(
                version
                    .profile
                    .iter()
                    .map(|file| ("profile".to_string(), file.blob)),
            );
        for (label, blob) in beside {
            for (kind, object, problem) in walker.problems(Kind::Blob, &blob.0) {
                let entry = findings
                    .entry((kind, object))
                    .or_insert_with(|| (problem, reason_for(problem), Vec::new()));
                entry.2.push(affected(label.clone()));
            }
        }
    }
    for (id, reason) in std::mem::take(&mut walker.inconsistent) {
        if let Some(finding) = findings.get_mut(&(Kind::Tree, id.0)) {
            finding.1 = reason;
        }
    }
    let (tags, damaged) = crate::refs::read_tag_files_lenient(&ws.tags_dir())?;
    for (name, id) in tags {
        if !store.has(Kind::Version, &id.0) {
            report.dangling_tags.push(format!("{name} -> {id}"));
        }
    }
    report.damaged_tags = damaged.iter().map(|p| p.display().to_string()).collect();
    // Data of retired versions may have been collected: missing is expected there.
    let retired: HashSet<VersionId> = crate::lifecycle::states(ws)?
        .into_iter()
        .filter(|(_, status)| status.state == crate::lifecycle::State::Retired)
        .map(|(id, _)| id)
        .collect();
    report.findings = findings
        .into_iter()
        .map(|((kind, id), (problem, reason, mut affects))| {
            affects.sort();
            affects.dedup();
            Finding {
                problem,
                kind: kind.name(),
                id: id.to_hex(),
                reason,
                affects,
            }
        })
        .collect();
    report.reclassify_missing(&retired, Problem::Collected);
    Ok(report)
}

fn reason_for(problem: Problem) -> String {
    match problem {
        Problem::Missing => "it is not in the store".to_string(),
        Problem::Corrupt => "it cannot be read".to_string(),
        Problem::NotLocal => "it is on the remote".to_string(),
        Problem::Collected => "its versions are retired and gc removed it".to_string(),
    }
}

/// One object's id, what re-reading it found, and the objects it is rebuilt from.
type ObjectCheck = (
    Hash,
    std::result::Result<Checked, String>,
    Vec<(Kind, Hash)>,
);

/// What re-reading one object found.
struct Checked {
    bytes: u64,
    version: Option<Box<Version>>,
}

/// Reads an object through the verifying reader (blobs streamed, trees and versions also
/// decoded); returns its size, the decoded version, or why it is bad.
fn check_object(store: &Store, kind: Kind, id: &Hash) -> std::result::Result<Checked, String> {
    if matches!(kind, Kind::Blob | Kind::Chunk) {
        let mut reader = store.read(kind, id).map_err(|e| reason_of(&e))?;
        let bytes = std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| e.to_string())?;
        return Ok(Checked {
            bytes,
            version: None,
        });
    }
    let bytes = store.get_bytes(kind, id).map_err(|e| reason_of(&e))?;
    let version = match kind {
        Kind::Tree => {
            Tree::decode(&bytes, &TreeId(*id)).map_err(|e| reason_of(&e))?;
            None
        }
        _ => Some(Box::new(
            Version::decode(&bytes, &VersionId(*id)).map_err(|e| reason_of(&e))?,
        )),
    };
    Ok(Checked {
        bytes: bytes.len() as u64,
        version,
    })
}

fn reason_of(err: &Error) -> String {
    err.object_reason()
}

/// A damaged object found below a tree, and its path relative to that tree.
type Found = (Kind, Hash, Problem, Vec<u8>);

/// The most damaged paths remembered below one tree. Subtrees shared by many directories (or
/// a crafted fan-out) would otherwise multiply the paths of one damaged object without bound;
/// every damaged object is still named, with at least its first path.
const MAX_PATHS_PER_TREE: usize = 1000;

/// Folds trees once each into the problems found below them (see [`Fold`]).
struct Walker<'a> {
    store: &'a Store,
    bad: &'a HashMap<(Kind, Hash), String>,
    /// The bases and chunks each delta or chunked object is rebuilt from.
    needs: &'a HashMap<(Kind, Hash), Vec<(Kind, Hash)>>,
    /// Trees that decode but are wrong as part of a version (their totals lie, or they nest
    /// deeper than any walk goes), with the reason.
    inconsistent: BTreeMap<TreeId, String>,
    /// Each readable blob's size.
    blob_sizes: &'a HashMap<Hash, u64>,
}

impl Walker<'_> {
    fn problem(&self, kind: Kind, id: &Hash) -> Option<Problem> {
        if self.bad.contains_key(&(kind, *id)) {
            Some(Problem::Corrupt)
        } else if !self.store.has(kind, id) {
            Some(Problem::Missing)
        } else {
            None
        }
    }

    /// What is wrong with an object a version needs: the object itself and, when it is
    /// rebuilt from others, the damaged or missing base or chunk that broke it.
    fn problems(&self, kind: Kind, id: &Hash) -> Vec<(Kind, Hash, Problem)> {
        let Some(problem) = self.problem(kind, id) else {
            return Vec::new();
        };
        let mut found = vec![(kind, *id, problem)];
        let mut causes = Vec::new();
        self.causes(kind, id, 0, &mut causes);
        for cause in causes {
            if !found.contains(&cause) {
                found.push(cause);
            }
        }
        found
    }

    /// The broken objects at the bottom of a damaged object's bases and chunks.
    fn causes(&self, kind: Kind, id: &Hash, depth: u8, out: &mut Vec<(Kind, Hash, Problem)>) {
        let broken: Vec<(Kind, Hash, Problem)> = self
            .needs
            .get(&(kind, *id))
            .into_iter()
            .flatten()
            .filter_map(|(k, d)| self.problem(*k, d).map(|p| (*k, *d, p)))
            .collect();
        if broken.is_empty() || depth > crate::store::delta::MAX_DEPTH {
            return;
        }
        for (k, d, p) in broken {
            let before = out.len();
            self.causes(k, &d, depth + 1, out);
            if out.len() == before && !out.contains(&(k, d, p)) {
                out.push((k, d, p));
            }
        }
    }
}

/// A tree's problems (paths relative to it; empty for the tree itself) and the totals it
/// declares (`None` when it cannot be read), for its parent to check against.
#[derive(Clone, Default)]
struct Below {
    found: Vec<Found>,
    totals: Option<(u64, u64)>,
}

impl Fold for Walker<'_> {
    type Value = Below;

    fn open(&mut self, id: &TreeId, too_deep: bool) -> Result<Opened<Below>> {
        let found: Vec<Found> = self
            .problems(Kind::Tree, &id.0)
            .into_iter()
            .map(|(kind, object, problem)| (kind, object, problem, Vec::new()))
            .collect();
        if !found.is_empty() {
            // Nothing below a tree that cannot be read can be checked.
            return Ok(Opened::Value(Below {
                found,
                totals: None,
            }));
        }
        if too_deep {
            let reason = match crate::object::tree::too_deep(id) {
                Error::CorruptObject { reason, .. } => reason,
                other => other.to_string(),
            };
            self.inconsistent.insert(*id, reason);
            return Ok(Opened::Value(Below {
                found: vec![(Kind::Tree, id.0, Problem::Corrupt, Vec::new())],
                totals: None,
            }));
        }
        Ok(match self.store.get_bytes(Kind::Tree, &id.0) {
            Ok(bytes) => match Tree::decode(&bytes, id) {
                Ok(tree) => Opened::Tree(tree),
                Err(_) => Opened::Value(Below::default()),
            },
            Err(_) => Opened::Value(Below::default()),
        })
    }

    fn fold(&mut self, id: &TreeId, tree: &Tree, children: &[Below]) -> Below {
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        let mut objects = HashSet::new();
        let mut files = 0u64;
        let mut mismatch = None;
        let mut children = children.iter();
        for entry in &tree.entries {
            // A file entry must declare its blob's real size (a checkout sizes files by it;
            // the disk-space check trusts it).
            if matches!(entry.kind, EntryKind::File | EntryKind::Executable)
                && let Some(&real) = self.blob_sizes.get(&entry.id)
                && real != entry.size
            {
                mismatch.get_or_insert(format!(
                    "its entry {:?} declares {} bytes but that file holds {real}",
                    String::from_utf8_lossy(&entry.name),
                    entry.size
                ));
            }
            let below: Vec<Found> = if entry.kind == EntryKind::Tree {
                let child = children.next().expect("one value per directory entry");
                if let Some((child_files, child_bytes)) = child.totals {
                    files = files.saturating_add(child_files);
                    if child_bytes != entry.size {
                        mismatch.get_or_insert(format!(
                            "its entry {:?} declares {} bytes but that tree holds {child_bytes}",
                            String::from_utf8_lossy(&entry.name),
                            entry.size
                        ));
                    }
                }
                child.found.clone()
            } else {
                files = files.saturating_add(1);
                self.problems(Kind::Blob, &entry.id)
                    .into_iter()
                    .map(|(kind, object, problem)| (kind, object, problem, Vec::new()))
                    .collect()
            };
            for (kind, object, problem, path) in below {
                let mut full = entry.name.clone();
                if !path.is_empty() {
                    full.push(b'/');
                    full.extend_from_slice(&path);
                }
                // Past the bound, only objects not named yet get a path.
                let new_object = objects.insert((kind, object));
                if found.len() >= MAX_PATHS_PER_TREE && !new_object {
                    continue;
                }
                if seen.insert((kind, object, full.clone())) {
                    found.push((kind, object, problem, full));
                }
            }
        }
        if files != tree.files {
            mismatch.get_or_insert(format!(
                "it declares {} files but its entries hold {files}",
                tree.files
            ));
        }
        if let Some(reason) = mismatch {
            self.inconsistent.insert(*id, reason);
            found.push((Kind::Tree, id.0, Problem::Corrupt, Vec::new()));
        }
        Below {
            found,
            totals: Some((tree.files, tree.bytes)),
        }
    }
}
