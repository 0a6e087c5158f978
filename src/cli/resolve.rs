//! `dv resolve URI`

use super::error::CliError;
use super::open_workspace_to_read;
use super::ui::Ui;

/// Turn a dv:// URI (or any revision) into an exact version id
#[derive(clap::Args)]
pub struct Args {
    /// dv://DATASET@ID, dv://TAG, dv://REV, or a plain revision
    uri: String,

    /// Print id, tree, dataset, stage and the canonical URI as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let id = dv::revision::resolve_uri(&ws, &args.uri)?;
    let version = ws.version(&id)?;
    if args.json {
        return ui.json(&serde_json::json!({
            "id": id,
            "tree": version.tree,
            "dataset": version.dataset,
            "stage": version.stage,
            "uri": format!("{}{}@{}", dv::revision::URI_SCHEME, version.dataset, id),
        }));
    }
    ui.out(format!("{id}\n"))
}
