//! `dv status [PATH]`

use std::path::PathBuf;

use serde::Serialize;

use dv::diff::{Change, ChangeKind};
use dv::fs_util::display_path;

use super::error::CliError;
use super::ui::Ui;
use super::{SHORT_ID, open_workspace_to_read};

/// Show what changed on disk since the version last committed or checked out
#[derive(clap::Args)]
pub struct Args {
    /// A tracked directory, or a path inside one (default: every tracked directory)
    path: Option<PathBuf>,

    /// Print the status as JSON
    #[arg(long)]
    json: bool,
}

/// Changed paths grouped by kind, as in `dv diff --json`.
#[derive(Serialize, Default)]
pub struct ChangeLists {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub modified: Vec<String>,
    pub mode_changed: Vec<String>,
    pub type_changed: Vec<String>,
}

impl ChangeLists {
    pub fn from_changes(changes: &[Change]) -> Self {
        let mut lists = ChangeLists::default();
        for change in changes {
            let path = display_path(&change.path);
            match change.kind {
                ChangeKind::Added => lists.added.push(path),
                ChangeKind::Removed => lists.removed.push(path),
                ChangeKind::Modified => lists.modified.push(path),
                ChangeKind::ModeChanged => lists.mode_changed.push(path),
                ChangeKind::TypeChanged => lists.type_changed.push(path),
            }
        }
        lists
    }
}

#[derive(Serialize)]
struct StatusView {
    path: String,
    dataset: String,
    base: dv::VersionId,
    clean: bool,
    /// A checkout of this version into the directory was interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted_checkout: Option<dv::VersionId>,
    #[serde(flatten)]
    changes: ChangeLists,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let progress = ui.progress();
    let statuses = dv::status::status(&ws, args.path.as_deref(), &progress)?;
    if args.json {
        let views: Vec<StatusView> = statuses
            .iter()
            .map(|s| StatusView {
                path: s.path.clone(),
                dataset: s.dataset.clone(),
                base: s.base,
                clean: s.changes.is_empty() && s.interrupted_checkout.is_none(),
                interrupted_checkout: s.interrupted_checkout,
                changes: ChangeLists::from_changes(&s.changes),
            })
            .collect();
        return ui.json(&views);
    }
    if statuses.is_empty() {
        ui.status("Nothing is tracked yet: commit a directory with `dv commit`.");
        return Ok(());
    }
    let mut text = String::new();
    for status in &statuses {
        let name = if status.path.is_empty() {
            "."
        } else {
            &status.path
        };
        let base = status.base.short(SHORT_ID);
        if let Some(target) = status.interrupted_checkout {
            let target = target.short(SHORT_ID);
            text.push_str(&format!("{name}: a checkout of {target} was interrupted; run `dv checkout {target}` to finish it\n"));
        }
        if status.changes.is_empty() {
            text.push_str(&format!(
                "{name}: no changes since {} {base}\n",
                status.dataset
            ));
            continue;
        }
        text.push_str(&format!(
            "{name}: changes since {} {base}\n",
            status.dataset
        ));
        for change in &status.changes {
            text.push_str(&format!(
                "  {} {}\n",
                change.kind.letter(),
                display_path(&change.path)
            ));
        }
    }
    ui.out(text)
}
