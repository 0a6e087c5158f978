//! `dv pull [REMOTE] [REV...] [-- PATH...]`

use dv::remote::Remote;

use super::error::CliError;
use super::open_workspace;
use super::push::split_remote;
use super::ui::Ui;

/// Fetch version records and tags, then the data of some versions (default: all), or of some
/// paths inside them
#[derive(clap::Args)]
pub struct Args {
    /// A remote name (default: the default remote), then the versions whose data to fetch
    args: Vec<String>,

    /// Only these paths inside the versions (files or directories, relative to the version)
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,

    /// Requests to run at once (default: DV_REMOTE_JOBS, else 16)
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print the summary as JSON: objects, bytes and requests received
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let (remote_name, revs) = split_remote(&ws, &args.args)?;
    let remote =
        Remote::open(&ws, remote_name.as_deref(), false)?.with_jobs(args.jobs.map(usize::from));
    let progress = ui.progress();
    let ids: Vec<dv::VersionId> = revs
        .iter()
        .map(|rev| dv::revision::resolve(&ws, rev))
        .collect::<Result<_, _>>()?;
    let report = dv::remote::pull_versions(&ws, &remote, &ids, &args.paths, &progress)?;
    super::remote::report(ui, "Pulled", &report, args.json, false)
}
