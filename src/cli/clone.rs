//! `dv clone URL DIR [--no-data] [--endpoint URL] [--region R] [--path-style] [--allow-http]`

use std::path::PathBuf;

use super::error::CliError;
use super::remote::Connection;
use super::ui::Ui;

/// Make a workspace from a remote: every version record and tag, and (unless --no-data) all
/// the data
#[derive(clap::Args)]
pub struct Args {
    /// /path, file:///path or s3://bucket/prefix
    url: String,

    /// The directory to make the workspace in (created if missing; must not hold one)
    dir: PathBuf,

    #[command(flatten)]
    connection: Connection,

    /// Fetch only version records and tags; data comes when a command needs it
    #[arg(long)]
    no_data: bool,

    /// Requests to run at once (default: DV_REMOTE_JOBS, else 16)
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print the summary as JSON: objects, bytes and requests received
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let spec = args.connection.spec(&args.url)?;
    let progress = ui.progress();
    let (ws, report) = dv::remote::clone(
        &args.dir,
        spec,
        args.jobs.map(usize::from),
        !args.no_data,
        &progress,
    )?;
    super::remote::report(ui, "Cloned", &report, args.json, false)?;
    if !args.json {
        ui.status(format!(
            "Workspace at {}; `dv log` lists its versions, `dv checkout REV` writes one out.",
            ws.root().display()
        ));
    }
    Ok(())
}
