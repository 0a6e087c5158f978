//! Lineage graphs as text (an indented tree for an 80-column terminal), Graphviz DOT, and a
//! self-contained SVG picture laid out in Rust (layout-rs), with nodes coloured by stage.

use std::collections::HashSet;
use std::fmt::Write as _;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use serde_json::Value;

use super::{Direction, Graph, Node};

/// Hex digits of ids shown in pictures and trees.
const SHORT: usize = 12;
/// Width the text tree is cut to.
const WIDTH: usize = 80;
/// Columns of indentation after which deeper levels are drawn at the same depth.
const MAX_INDENT: usize = 36;

/// Fill colours for stages, by their position in the workspace's stage list.
const STAGE_COLOURS: [&str; 6] = [
    "#fde2e4", "#fff1c1", "#d8f3dc", "#cddafd", "#e2d9f3", "#f1f1f1",
];

/// The parameters of `node` that differ from those of its first input (all of them for a
/// version without inputs in the graph): `key=value`, or `-key` when removed.
pub fn changed_params(graph: &Graph, node: &Node) -> Vec<String> {
    let base = node
        .version
        .inputs
        .first()
        .and_then(|id| graph.node(id))
        .map(|n| &n.version.params);
    let mut out = Vec::new();
    for (key, value) in &node.version.params {
        if base.is_none_or(|b| b.get(key) != Some(value)) {
            out.push(format!("{key}={}", compact(value)));
        }
    }
    if let Some(base) = base {
        out.extend(
            base.keys()
                .filter(|k| !node.version.params.contains_key(*k))
                .map(|k| format!("-{k}")),
        );
    }
    out
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The node's summary and its changed parameters, for the text tree.
fn summary(node: &Node, graph: &Graph) -> (String, String) {
    let mut line = format!(
        "{} {}@{}",
        node.id.short(SHORT),
        node.version.dataset,
        node.version.stage
    );
    if let Some(transform) = &node.version.transform {
        line.push_str("  ");
        line.push_str(transform);
    }
    (line, changed_params(graph, node).join(" "))
}

/// An indented tree from the start version; a version reached again shows "(see above)".
///
/// Indentation stops growing after [`MAX_INDENT`] columns so that a chain of thousands of
/// versions still renders in linear time, with lines that fit the terminal.
pub fn text(graph: &Graph) -> String {
    let mut out = String::new();
    let mut shown = HashSet::new();
    // (version, lead for its own line, lead for the lines below it), depth-first.
    let mut stack = vec![(graph.start, String::new(), String::new())];
    while let Some((id, lead, child_lead)) = stack.pop() {
        let Some(node) = graph.node(&id) else {
            continue;
        };
        if !shown.insert(id) {
            let line = format!(
                "{lead}{} {}@{}  (see above)",
                id.short(SHORT),
                node.version.dataset,
                node.version.stage
            );
            let _ = writeln!(out, "{}", fit(&line, WIDTH));
            continue;
        }
        let next = graph.next(&id);
        let (line, params) = summary(node, graph);
        let joined = format!("{lead}{line}  {params}");
        if params.is_empty() || joined.chars().count() <= WIDTH {
            let _ = writeln!(out, "{}", fit(joined.trim_end(), WIDTH));
        } else {
            // Too long for one line: the parameters go on their own line below the summary.
            let _ = writeln!(out, "{}", fit(&format!("{lead}{line}"), WIDTH));
            let rail = if next.is_empty() { "   " } else { "│  " };
            let indent = " ".repeat(SHORT + 1 - rail.chars().count());
            let _ = writeln!(
                out,
                "{}",
                fit(&format!("{child_lead}{rail}{indent}{params}"), WIDTH)
            );
        }
        let deep = child_lead.chars().count() >= MAX_INDENT;
        for (i, child) in next.iter().enumerate().rev() {
            let last = i + 1 == next.len();
            let (branch, extend) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let below = if deep {
                child_lead.clone()
            } else {
                format!("{child_lead}{extend}")
            };
            stack.push((*child, format!("{child_lead}{branch}"), below));
        }
    }
    out
}

/// Cuts a line to `width` characters, marking the cut with an ellipsis.
fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

pub(super) fn stage_colour(stages: &[String], stage: &str) -> &'static str {
    let index = stages
        .iter()
        .position(|s| s == stage)
        .unwrap_or(STAGE_COLOURS.len() - 1);
    STAGE_COLOURS[index.min(STAGE_COLOURS.len() - 1)]
}

fn label_lines(graph: &Graph, node: &Node) -> Vec<String> {
    let mut lines = vec![
        node.id.short(SHORT),
        format!("{}@{}", node.version.dataset, node.version.stage),
    ];
    if let Some(transform) = &node.version.transform {
        lines.push(fit(transform, 40));
    }
    let params = changed_params(graph, node);
    if !params.is_empty() {
        lines.push(fit(&params.join(" "), 40));
    }
    lines
}

/// Graphviz DOT, edges pointing the way data flowed (input → output).
pub fn dot(graph: &Graph, stages: &[String]) -> String {
    let mut out = String::from(
        "digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\"];\n",
    );
    for node in &graph.nodes {
        let label = label_lines(graph, node)
            .iter()
            .map(|l| escape_dot(l))
            .collect::<Vec<_>>()
            .join("\\n");
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{label}\", fillcolor=\"{}\"];",
            node.id,
            stage_colour(stages, &node.version.stage)
        );
    }
    for (input, output) in &graph.edges {
        let _ = writeln!(out, "  \"{input}\" -> \"{output}\";");
    }
    out.push_str("}\n");
    out
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A self-contained SVG picture of the graph.
pub fn svg(graph: &Graph, stages: &[String]) -> String {
    let orientation = Orientation::LeftToRight;
    let mut visual = VisualGraph::new(orientation);
    let mut handles = std::collections::HashMap::new();
    for node in &graph.nodes {
        let shape = ShapeKind::new_box(&label_lines(graph, node).join("\n"));
        let fill = Color::from_name(stage_colour(stages, &node.version.stage));
        let look = StyleAttr::new(Color::fast("black"), 1, fill, 6, 13);
        let size = get_shape_size(orientation, &shape, look.font_size, false);
        let handle = visual.add_node(Element::create_with_properties(
            shape,
            look,
            orientation,
            size,
            format!("id=\"v{}\" class=\"version\"", node.id),
        ));
        handles.insert(node.id, handle);
    }
    for (input, output) in &graph.edges {
        if let (Some(from), Some(to)) = (handles.get(input), handles.get(output)) {
            visual.add_edge(Arrow::default(), *from, *to);
        }
    }
    let mut writer = SVGWriter::new();
    if !graph.nodes.is_empty() {
        visual.do_it(false, false, false, &mut writer);
    }
    writer.finalize()
}

impl Direction {
    /// The word used in output: `up` or `down`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}
