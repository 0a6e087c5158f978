//! `dv deprecate REV --reason TEXT [--use REV2]`, `dv undeprecate REV`,
//! `dv retire REV --reason TEXT [--force]`, `dv unretire REV`

use dv::lifecycle::{Change, Policy, State};

use super::error::CliError;
use super::ui::Ui;
use super::{SHORT_ID, dataset_at_stage, open_workspace};

/// Mark a version deprecated: still usable, but pin, materialize, verify and commit --from warn
#[derive(clap::Args)]
pub struct Deprecate {
    /// The version
    #[arg(add = super::complete::rev_candidates())]
    rev: String,
    /// Why (shown wherever the version is used)
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// The version to use instead
    #[arg(long = "use", value_name = "REV", add = super::complete::rev_candidates())]
    use_instead: Option<String>,
}

/// Mark a version retired (its record stays, its data may be removed by gc), or retire by a
/// policy: per dataset and stage, all but the newest N
#[derive(clap::Args)]
pub struct Retire {
    /// The version (or use --keep-last)
    #[arg(add = super::complete::rev_candidates(), required_unless_present = "keep_last", conflicts_with = "keep_last")]
    rev: Option<String>,
    /// Why (shown when someone asks for its data); required for one version
    #[arg(long, value_name = "TEXT", required_unless_present = "keep_last")]
    reason: Option<String>,
    /// Retire it even though a recorded lock file pins it
    #[arg(long, conflicts_with = "keep_last")]
    force: bool,
    /// Policy: keep the newest N versions of each dataset and stage, retire the others
    #[arg(long, value_name = "N")]
    keep_last: Option<usize>,
    /// Policy: only this dataset
    #[arg(long, short, requires = "keep_last")]
    dataset: Option<String>,
    /// Policy: only this stage
    #[arg(long, short, requires = "keep_last")]
    stage: Option<String>,
    /// Policy: only versions older than this (such as 30d, 12w)
    #[arg(long, value_name = "DURATION", requires = "keep_last")]
    older_than: Option<String>,
    /// Policy: keep tagged versions (always: a tagged version is never selected)
    #[arg(long, requires = "keep_last")]
    keep_tagged: bool,
    /// Policy: keep versions a recorded lock file pins (always: they are never selected)
    #[arg(long, requires = "keep_last")]
    keep_pinned: bool,
    /// Policy: list what would be retired, change nothing
    #[arg(long, requires = "keep_last")]
    dry_run: bool,
    /// Policy: print the selected versions as JSON
    #[arg(long, requires = "keep_last")]
    json: bool,
}

/// Remove a version's record altogether (refused while anything depends on it)
#[derive(clap::Args)]
pub struct Forget {
    /// The version
    #[arg(add = super::complete::rev_candidates())]
    rev: String,
    /// Forget it even though newer versions, tags or pins depend on it (says what breaks)
    #[arg(long)]
    force: bool,
}

/// Make a deprecated version active again
#[derive(clap::Args)]
pub struct Undeprecate {
    /// The version
    #[arg(add = super::complete::rev_candidates())]
    rev: String,
}

/// Make a retired version active again (fetching its data from the default remote if needed)
#[derive(clap::Args)]
pub struct Unretire {
    /// The version
    #[arg(add = super::complete::rev_candidates())]
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
    let Some(keep_last) = args.keep_last else {
        let change = Change::Retire {
            reason: args.reason.expect("clap requires --reason with REV"),
            force: args.force,
        };
        let rev = args.rev.expect("clap requires REV without --keep-last");
        return apply(ui, &ws, &rev, change, "retired");
    };
    if let Some(stage) = &args.stage {
        ws.check_stage(stage)?;
    }
    let policy = Policy {
        keep_last,
        dataset: args.dataset,
        stage: args.stage,
        older_than: args
            .older_than
            .as_deref()
            .map(dv::gc::parse_duration)
            .transpose()?,
    };
    let selected = dv::lifecycle::select(&ws, &policy)?;
    let reason = args.reason.unwrap_or_else(|| {
        let mut text = format!("retention policy: keep the last {keep_last}");
        if let Some(age) = &args.older_than {
            text.push_str(&format!(", retire those older than {age}"));
        }
        text
    });
    if !args.dry_run {
        for (id, _) in &selected {
            dv::lifecycle::change(
                &ws,
                *id,
                Change::Retire {
                    reason: reason.clone(),
                    force: false,
                },
                ui.fetch,
            )?;
        }
    }
    if args.json {
        let ids: Vec<serde_json::Value> = selected
            .iter()
            .map(|(id, v)| {
                serde_json::json!({ "id": id, "dataset": v.dataset, "stage": v.stage, "created_at": v.created_at })
            })
            .collect();
        return ui.json(&serde_json::json!({ "dry_run": args.dry_run, "retired": ids }));
    }
    let mut text = String::new();
    for (id, version) in &selected {
        text.push_str(&format!(
            "{} {}  {}  {}\n",
            if args.dry_run {
                "would retire"
            } else {
                "retired"
            },
            id.short(SHORT_ID),
            dataset_at_stage(version),
            version
                .created_at
                .get(..16)
                .unwrap_or(&version.created_at)
                .replace('T', " ")
        ));
    }
    ui.out(text)?;
    ui.status(format!(
        "{} {}.",
        if args.dry_run {
            "Would retire"
        } else {
            "Retired"
        },
        super::ui::plural(selected.len() as u64, "version")
    ));
    Ok(())
}

pub fn forget(ui: &Ui, args: Forget) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let id = dv::revision::resolve(&ws, &args.rev)?;
    let broke = dv::lifecycle::forget(&ws, &id, args.force)?;
    for line in broke.describe() {
        ui.status(format!("warning: {line}"));
    }
    ui.status(format!(
        "Forgot version {}; `dv gc --prune` removes the data nothing else needs.",
        id.short(SHORT_ID)
    ));
    Ok(())
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
        .find_version(&id)?
        .map(|v| format!(" ({})", dataset_at_stage(&v)))
        .unwrap_or_default();
    match dv::lifecycle::change(ws, id, change, ui.fetch)? {
        None => ui.status(format!(
            "Version {}{name} was already {}.",
            id.short(SHORT_ID),
            State::Retired.name()
        )),
        Some(_) => ui.status(format!("Version {}{name} is {done}.", id.short(SHORT_ID))),
    }
    Ok(())
}
