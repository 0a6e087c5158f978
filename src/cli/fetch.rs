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

    /// Requests to run at once (default: DV_REMOTE_JOBS, else 16)
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print the summary as JSON: objects, bytes and requests received
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let remote =
        Remote::open(&ws, args.remote.as_deref(), false)?.with_jobs(args.jobs.map(usize::from));
    let progress = ui.progress();
    let report = dv::remote::fetch(&ws, &remote, &progress)?;
    super::remote::report(ui, "Fetched", &report, args.json, false)
}
