//! Lineage as one self-contained, browsable HTML page: the graph drawn left to right by stage
//! with pan and zoom, a provenance panel for the clicked version, search, and highlighting of
//! everything upstream and downstream of a selection.
//!
//! The page lays the graph out itself (columns by stage, in the workspace's order; versions by
//! dataset and age within a column), which stays instant at thousands of versions, where a
//! general layered layout (layout-rs, as the SVG uses) takes seconds and gives a picture that
//! cannot collapse or expand. Everything is inline: it works from `file://` with no network.
//! Recorded text reaches the page only as JSON data and is put into the document as text, never
//! as markup.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Graph;
use crate::id::VersionId;

const TEMPLATE: &str = include_str!("lineage.html");

/// What the page shows beside the recorded versions.
#[derive(Default)]
pub struct Annotations {
    pub tags: HashMap<VersionId, Vec<String>>,
    /// Lock-file pins naming each version, as `LOCK (NAME)`.
    pub pins: HashMap<VersionId, Vec<String>>,
    /// Lifecycle state (other than active) and its reason.
    pub states: HashMap<VersionId, (String, Option<String>)>,
}

/// The page for `graph`.
pub fn html(graph: &Graph, stages: &[String], notes: &Annotations) -> String {
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|node| {
            let v = &node.version;
            let (state, reason) = notes
                .states
                .get(&node.id)
                .cloned()
                .unwrap_or_else(|| ("active".into(), None));
            let revision = v.code_revision.as_ref().map(|r| {
                format!(
                    "{} on {}{}",
                    r.commit.as_deref().unwrap_or("no commit"),
                    r.branch.as_deref().unwrap_or("a detached HEAD"),
                    if r.dirty { ", dirty" } else { "" }
                )
            });
            let run = v.run.as_ref().map(|r| {
                let interpreter = r
                    .interpreter
                    .as_ref()
                    .map(|i| format!(", {} {}", i.program, i.version))
                    .unwrap_or_default();
                format!(
                    "{} (exit {}, {:.2} s{interpreter})",
                    crate::provenance::shell_words(&r.argv),
                    r.exit_status,
                    r.duration_ms as f64 / 1000.0
                )
            });
            json!({
                "id": node.id.to_hex(),
                "dataset": v.dataset,
                "stage": v.stage,
                "transform": v.transform,
                "params": v.params,
                "code": v.code.iter().map(|c| json!({"path": c.path, "blob": c.blob.to_hex()})).collect::<Vec<_>>(),
                "code_revision": revision,
                "inputs": v.inputs.iter().map(|i| i.to_hex()).collect::<Vec<_>>(),
                "author": v.author,
                "created_at": v.created_at,
                "files": v.files,
                "bytes": v.bytes,
                "message": v.message,
                "run": run,
                "tags": notes.tags.get(&node.id).cloned().unwrap_or_default(),
                "pins": notes.pins.get(&node.id).cloned().unwrap_or_default(),
                "state": state,
                "state_reason": reason,
            })
        })
        .collect();
    let colours: serde_json::Map<String, Value> = graph
        .nodes
        .iter()
        .map(|n| {
            let stage = n.version.stage.clone();
            let colour = super::render::stage_colour(stages, &stage);
            (stage, Value::from(colour))
        })
        .collect();
    let data = json!({
        "start": graph.start.to_hex(),
        "stages": stages,
        "colours": colours,
        "nodes": nodes,
        "edges": graph.edges.iter().map(|(a, b)| [a.to_hex(), b.to_hex()]).collect::<Vec<_>>(),
    });
    // Inside <script>, `<` could end the element early: JSON can spell it \u003c.
    let data = data.to_string().replace('<', "\\u003c");
    TEMPLATE.replace("__DV_DATA__", &data)
}
