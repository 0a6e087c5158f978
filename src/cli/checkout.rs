//! `dv checkout REV [--to DIR] [--force]`

use std::path::PathBuf;

use dv::checkout::{CheckoutRequest, checkout};

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural};
use super::{SHORT_ID, open_workspace, with_local_data};

/// Write a version's exact files into a directory
#[derive(clap::Args)]
pub struct Args {
    /// The version: id, id prefix, tag, DATASET, DATASET@STAGE, with optional ~N
    #[arg(add = super::complete::rev_candidates())]
    rev: String,

    /// Directory to write into (default: where the dataset is tracked in the workspace)
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,

    /// Overwrite uncommitted changes and files that are not part of the dataset
    #[arg(long, short)]
    force: bool,

    /// Write the transform's recorded code files instead of the data (needs --to)
    #[arg(long, requires = "to")]
    code: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let id = dv::revision::resolve(&ws, &args.rev)?;
    let need = if args.code {
        dv::available::Need::Code
    } else {
        dv::available::Need::Data
    };
    let ws = with_local_data(ui, ws, &[id], need)?;
    if args.code {
        let dir = args.to.as_deref().expect("clap requires --to with --code");
        let written = dv::checkout::checkout_code(&ws, &id, dir, args.force)?;
        if written.is_empty() {
            return Err(CliError::user("This version has no recorded code files")
                .hinted("Record them at commit time with --code FILE."));
        }
        if args.json {
            return ui.json(&written);
        }
        ui.status(format!(
            "Wrote {} of {} into {}.",
            plural(written.len() as u64, "code file"),
            id.short(SHORT_ID),
            dir.display()
        ));
        return Ok(());
    }
    let progress = ui.progress();
    let report = checkout(
        &ws,
        &CheckoutRequest {
            id,
            to: args.to,
            force: args.force,
        },
        &progress,
    )?;
    if args.json {
        return ui.json(&report);
    }
    let shown = report
        .target
        .strip_prefix(ws.root())
        .map_or_else(|_| report.target.clone(), PathBuf::from);
    let shown = if shown.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        shown
    };
    ui.status(format!(
        "Checked out {} into {}: {} written ({}), {} removed, {} unchanged.",
        report.id.short(SHORT_ID),
        shown.display(),
        plural(report.written, "file"),
        human_bytes(report.bytes_written),
        report.removed,
        report.unchanged,
    ));
    Ok(())
}
