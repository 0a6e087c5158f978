//! Lineage: the provenance graph around a version — its ancestors (the inputs it was made from,
//! back to the raw sources) or its descendants (everything built from it).
//!
//! Versions name their inputs by id, and an id hashes the inputs, so the graph is a DAG by
//! construction. A version reachable along several paths (a shared ancestor) appears once.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error::{Error, Result};
use crate::id::VersionId;
use crate::object::Version;
use crate::workspace::Workspace;

/// Which way to walk from the starting version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Towards inputs: "where did this come from?"
    Up,
    /// Towards versions made from it: "what was built from this?"
    Down,
}

/// A lineage graph: nodes in breadth-first order from the start, edges from input to output.
#[derive(Clone, Debug)]
pub struct Graph {
    pub start: VersionId,
    pub direction: Direction,
    pub nodes: Vec<Node>,
    /// `(input, output)` pairs: the edge points the way data flowed.
    pub edges: Vec<(VersionId, VersionId)>,
    positions: HashMap<VersionId, usize>,
    neighbours: HashMap<VersionId, Vec<VersionId>>,
}

/// One version in a lineage graph.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: VersionId,
    pub version: Version,
    /// Steps from the start.
    pub depth: usize,
}

impl Graph {
    /// The node for an id, if it is in the graph.
    pub fn node(&self, id: &VersionId) -> Option<&Node> {
        self.positions.get(id).map(|&i| &self.nodes[i])
    }

    /// The neighbours of `id` in the walk's direction, in recorded order.
    pub fn next(&self, id: &VersionId) -> &[VersionId] {
        self.neighbours.get(id).map_or(&[], Vec::as_slice)
    }
}

/// Walks the provenance graph from `start`, at most `depth` steps (all of it when `None`).
pub fn lineage(
    ws: &Workspace,
    start: VersionId,
    direction: Direction,
    depth: Option<usize>,
) -> Result<Graph> {
    let load = |id: &VersionId| -> Result<Version> { ws.version(id) };
    let mut nodes = vec![Node {
        id: start,
        version: load(&start)?,
        depth: 0,
    }];
    let mut seen: HashSet<VersionId> = HashSet::from([start]);
    let mut edges = Vec::new();
    let mut edge_set = HashSet::new();
    let mut queue = VecDeque::from([0usize]);
    while let Some(index) = queue.pop_front() {
        let (id, level) = (nodes[index].id, nodes[index].depth);
        if depth.is_some_and(|max| level >= max) {
            continue;
        }
        let neighbours = match direction {
            Direction::Up => nodes[index].version.inputs.clone(),
            Direction::Down => ws.index.children(&id)?,
        };
        for next in neighbours {
            let edge = match direction {
                Direction::Up => (next, id),
                Direction::Down => (id, next),
            };
            if edge_set.insert(edge) {
                edges.push(edge);
            }
            if seen.contains(&next) {
                continue;
            }
            // An input that is not in this workspace (never pulled) ends the walk there.
            let Some(version) = ws.index.version(&next)? else {
                continue;
            };
            seen.insert(next);
            queue.push_back(nodes.len());
            nodes.push(Node {
                id: next,
                version,
                depth: level + 1,
            });
        }
    }
    edges.retain(|(a, b)| seen.contains(a) && seen.contains(b));
    let positions = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut neighbours: HashMap<VersionId, Vec<VersionId>> = HashMap::new();
    for (input, output) in &edges {
        let (from, to) = match direction {
            Direction::Up => (output, input),
            Direction::Down => (input, output),
        };
        neighbours.entry(*from).or_default().push(*to);
    }
    Ok(Graph {
        start,
        direction,
        nodes,
        edges,
        positions,
        neighbours,
    })
}

/// Every version of the workspace, oldest first, with every recorded input edge.
pub fn everything(ws: &Workspace) -> Result<Graph> {
    let versions = ws.index.log(&crate::index::LogFilter::default())?;
    Graph::of_versions(versions)
}

impl Graph {
    /// The graph of some versions (oldest first) and the input edges between them, walked up
    /// from the newest.
    pub fn of_versions(mut versions: Vec<(VersionId, Version)>) -> Result<Graph> {
        versions.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then(a.0.cmp(&b.0)));
        let present: HashSet<VersionId> = versions.iter().map(|(id, _)| *id).collect();
        let mut edges = Vec::new();
        let mut neighbours: HashMap<VersionId, Vec<VersionId>> = HashMap::new();
        for (id, version) in &versions {
            for input in version.inputs.iter().filter(|i| present.contains(i)) {
                edges.push((*input, *id));
                neighbours.entry(*id).or_default().push(*input);
            }
        }
        let nodes: Vec<Node> = versions
            .into_iter()
            .map(|(id, version)| Node {
                id,
                version,
                depth: 0,
            })
            .collect();
        let Some(start) = nodes.last().map(|n| n.id) else {
            return Err(Error::NoVersions);
        };
        let positions = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        Ok(Graph {
            start,
            direction: Direction::Up,
            nodes,
            edges,
            positions,
            neighbours,
        })
    }
}

pub mod export;
pub mod html;
pub mod render;
