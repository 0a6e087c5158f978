//! `dv clone URL DIR [--no-data] [--endpoint URL] [--region R] [--path-style] [--allow-http]`

use std::path::PathBuf;

use dv::remote::{Need, Remote, Remotes};

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

/// The name a cloned workspace gives its remote.
const ORIGIN: &str = "origin";

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let spec = args.connection.spec(&args.url)?;
    let remote = Remote::connect(ORIGIN, &spec, false)?.with_jobs(args.jobs.map(usize::from));
    let stages = dv::remote::remote_stages(&remote)?;
    let ws = dv::Workspace::init(&args.dir, stages)?;
    let mut remotes = Remotes::default();
    remotes.add(ORIGIN, spec, true)?;
    remotes.save(&ws.dv_dir())?;
    let ws = dv::Workspace::open_at(ws.root().to_path_buf())?;
    let progress = ui.progress();
    let fetched = dv::remote::fetch(&ws, &remote, &progress)?;
    // Every version's profile comes (metadata, like the records); data only for live ones
    // (retired versions' data may be gone from the remote), and none with --no-data.
    let all: Vec<dv::VersionId> = ws
        .index
        .log(&dv::index::LogFilter::default())?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut report = dv::remote::pull(&ws, &remote, &all, &[], Need::Profiles, &progress)?;
    if !args.no_data {
        let ids = dv::gc::live_versions(&ws)?;
        report = dv::remote::pull(&ws, &remote, &ids, &[], Need::Data, &progress)?;
    }
    report.versions = fetched.versions;
    report.tags = fetched.tags;
    report.lifecycle = fetched.lifecycle;
    report.conflicts = fetched.conflicts;
    super::remote::report(ui, "Cloned", &report, args.json, false)?;
    if !args.json {
        ui.status(format!(
            "Workspace at {}; `dv log` lists its versions, `dv checkout REV` writes one out.",
            ws.root().display()
        ));
    }
    Ok(())
}
