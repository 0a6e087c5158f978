//! `dv init [DIR]`

use std::path::PathBuf;

use super::error::CliError;
use super::ui::Ui;

/// Make a new workspace
#[derive(clap::Args)]
pub struct Args {
    /// Directory to make the workspace in (default: the current directory)
    dir: Option<PathBuf>,

    /// Pipeline stages, in order, comma-separated (default: raw,cleaned,labeled,training-ready)
    #[arg(long, value_delimiter = ',')]
    stages: Option<Vec<String>>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let ws = dv::Workspace::init(&dir, args.stages)?;
    if args.json {
        return ui.json(&serde_json::json!({ "root": ws.root(), "stages": ws.stages() }));
    }
    ui.status(format!(
        "Initialized an empty dv workspace in {}",
        ws.dv_dir().display()
    ));
    Ok(())
}
