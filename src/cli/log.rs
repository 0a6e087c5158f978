//! `dv log [--dataset NAME] [--stage S] [-n N]`

use dv::index::LogFilter;
use dv::lifecycle::State;

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural, table};
use super::{SHORT_ID, VersionView, dataset_at_stage, open_workspace_to_read};

/// List versions, newest first
#[derive(clap::Args)]
pub struct Args {
    /// Only versions of this dataset
    #[arg(long, short)]
    dataset: Option<String>,

    /// Only versions at this stage
    #[arg(long, short)]
    stage: Option<String>,

    /// Only versions whose transform contains this text
    #[arg(long, value_name = "TEXT")]
    transform: Option<String>,

    /// Only versions with this parameter value, typed as in `dv commit` (can be repeated)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Show at most N versions
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    limit: Option<usize>,

    /// Hide deprecated and retired versions
    #[arg(long)]
    active: bool,

    /// Print the versions as a JSON array
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    if let Some(stage) = &args.stage {
        ws.check_stage(stage)?;
    }
    let params = args
        .params
        .iter()
        .map(|p| dv::params::parse_param(p))
        .collect::<Result<_, _>>()?;
    let filter = LogFilter {
        dataset: args.dataset,
        stage: args.stage,
        transform: args.transform,
        params,
        limit: args.limit,
    };
    let states = dv::lifecycle::states(&ws)?;
    let mut versions = ws.log(&filter)?;
    if args.active {
        versions.retain(|(id, _)| states.get(id).is_none_or(|s| s.state == State::Active));
    }
    if args.json {
        let views: Vec<VersionView> = versions
            .iter()
            .map(|(id, version)| VersionView {
                id: *id,
                version,
                lifecycle: states.get(id),
            })
            .collect();
        return ui.json(&views);
    }
    if versions.is_empty() {
        ui.status("No versions yet.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|(id, v)| {
            vec![
                id.short(SHORT_ID),
                dataset_at_stage(v),
                v.created_at
                    .get(..16)
                    .unwrap_or(&v.created_at)
                    .replace('T', " "),
                plural(v.files, "file"),
                human_bytes(v.bytes),
                {
                    let mut markers = Vec::new();
                    if let Some(state) = states.get(id).map(|s| s.state)
                        && state != State::Active
                    {
                        markers.push(format!("[{}]", state.name()));
                    }
                    if !v.failed_rules.is_empty() {
                        markers.push(format!(
                            "[failing {}]",
                            plural(v.failed_rules.len() as u64, "rule")
                        ));
                    }
                    markers.extend(v.message.clone().or_else(|| v.transform.clone()));
                    markers.join(" ")
                },
            ]
        })
        .collect();
    ui.out(table(&rows))
}
