//! `dv verify [--lock FILE] [NAME...] [--fast]` / `dv verify REV DIR`

use std::path::{Path, PathBuf};

use serde::Serialize;

use dv::verify::{Verification, verify};

use super::error::CliError;
use super::status::ChangeLists;
use super::ui::{Ui, plural};
use super::{SHORT_ID, open_workspace_to_read, with_local_data};

/// Prove that directories hold exactly the pinned versions (exit 0), or list every difference (exit 1)
#[derive(clap::Args)]
pub struct Args {
    /// Pin names to verify (default: all), or REV DIR to verify one directory against a version
    args: Vec<String>,

    /// The lock file (default: dv.lock at the workspace root)
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,

    /// Trust the stat cache for files that have not changed since dv last hashed them
    #[arg(long)]
    fast: bool,

    /// Print the results as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ResultView {
    name: String,
    id: dv::VersionId,
    dir: PathBuf,
    ok: bool,
    files: u64,
    #[serde(flatten)]
    differences: ChangeLists,
    /// Differences past the first 10,000 listed.
    #[serde(skip_serializing_if = "is_zero")]
    unlisted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let mut ws = open_workspace_to_read()?;
    let lock = dv::pin::lock_path(&ws, args.lock.as_deref())?;
    let progress = ui.progress();
    // `dv verify A B` names two pins when both are pinned, else a revision and a directory.
    let lock_file = lock.exists().then(|| dv::pin::read_lock(&ws, &lock, false));
    let names_are_pins =
        matches!(&lock_file, Some(Ok(file)) if args.args.iter().all(|a| file.get(a).is_some()));
    let mut results: Vec<(String, Verification)> = Vec::new();
    if args.args.len() == 2 && !names_are_pins {
        let id = dv::revision::resolve_uri(&ws, &args.args[0])?;
        super::warn_if_deprecated(ui, &ws, &[id])?;
        ws = with_local_data(ui, ws, &[id], dv::available::Need::Trees)?;
        let verification = verify(&ws, &id, Path::new(&args.args[1]), args.fast, &progress)?;
        results.push((args.args[0].clone(), verification));
    } else {
        match lock_file {
            None => {
                return Err(CliError::from(dv::Error::PathNotFound { path: lock }).hinted(
                    "Pin versions with `dv pin REV`, or verify one directory with `dv verify REV DIR`.",
                ));
            }
            Some(Err(err)) => return Err(err.into()),
            Some(Ok(_)) => {}
        }
        let planned = dv::materialize::plan(&ws, &lock, &args.args, None)?;
        let ids: Vec<dv::VersionId> = planned.iter().map(|(pin, _)| pin.id).collect();
        super::warn_if_deprecated(ui, &ws, &ids)?;
        ws = with_local_data(ui, ws, &ids, dv::available::Need::Trees)?;
        for (pin, dir) in planned {
            let verification = verify(&ws, &pin.id, &dir, args.fast, &progress)?;
            results.push((pin.name, verification));
        }
    }
    let failed = results.iter().filter(|(_, v)| !v.ok()).count();
    if args.json {
        let views: Vec<ResultView> = results
            .iter()
            .map(|(name, v)| ResultView {
                name: name.clone(),
                id: v.id,
                dir: v.dir.clone(),
                ok: v.ok(),
                files: v.files,
                differences: ChangeLists::from_changes(&v.changes),
                unlisted: v.unlisted,
            })
            .collect();
        ui.json(&serde_json::json!({ "ok": failed == 0, "results": views }))?;
    } else {
        let mut text = String::new();
        for (name, v) in &results {
            let label = name;
            let dir = v
                .dir
                .strip_prefix(ws.root())
                .unwrap_or(&v.dir)
                .display()
                .to_string();
            if v.ok() {
                text.push_str(&format!(
                    "ok      {label}  {}  {dir}  ({})\n",
                    v.id.short(SHORT_ID),
                    plural(v.files, "file")
                ));
            } else {
                text.push_str(&format!(
                    "FAILED  {label}  {}  {dir}\n",
                    v.id.short(SHORT_ID)
                ));
                for change in &v.changes {
                    text.push_str(&format!(
                        "  {} {}  ({})\n",
                        change.kind.letter(),
                        dv::fs_util::display_path(&change.path),
                        explain(change.kind)
                    ));
                }
                if v.unlisted > 0 {
                    text.push_str(&format!("  ... and {} more\n", v.unlisted));
                }
            }
        }
        ui.out(text)?;
    }
    if failed > 0 {
        let message = match results.len() {
            1 => "The directory differs from the version".to_string(),
            n => format!("{failed} of {n} directories differ from their pinned versions"),
        };
        return Err(CliError::user(message));
    }
    Ok(())
}

fn explain(kind: dv::diff::ChangeKind) -> &'static str {
    use dv::diff::ChangeKind::*;
    match kind {
        Added => "not in the version",
        Removed => "missing",
        Modified => "content differs",
        ModeChanged => "executable bit differs",
        TypeChanged => "file and symlink swapped",
    }
}
