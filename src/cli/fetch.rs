//! `dv fetch [REMOTE]`

use dv::remote::Remote;

use super::error::CliError;
use super::open_workspace;
use super::ui::Ui;

/// Bring every version record and tag of a remote (no data)
#[derive(clap::Args)]
pub struct Args {
    /// The remote (default: the default remote)
    remote: Option<String>,

    /// Print the summary as JSON: objects, bytes and requests received
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let remote = Remote::open(&ws, args.remote.as_deref(), false)?;
    let progress = ui.progress();
    let report = dv::remote::fetch(&ws, &remote, &progress)?;
    super::remote::report(ui, "Fetched", &report, args.json, false)
}
