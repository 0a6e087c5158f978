//! `dv tag REV NAME` / `dv tag --list` / `dv tag --delete NAME`

use serde::Serialize;

use dv::refs::{TagChange, delete_tag, set_tag};

use super::error::CliError;
use super::ui::{Ui, table};
use super::{SHORT_ID, dataset_at_stage, open_workspace};

/// Name a version, list names, or remove one
#[derive(clap::Args)]
pub struct Args {
    /// The version to tag
    #[arg(add = super::complete::rev_candidates())]
    rev: Option<String>,

    /// The tag name
    name: Option<String>,

    /// List every tag
    #[arg(long, short, conflicts_with_all = ["rev", "name", "delete", "force"])]
    list: bool,

    /// Remove the tag NAME
    #[arg(long, short, value_name = "NAME", conflicts_with_all = ["rev", "name", "force"])]
    delete: Option<String>,

    /// Move the tag if it already names another version
    #[arg(long, short)]
    force: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct TagView {
    name: String,
    id: dv::VersionId,
    dataset: Option<String>,
    stage: Option<String>,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace()?;
    if args.list {
        let mut views = Vec::new();
        for (name, id) in ws.tags()? {
            let version = ws.find_version(&id)?;
            views.push(TagView {
                name,
                id,
                dataset: version.as_ref().map(|v| v.dataset.clone()),
                stage: version.as_ref().map(|v| v.stage.clone()),
            });
        }
        if args.json {
            return ui.json(&views);
        }
        let rows: Vec<Vec<String>> = views
            .iter()
            .map(|t| {
                let at = match (&t.dataset, &t.stage) {
                    (Some(d), Some(s)) => format!("{d}@{s}"),
                    _ => "(missing version)".into(),
                };
                vec![t.name.clone(), t.id.short(SHORT_ID), at]
            })
            .collect();
        return ui.out(table(&rows));
    }
    if let Some(name) = args.delete {
        let id = delete_tag(&ws, &name)?;
        if args.json {
            return ui.json(&serde_json::json!({ "name": name, "deleted": id }));
        }
        ui.status(format!("Deleted tag {name} (was {}).", id.short(SHORT_ID)));
        return Ok(());
    }
    let (Some(rev), Some(name)) = (args.rev, args.name) else {
        return Err(
            CliError::usage("dv tag needs a revision and a name: dv tag REV NAME")
                .hinted("List tags with `dv tag --list`, remove one with `dv tag --delete NAME`."),
        );
    };
    let id = dv::revision::resolve(&ws, &rev)?;
    let change = set_tag(&ws, &name, &id, args.force)?;
    let version = ws.find_version(&id)?;
    if args.json {
        let (action, previous) = match &change {
            TagChange::Created => ("created", None),
            TagChange::Unchanged => ("unchanged", None),
            TagChange::Moved { from } => ("moved", Some(*from)),
        };
        return ui.json(
            &serde_json::json!({ "name": name, "id": id, "action": action, "previous": previous }),
        );
    }
    let at = version
        .map(|v| format!(" ({})", dataset_at_stage(&v)))
        .unwrap_or_default();
    ui.status(match change {
        TagChange::Created => format!("Created tag {name} pointing to {}{at}.", id.short(SHORT_ID)),
        TagChange::Unchanged => format!("Tag {name} already points to {}{at}.", id.short(SHORT_ID)),
        TagChange::Moved { from } => {
            format!(
                "Moved tag {name} from {} to {}{at}.",
                from.short(SHORT_ID),
                id.short(SHORT_ID)
            )
        }
    });
    Ok(())
}
