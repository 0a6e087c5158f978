//! `dv reindex`

use super::error::CliError;
use super::open_workspace;
use super::ui::{Ui, plural};

/// Rebuild the index from the object store
#[derive(clap::Args)]
pub struct Args {
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let report = ws.reindex()?;
    if args.json {
        return ui.json(&report);
    }
    for skipped in &report.skipped {
        ui.status(format!(
            "warning: left out version {}: {}",
            skipped.id, skipped.reason
        ));
    }
    for tag in &report.damaged_tags {
        ui.status(format!("warning: left out the damaged tag file {tag}"));
    }
    ui.status(format!(
        "Rebuilt the index: {}, {}.",
        plural(report.versions as u64, "version"),
        plural(report.tags as u64, "tag")
    ));
    Ok(())
}
