//! `dv commit PATH --dataset NAME --stage STAGE ...`

use std::path::PathBuf;

use dv::commit::{CommitRequest, commit};

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural};
use super::{SHORT_ID, VersionView, dataset_at_stage, open_workspace};

/// Snapshot a directory (or file) as a new version of a dataset
#[derive(clap::Args)]
pub struct Args {
    /// The directory or file to snapshot (inside the workspace)
    path: PathBuf,

    /// Dataset this version belongs to
    #[arg(long, short)]
    dataset: String,

    /// Pipeline stage of this version
    #[arg(long, short)]
    stage: String,

    /// A version this one was made from (can be repeated)
    #[arg(long = "from", value_name = "REV", add = super::complete::rev_candidates())]
    from: Vec<String>,

    /// The command that produced the data
    #[arg(long, value_name = "TEXT")]
    transform: Option<String>,

    /// A code file of the transform, whose content is recorded (can be repeated)
    #[arg(long, value_name = "FILE")]
    code: Vec<PathBuf>,

    /// A parameter of the transform; VALUE is typed as JSON when it parses (can be repeated)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// A JSON file holding an object of parameters (--param values override it)
    #[arg(long, value_name = "FILE")]
    params_file: Option<PathBuf>,

    /// What this version is
    #[arg(long, short)]
    message: Option<String>,

    /// Commit even if the stage rules in dv.toml fail; the failures are recorded in the version
    #[arg(long)]
    allow_failing: bool,

    /// Print the version as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    let params = dv::params::collect(args.params_file.as_deref(), &args.params)?;
    for arg in &args.params {
        if let Some(number) = arg
            .split_once('=')
            .and_then(|(_, raw)| dv::params::first_inexact_integer(raw))
        {
            ui.status(format!(
                "warning: --param {arg}: {number} does not fit in 64 bits, so the value is kept as a string"
            ));
        }
    }
    let request = CommitRequest {
        path: args.path,
        dataset: args.dataset,
        stage: args.stage,
        inputs: args.from,
        transform: args.transform,
        code: args.code,
        params,
        message: args.message,
        allow_failing: args.allow_failing,
        ..CommitRequest::default()
    };
    let progress = ui.progress();
    let outcome = commit(&ws, &request, &progress)?;
    super::warn_if_deprecated(ui, &ws, &outcome.version.inputs)?;
    super::warn_if_failing(ui, &outcome.version);
    let version = &outcome.version;
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            created: bool,
            tables_read: usize,
            #[serde(flatten)]
            view: VersionView<'a>,
        }
        return ui.json(&Out {
            created: outcome.created,
            tables_read: outcome.tables_read,
            view: VersionView {
                id: outcome.id,
                version,
                lifecycle: None,
            },
        });
    }
    ui.out(format!("{}\n", outcome.id))?;
    if outcome.created {
        ui.status(format!(
            "Committed {} {} ({}, {}).",
            dataset_at_stage(version),
            outcome.id.short(SHORT_ID),
            plural(version.files, "file"),
            human_bytes(version.bytes)
        ));
    } else {
        ui.status(format!(
            "Nothing changed: {} is already {} with the same content and provenance.",
            dataset_at_stage(version),
            outcome.id.short(SHORT_ID)
        ));
    }
    Ok(())
}
