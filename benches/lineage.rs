//! Lineage on a large provenance DAG: 10,000 versions in chains of four stages, each
//! training-ready version also joined with a shared reference dataset.
//!
//!     cargo bench --bench lineage
//!
//! Prints the time to walk up from the newest version and down from the shared raw version.

use std::time::Instant;

use dv::Workspace;
use dv::index::Index;
use dv::lineage::{Direction, lineage};
use dv::object::Version;
use dv::object::version::VERSION_FORMAT_PLAIN;
use dv::store::{Kind, Store};
use dv::{TreeId, VersionId};

fn version(dataset: &str, stage: &str, inputs: Vec<VersionId>, n: usize) -> Version {
    Version {
        format: VERSION_FORMAT_PLAIN,
        dataset: dataset.into(),
        stage: stage.into(),
        tree: TreeId(dv::Hash::of(format!("tree {n}").as_bytes())),
        path: dataset.into(),
        single_file: false,
        inputs,
        transform: Some(format!("step {n}")),
        code: Vec::new(),
        params: serde_json::Map::from_iter([("n".to_string(), serde_json::json!(n))]),
        code_revision: None,
        message: None,
        author: "bench".into(),
        host: "bench".into(),
        dv_version: env!("CARGO_PKG_VERSION").into(),
        created_at: format!("2026-01-01T00:00:00.{n:06}Z"),
        files: 1,
        bytes: 1,
        run: None,
        profile: None,
        profile_tables: None,
        failed_rules: Vec::new(),
    }
}

/// Writes a version into the workspace's store and index, opened directly (as a bulk import
/// would; the workspace keeps its own private).
fn put(raw: &(Store, Index), v: &Version) -> VersionId {
    let id = VersionId(raw.0.put_bytes(Kind::Version, &v.encode()).unwrap());
    raw.1.insert_version(&id, v).unwrap();
    id
}

fn main() {
    let temp = tempfile::tempdir().unwrap();
    let ws = Workspace::init(temp.path(), None).unwrap();
    let store = Store::at(ws.dv_dir().join("objects"));
    let raw = (
        store.clone(),
        Index::open(&ws.dv_dir().join("index.sqlite"), store)
            .unwrap()
            .0,
    );
    let started = Instant::now();
    let reference = put(&raw, &version("reference", "raw", vec![], 0));
    let stages = ["raw", "cleaned", "labeled", "training-ready"];
    let mut previous = reference;
    let mut count = 1;
    while count < 10_000 {
        let mut input = vec![previous];
        for stage in stages {
            let mut inputs = input.clone();
            if stage == "training-ready" {
                inputs.push(reference);
            }
            previous = put(&raw, &version("chain", stage, inputs, count));
            input = vec![previous];
            count += 1;
        }
    }
    println!(
        "built {count} versions in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    for (what, start, direction) in [
        ("up from the newest", previous, Direction::Up),
        ("down from the shared raw", reference, Direction::Down),
    ] {
        let started = Instant::now();
        let graph = lineage(&ws, start, direction, None).unwrap();
        let walked = started.elapsed().as_secs_f64();
        let text = dv::lineage::render::text(&graph);
        println!(
            "lineage {what}: {} nodes, {} edges: walk {walked:.3} s, walk + text tree {:.3} s ({} lines)",
            graph.nodes.len(),
            graph.edges.len(),
            started.elapsed().as_secs_f64(),
            text.lines().count()
        );
        let started = Instant::now();
        let dot = dv::lineage::render::dot(&graph, ws.stages());
        println!(
            "  dot: {:.1} MB in {:.3} s",
            dot.len() as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        // The export formats over the same graph.
        let namespace = dv::lineage::export::namespace(&ws).unwrap();
        let started = Instant::now();
        let events = dv::lineage::export::openlineage(&ws, &graph, &namespace).unwrap();
        let lines: usize = events.iter().map(|e| e.to_string().len() + 1).sum();
        println!(
            "  openlineage: {} events ({:.1} MB) in {:.3} s",
            events.len(),
            lines as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let page = dv::lineage::html::html(&graph, ws.stages(), &Default::default());
        println!(
            "  html: {:.1} MB in {:.3} s",
            page.len() as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let prov = serde_json::to_string(&dv::lineage::export::prov(&graph, &namespace)).unwrap();
        println!(
            "  prov-json: {:.1} MB in {:.3} s",
            prov.len() as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
}
