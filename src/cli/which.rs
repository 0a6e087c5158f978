//! `dv which PATH_OR_HASH`

use dv::which::{Query, holders};

use super::error::CliError;
use super::ui::{Shape, Ui, human_bytes};
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
    let holders = holders(&ws, &query)?;
    if args.json {
        let mut first = true;
        return ui.stream(Shape::Machine, "[".into(), |out| {
            for holder in &holders.versions {
                holders.each_hit(&ws, holder, &query, &mut |hit| {
                    let item = serde_json::to_string_pretty(&hit)
                        .expect("output serializes")
                        .replace('\n', "\n  ");
                    let sep = if std::mem::take(&mut first) { "" } else { "," };
                    out(format!("{sep}\n  {item}"))
                })?;
            }
            out(if first { "]\n" } else { "\n]\n" }.into())
        });
    }
    if holders.versions.is_empty() {
        return Err(CliError::user(format!("No version holds {}", args.target))
            .hinted("Give a blake3 hash, an existing file, or a path as it appears in `dv show REV --files`."));
    }
    // Columns measured over the holders (a file has one size), rows streamed per path.
    let names: Vec<String> = holders
        .versions
        .iter()
        .map(|h| format!("{}@{}", h.version.dataset, h.version.stage))
        .collect();
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let size_width = holders
        .versions
        .iter()
        .map(|h| human_bytes(h.size).chars().count())
        .max()
        .unwrap_or(0);
    ui.stream(Shape::Human, String::new(), |out| {
        for (holder, name) in holders.versions.iter().zip(&names) {
            holders.each_hit(&ws, holder, &query, &mut |hit| {
                out(format!(
                    "{}  {name:name_width$}  {:size_width$}  {}\n",
                    hit.id.short(SHORT_ID),
                    human_bytes(hit.size),
                    hit.path
                ))
            })?;
        }
        Ok(())
    })
}
