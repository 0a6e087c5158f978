//! `dv which PATH_OR_HASH`

use dv::which::{Query, which};

use super::error::CliError;
use super::ui::{Ui, human_bytes, table};
use super::{SHORT_ID, open_workspace_to_read};

/// List every version that holds a file, by content or by path
#[derive(clap::Args)]
pub struct Args {
    /// A blake3 hash (as `b3sum` prints it), a file on disk (matched by its content), or a path
    /// inside the versions (matched by path)
    target: String,

    /// Print the matches as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let on_disk = std::path::Path::new(&args.target);
    let query = if let Some(hash) = dv::Hash::from_hex(&args.target) {
        Query::Content(hash)
    } else if on_disk.is_file() {
        Query::Content(dv::snapshot::hash_file(on_disk)?.0)
    } else {
        let path = match ws.relative(on_disk) {
            Ok((_, rel)) => rel,
            Err(_) => args.target.trim_start_matches("./").to_string(),
        };
        Query::Path(path)
    };
    let hits = which(&ws, &query)?;
    if args.json {
        return ui.json(&hits);
    }
    if hits.is_empty() {
        return Err(CliError::user(format!("No version holds {}", args.target))
            .hinted("Give a blake3 hash, an existing file, or a path as it appears in `dv show REV --files`."));
    }
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|h| {
            vec![
                h.id.short(SHORT_ID),
                format!("{}@{}", h.dataset, h.stage),
                human_bytes(h.size),
                h.path.clone(),
            ]
        })
        .collect();
    ui.out(table(&rows))
}
