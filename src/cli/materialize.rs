//! `dv materialize [--lock FILE] [NAME...] [--to DIR] [--force]`

use std::path::PathBuf;

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural};
use super::{SHORT_ID, open_workspace, with_local_data};

/// Check out every pinned version to where the training code expects it
#[derive(clap::Args)]
pub struct Args {
    /// Pins to materialize (default: all)
    names: Vec<String>,

    /// The lock file (default: dv.lock at the workspace root)
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,

    /// Write each pin to DIR/NAME instead of its pinned path
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,

    /// Overwrite local changes in the target directories
    #[arg(long, short)]
    force: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let lock = dv::pin::lock_path(&ws, args.lock.as_deref())?;
    let pinned: Vec<dv::VersionId> =
        dv::materialize::plan(&ws, &lock, &args.names, args.to.as_deref())?
            .into_iter()
            .map(|(pin, _)| pin.id)
            .collect();
    super::warn_if_deprecated(ui, &ws, &pinned)?;
    let ws = with_local_data(ui, ws, &pinned, dv::available::Need::Data)?;
    let progress = ui.progress();
    let reports = dv::materialize::materialize(
        &ws,
        &lock,
        &args.names,
        args.to.as_deref(),
        args.force,
        &progress,
    )?;
    if args.json {
        let out: Vec<serde_json::Value> = reports
            .iter()
            .map(|(pin, report)| serde_json::json!({ "name": pin.name, "report": report }))
            .collect();
        return ui.json(&out);
    }
    for (pin, report) in &reports {
        ui.status(format!(
            "{}: {} at {}: {} written ({}), {} removed, {} already correct.",
            pin.name,
            pin.id.short(SHORT_ID),
            report
                .target
                .strip_prefix(ws.root())
                .unwrap_or(&report.target)
                .display(),
            plural(report.written, "file"),
            human_bytes(report.bytes_written),
            report.removed,
            report.unchanged
        ));
    }
    Ok(())
}
