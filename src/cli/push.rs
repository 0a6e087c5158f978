//! `dv push [REMOTE] [REV...]`

use dv::remote::{Remote, Remotes, Selection};

use super::error::CliError;
use super::open_workspace;
use super::ui::Ui;

/// Send versions, their data and tags to a remote (default: every version and tag)
#[derive(clap::Args)]
pub struct Args {
    /// A remote name (default: the default remote), then versions to push with everything
    /// they were made from
    args: Vec<String>,

    /// Requests to run at once (default: DV_REMOTE_JOBS, else 16)
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Print the summary as JSON: objects, bytes and requests sent
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let (remote_name, revs) = split_remote(&ws, &args.args)?;
    let selection = if revs.is_empty() {
        Selection::All
    } else {
        Selection::Versions(
            revs.iter()
                .map(|rev| dv::revision::resolve(&ws, rev))
                .collect::<Result<_, _>>()?,
        )
    };
    let remote =
        Remote::open(&ws, remote_name.as_deref(), true)?.with_jobs(args.jobs.map(usize::from));
    let progress = ui.progress();
    let report = dv::remote::push(&ws, &remote, &selection, &progress)?;
    super::remote::report(ui, "Pushed", &report, args.json, true)
}

/// Splits `[REMOTE] [REV...]`: the first argument is a remote when one has that name.
pub fn split_remote(
    ws: &dv::Workspace,
    args: &[String],
) -> Result<(Option<String>, Vec<String>), CliError> {
    let remotes = Remotes::load(&ws.dv_dir())?;
    match args.split_first() {
        Some((first, rest)) if remotes.remotes.contains_key(first) => {
            Ok((Some(first.clone()), rest.to_vec()))
        }
        _ => Ok((None, args.to_vec())),
    }
}
