//! `dv lineage REV [--up | --down] [--depth N] [--format text|json|dot|svg|openlineage|prov-json]`
//! and `dv export openlineage --url URL [REV]`.

use clap::ValueEnum;
use serde::Serialize;

use dv::lineage::{Direction, lineage, render};

use super::error::CliError;
use super::ui::Ui;
use super::{VersionView, open_workspace_to_read};

/// Show where a version came from (its inputs, back to raw data) or what was built from it
#[derive(clap::Args)]
pub struct Args {
    /// The version: id, id prefix, tag, DATASET, DATASET@STAGE, with optional ~N
    #[arg(add = super::complete::rev_candidates())]
    rev: String,

    /// Walk to the versions it was made from (the default)
    #[arg(long, conflicts_with = "down")]
    up: bool,

    /// Walk to the versions made from it
    #[arg(long, conflicts_with = "all")]
    down: bool,

    /// Both: where it came from and what was made from it
    #[arg(long, conflicts_with = "up")]
    all: bool,

    /// Stop after N steps
    #[arg(long, value_name = "N")]
    depth: Option<usize>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Same as --format json
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Dot,
    Svg,
    /// One OpenLineage RunEvent (JSON) per line, one per version
    Openlineage,
    /// A W3C PROV-JSON document
    ProvJson,
    /// One self-contained, browsable HTML page (pan, zoom, search, provenance on click)
    Html,
}

#[derive(Serialize)]
struct Edge {
    from: dv::VersionId,
    to: dv::VersionId,
}

#[derive(Serialize)]
struct GraphView<'a> {
    start: dv::VersionId,
    direction: &'static str,
    nodes: Vec<VersionView<'a>>,
    edges: Vec<Edge>,
    /// Lock file entries pinning versions of this graph.
    consumers: Vec<dv::pin::Consumer>,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let id = dv::revision::resolve(&ws, &args.rev)?;
    let direction = if args.down {
        Direction::Down
    } else {
        Direction::Up
    };
    let graph = if args.all {
        both_ways(&ws, id, args.depth)?
    } else {
        lineage(&ws, id, direction, args.depth)?
    };
    let format = if args.json { Format::Json } else { args.format };
    let consumers: Vec<dv::pin::Consumer> = dv::pin::consumers(&ws)?
        .into_iter()
        .filter(|c| graph.node(&c.id).is_some())
        .collect();
    let states = dv::lifecycle::states(&ws)?;
    match format {
        Format::Text => {
            let mut text = render::text(&graph);
            for node in &graph.nodes {
                if let Some(status) = states.get(&node.id)
                    && status.state != dv::lifecycle::State::Active
                {
                    text.push_str(&format!(
                        "{}: {}{}\n",
                        status.state.name(),
                        node.id.short(super::SHORT_ID),
                        super::lifecycle_detail(status)
                    ));
                }
            }
            for consumer in &consumers {
                let lock = consumer
                    .lock
                    .strip_prefix(ws.root())
                    .unwrap_or(&consumer.lock);
                text.push_str(&format!(
                    "pinned: {} by {} ({})\n",
                    consumer.id.short(super::SHORT_ID),
                    lock.display(),
                    consumer.name
                ));
            }
            ui.out(text)
        }
        Format::Openlineage => {
            let namespace = dv::lineage::export::namespace(&ws)?;
            let mut text = String::new();
            for event in dv::lineage::export::openlineage(&ws, &graph, &namespace)? {
                text.push_str(&event.to_string());
                text.push('\n');
            }
            ui.out_content(text.as_bytes())
        }
        Format::ProvJson => {
            let namespace = dv::lineage::export::namespace(&ws)?;
            ui.json(&dv::lineage::export::prov(&graph, &namespace))
        }
        Format::Html => {
            let mut notes = dv::lineage::html::Annotations::default();
            for (name, id) in ws.tags()? {
                notes.tags.entry(id).or_default().push(name);
            }
            for consumer in &consumers {
                let lock = consumer
                    .lock
                    .strip_prefix(ws.root())
                    .unwrap_or(&consumer.lock);
                notes.pins.entry(consumer.id).or_default().push(format!(
                    "{} ({})",
                    lock.display(),
                    consumer.name
                ));
            }
            for (id, status) in &states {
                if status.state != dv::lifecycle::State::Active {
                    let reason = status.event.as_ref().and_then(|e| e.reason.clone());
                    notes
                        .states
                        .insert(*id, (status.state.name().to_string(), reason));
                }
            }
            ui.out_content(dv::lineage::html::html(&graph, ws.stages(), &notes).as_bytes())
        }
        Format::Dot => ui.out_content(render::dot(&graph, ws.stages()).as_bytes()),
        Format::Svg => ui.out_content(render::svg(&graph, ws.stages()).as_bytes()),
        Format::Json => ui.json(&GraphView {
            start: graph.start,
            direction: if args.all { "all" } else { direction.name() },
            nodes: graph
                .nodes
                .iter()
                .map(|n| VersionView {
                    id: n.id,
                    version: &n.version,
                    lifecycle: states.get(&n.id),
                })
                .collect(),
            edges: graph
                .edges
                .iter()
                .map(|(from, to)| Edge {
                    from: *from,
                    to: *to,
                })
                .collect(),
            consumers,
        }),
    }
}

/// Send lineage to another tool
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    target: ExportTarget,
}

#[derive(clap::Subcommand)]
enum ExportTarget {
    /// Post one OpenLineage RunEvent per version to an OpenLineage HTTP endpoint (Marquez:
    /// http://HOST:5000/api/v1/lineage); posting again sends the same events
    Openlineage {
        /// The endpoint events are posted to
        #[arg(long, value_name = "URL")]
        url: String,

        /// Only this version's lineage, up and down (default: every version)
        #[arg(add = super::complete::rev_candidates())]
        rev: Option<String>,

        /// The namespace of datasets and jobs (default: dv:// and the default remote, else
        /// the workspace directory's name)
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,

        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn export(ui: &Ui, args: ExportArgs) -> Result<(), CliError> {
    let ExportTarget::Openlineage {
        url,
        rev,
        namespace,
        json,
    } = args.target;
    let ws = open_workspace_to_read()?;
    let graph = match &rev {
        None => dv::lineage::everything(&ws)?,
        Some(rev) => {
            let id = dv::revision::resolve(&ws, rev)?;
            both_ways(&ws, id, None)?
        }
    };
    let namespace = match namespace {
        Some(namespace) => namespace,
        None => dv::lineage::export::namespace(&ws)?,
    };
    let events = dv::lineage::export::openlineage(&ws, &graph, &namespace)?;
    let posted = dv::lineage::export::post(&url, &events)?;
    if json {
        return ui.json(&serde_json::json!({"url": url, "namespace": namespace, "events": posted}));
    }
    ui.status(format!(
        "Posted {} to {url} (namespace {namespace}).",
        super::ui::plural(posted as u64, "event")
    ));
    Ok(())
}

/// A version's lineage up and down in one graph.
fn both_ways(
    ws: &dv::Workspace,
    id: dv::VersionId,
    depth: Option<usize>,
) -> Result<dv::lineage::Graph, CliError> {
    let mut seen = std::collections::HashSet::new();
    let mut versions = Vec::new();
    for direction in [Direction::Up, Direction::Down] {
        for node in lineage(ws, id, direction, depth)?.nodes {
            if seen.insert(node.id) {
                versions.push((node.id, node.version));
            }
        }
    }
    let mut graph = dv::lineage::Graph::of_versions(versions)?;
    graph.start = id;
    Ok(graph)
}
