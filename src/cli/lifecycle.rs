//! `dv deprecate REV --reason TEXT [--use REV2]`, `dv undeprecate REV`,
//! `dv retire REV --reason TEXT [--force]`, `dv unretire REV`

use dv::lifecycle::{Change, State};

use super::error::CliError;
use super::ui::Ui;
use super::{SHORT_ID, dataset_at_stage, open_workspace};

/// Mark a version deprecated: still usable, but pin, materialize, verify and commit --from warn
#[derive(clap::Args)]
pub struct Deprecate {
    /// The version
    rev: String,
    /// Why (shown wherever the version is used)
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// The version to use instead
    #[arg(long = "use", value_name = "REV")]
    use_instead: Option<String>,
}

/// Mark a version retired: its record stays (lineage, provenance), its data may be removed
#[derive(clap::Args)]
pub struct Retire {
    /// The version
    rev: String,
    /// Why (shown when someone asks for its data)
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Retire it even though a recorded lock file pins it
    #[arg(long)]
    force: bool,
}

/// Make a deprecated version active again
#[derive(clap::Args)]
pub struct Undeprecate {
    /// The version
    rev: String,
}

/// Make a retired version active again (while its data is still here)
#[derive(clap::Args)]
pub struct Unretire {
    /// The version
    rev: String,
}

pub fn deprecate(ui: &Ui, args: Deprecate) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let use_instead = args
        .use_instead
        .as_deref()
        .map(|rev| dv::revision::resolve(&ws, rev))
        .transpose()?;
    let change = Change::Deprecate {
        reason: args.reason,
        use_instead,
    };
    apply(ui, &ws, &args.rev, change, "deprecated")
}

pub fn retire(ui: &Ui, args: Retire) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let change = Change::Retire {
        reason: args.reason,
        force: args.force,
    };
    apply(ui, &ws, &args.rev, change, "retired")
}

pub fn undeprecate(ui: &Ui, args: Undeprecate) -> Result<(), CliError> {
    let ws = open_workspace()?;
    apply(ui, &ws, &args.rev, Change::Undeprecate, "active again")
}

pub fn unretire(ui: &Ui, args: Unretire) -> Result<(), CliError> {
    let ws = open_workspace()?;
    apply(ui, &ws, &args.rev, Change::Unretire, "active again")
}

fn apply(
    ui: &Ui,
    ws: &dv::Workspace,
    rev: &str,
    change: Change,
    done: &str,
) -> Result<(), CliError> {
    let id = dv::revision::resolve(ws, rev)?;
    let name = ws
        .index
        .version(&id)?
        .map(|v| format!(" ({})", dataset_at_stage(&v)))
        .unwrap_or_default();
    match dv::lifecycle::change(ws, id, change)? {
        None => ui.status(format!(
            "Version {}{name} was already {}.",
            id.short(SHORT_ID),
            State::Retired.name()
        )),
        Some(_) => ui.status(format!("Version {}{name} is {done}.", id.short(SHORT_ID))),
    }
    Ok(())
}
