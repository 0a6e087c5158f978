//! `dv pin REV [--as NAME] [--path DIR] [--lock FILE]` / `dv pin --list` / `dv pin --remove NAME`

use std::path::PathBuf;

use dv::pin::{PinChange, lock_path, pin, read_lock, unpin};

use super::error::CliError;
use super::ui::{Ui, table};
use super::{SHORT_ID, open_workspace};

/// Pin a dataset version in a lock file for training configs
#[derive(clap::Args)]
pub struct Args {
    /// The version to pin; the lock file always records its full id
    #[arg(add = super::complete::rev_candidates(), required_unless_present_any = ["list", "remove"])]
    rev: Option<String>,

    /// Name of the entry (default: the dataset's name)
    #[arg(long = "as", value_name = "NAME")]
    name: Option<String>,

    /// Where the training code expects the data, relative to the lock file (default: where the
    /// version was committed from)
    #[arg(long, value_name = "DIR")]
    path: Option<String>,

    /// The lock file (default: dv.lock at the workspace root)
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,

    /// List the pins
    #[arg(long, conflicts_with_all = ["rev", "remove", "name", "path"])]
    list: bool,

    /// Remove the pin NAME
    #[arg(long, value_name = "NAME", conflicts_with_all = ["rev", "name", "path"])]
    remove: Option<String>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let lock = lock_path(&ws, args.lock.as_deref())?;
    if args.list {
        let file = read_lock(&ws, &lock, true)?;
        if args.json {
            return ui.json(&file.pins);
        }
        let rows: Vec<Vec<String>> = file
            .pins
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.id.short(SHORT_ID),
                    format!("{}@{}", p.dataset, p.stage),
                    p.path.clone(),
                ]
            })
            .collect();
        return ui.out(table(&rows));
    }
    if let Some(name) = args.remove {
        let removed = unpin(&ws, &lock, &name)?;
        if args.json {
            return ui.json(&removed);
        }
        ui.status(format!(
            "Removed pin {name} (was {}) from {}.",
            removed.id.short(SHORT_ID),
            lock.display()
        ));
        return Ok(());
    }
    let rev = args
        .rev
        .expect("clap requires REV without --list or --remove");
    let id = dv::revision::resolve_uri(&ws, &rev)?;
    super::warn_if_deprecated(ui, &ws, &[id])?;
    let (pinned, change) = pin(&ws, &lock, &id, args.name.as_deref(), args.path.as_deref())?;
    if args.json {
        return ui.json(&pinned);
    }
    let what = format!(
        "{} to {} ({}@{}) at {}",
        pinned.name,
        id.short(SHORT_ID),
        pinned.dataset,
        pinned.stage,
        pinned.path
    );
    ui.status(match change {
        PinChange::Added => format!("Pinned {what} in {}.", lock.display()),
        PinChange::Updated { from } => format!(
            "Moved pin {what} (was {}) in {}.",
            from.short(SHORT_ID),
            lock.display()
        ),
        PinChange::Unchanged => format!("Already pinned: {what} in {}.", lock.display()),
    });
    Ok(())
}
