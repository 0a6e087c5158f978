//! Lineage for other tools: OpenLineage run events (what Marquez, DataHub and OpenMetadata
//! collect) and a W3C PROV-JSON document.
//!
//! Each version is one completed run of its job (its dataset, stage and transform) that read
//! its inputs and wrote it. Everything is derived from the recorded versions, so exporting twice
//! gives the same events: run ids are derived from version ids, and times are the recorded ones.

use std::collections::HashMap;
use std::io::Read;

use serde_json::{Map, Value, json};

use super::{Graph, Node};
use crate::error::Result;
use crate::id::VersionId;
use crate::object::EntryKind;
use crate::object::Version;
use crate::object::walk::{fold_distinct, walk_files_where};
use crate::store::Kind;
use crate::workspace::Workspace;

const OPENLINEAGE_EVENT: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const FACETS: &str = "https://openlineage.io/spec/facets";

/// What produced the events (a URI, as OpenLineage asks).
fn producer() -> String {
    format!("dv://dv/{}", env!("CARGO_PKG_VERSION"))
}

/// The namespace of a workspace's datasets and jobs: its default remote (where others find the
/// data), else the workspace's directory name.
pub fn namespace(ws: &Workspace) -> Result<String> {
    let remotes = crate::remote::Remotes::load(&ws.dv_dir())?;
    if let Some(name) = &remotes.default
        && let Some(spec) = remotes.remotes.get(name)
    {
        let url = spec.url.replace("://", "/");
        return Ok(format!("dv://{}", url.trim_start_matches('/')));
    }
    let dir = ws
        .root()
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("workspace");
    Ok(format!("dv://local/{dir}"))
}

/// A stable run id (a UUID, version 8) for the run that made a version.
pub fn run_uuid(id: &VersionId) -> String {
    let hash = crate::id::Hash::of(format!("dv run {}", id.to_hex()).as_bytes());
    let mut bytes: [u8; 16] = hash.0[..16].try_into().expect("16 bytes");
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn facet(name: &str, version: &str, mut body: Value) -> Value {
    let object = body.as_object_mut().expect("facets are objects");
    object.insert("_producer".into(), producer().into());
    object.insert(
        "_schemaURL".into(),
        format!("{FACETS}/{version}/{name}.json#/$defs/{name}").into(),
    );
    body
}

/// The job a version's run belongs to: its dataset and stage, and its transform when recorded.
fn job_name(version: &Version) -> String {
    match &version.transform {
        Some(transform) => format!("{}@{}: {transform}", version.dataset, version.stage),
        None => format!("{}@{}", version.dataset, version.stage),
    }
}

fn dataset(namespace: &str, id: &VersionId, version: &Version, schema: Option<Value>) -> Value {
    let mut facets = Map::new();
    facets.insert(
        "version".into(),
        facet(
            "DatasetVersionDatasetFacet",
            "1-0-1",
            json!({"datasetVersion": id.to_hex()}),
        ),
    );
    if let Some(fields) = schema {
        facets.insert(
            "schema".into(),
            facet("SchemaDatasetFacet", "1-2-0", json!({"fields": fields})),
        );
    }
    json!({
        "namespace": namespace,
        "name": format!("{}@{}", version.dataset, version.stage),
        "facets": facets,
    })
}

/// The columns of a version's first table (by path): with their types from its profile, else
/// the header of its first CSV or TSV file when its content is here.
fn table_schema(ws: &Workspace, version: &Version) -> Option<Value> {
    if let Ok(Some(profile)) = crate::profile::stored(&ws.store, version)
        && let Some(table) = profile.tables.values().find(|t| t.error.is_none())
    {
        let fields = table
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.kind}))
            .collect();
        return Some(Value::Array(fields));
    }
    // The first CSV or TSV in path order: the walk enters only trees holding one (each
    // distinct tree asked once) and none after it is found.
    let is_text_table = |name: &[u8]| {
        let name = String::from_utf8_lossy(name).to_lowercase();
        name.ends_with(".csv") || name.ends_with(".tsv")
    };
    let mut holds = HashMap::new();
    fold_distinct(
        &ws.store,
        &version.tree,
        &mut holds,
        &mut |tree, children: &[bool]| {
            children.iter().any(|&b| b)
                || tree
                    .entries
                    .iter()
                    .any(|e| e.kind != EntryKind::Tree && is_text_table(&e.name))
        },
    )
    .ok()?;
    let first = std::cell::RefCell::new(None);
    walk_files_where(
        &ws.store,
        &version.tree,
        &mut |_, id, _| first.borrow().is_none() && holds.get(id).copied().unwrap_or(false),
        &mut |file| {
            let mut first = first.borrow_mut();
            if first.is_none() && file.kind != EntryKind::Symlink && is_text_table(&file.path) {
                *first = Some((String::from_utf8_lossy(&file.path).to_lowercase(), file.id));
            }
            Ok(())
        },
    )
    .ok()?;
    let first = first.into_inner();
    let (path, blob) = first?;
    if !ws.store.has(Kind::Blob, &blob) {
        return None;
    }
    let mut head = Vec::new();
    ws.store
        .read(Kind::Blob, &blob)
        .ok()?
        .take(64 << 10)
        .read_to_end(&mut head)
        .ok()?;
    let line = head.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let separator = if path.ends_with(".tsv") { '\t' } else { ',' };
    let fields: Vec<Value> = line
        .trim_end_matches('\r')
        .split(separator)
        .map(|name| json!({"name": name.trim_matches('"')}))
        .collect();
    Some(Value::Array(fields))
}

/// One OpenLineage `RunEvent` (COMPLETE) per version of the graph.
pub fn openlineage(ws: &Workspace, graph: &Graph, namespace: &str) -> Result<Vec<Value>> {
    // Oldest first: a consumer sees each input's run before the runs that read it.
    let mut nodes: Vec<&Node> = graph.nodes.iter().collect();
    nodes.sort_by(|a, b| {
        a.version
            .created_at
            .cmp(&b.version.created_at)
            .then(a.id.cmp(&b.id))
    });
    let mut events = Vec::new();
    for Node { id, version, .. } in nodes {
        let mut inputs = Vec::new();
        for input in &version.inputs {
            if let Some(used) = ws.index.version(input)? {
                inputs.push(dataset(namespace, input, &used, None));
            }
        }
        let output = dataset(namespace, id, version, table_schema(ws, version));
        let mut run_facets = Map::new();
        run_facets.insert(
            "processing_engine".into(),
            facet(
                "ProcessingEngineRunFacet",
                "1-1-1",
                json!({"version": version.dv_version, "name": "dv"}),
            ),
        );
        if !version.params.is_empty() {
            let parameters: Vec<Value> = version
                .params
                .iter()
                .map(|(key, value)| {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    json!({"key": key, "value": text})
                })
                .collect();
            run_facets.insert(
                "executionParameters".into(),
                facet(
                    "ExecutionParametersRunFacet",
                    "1-0-0",
                    json!({"parameters": parameters}),
                ),
            );
        }
        let mut job_facets = Map::new();
        job_facets.insert(
            "jobType".into(),
            facet(
                "JobTypeJobFacet",
                "2-0-4",
                json!({"processingType": "BATCH", "integration": "DV", "jobType": "TRANSFORM"}),
            ),
        );
        if let Some(code) = version.code.first() {
            // Where the code is: the version's recorded copy (`dv show ID --code`), at the
            // recorded git commit when there was one.
            let mut location = json!({
                "type": if version.code_revision.is_some() { "git" } else { "dv" },
                "url": format!("{namespace}/versions/{}/code", id.to_hex()),
                "path": code.path,
            });
            if let Some(revision) = &version.code_revision {
                if let Some(commit) = &revision.commit {
                    location["version"] = commit.clone().into();
                }
                if let Some(branch) = &revision.branch {
                    location["branch"] = branch.clone().into();
                }
            }
            job_facets.insert(
                "sourceCodeLocation".into(),
                facet("SourceCodeLocationJobFacet", "1-1-0", location),
            );
        }
        let event_time = version
            .run
            .as_ref()
            .map_or(&version.created_at, |run| &run.ended_at);
        events.push(json!({
            "eventType": "COMPLETE",
            "eventTime": event_time,
            "producer": producer(),
            "schemaURL": OPENLINEAGE_EVENT,
            "run": {"runId": run_uuid(id), "facets": run_facets},
            "job": {"namespace": namespace, "name": job_name(version), "facets": job_facets},
            "inputs": inputs,
            "outputs": [output],
        }));
    }
    Ok(events)
}

/// A W3C PROV-JSON document: versions and code files are entities, the step that made each
/// version an activity (with its transform, params and times), its author an agent.
pub fn prov(graph: &Graph, namespace: &str) -> Value {
    let mut entity = Map::new();
    let mut activity = Map::new();
    let mut agent = Map::new();
    let mut relations: [(&str, Map<String, Value>); 4] = [
        ("used", Map::new()),
        ("wasGeneratedBy", Map::new()),
        ("wasDerivedFrom", Map::new()),
        ("wasAssociatedWith", Map::new()),
    ];
    let time = |text: &str| json!({"$": text, "type": "xsd:dateTime"});
    let mut add = |which: usize, record: Value| {
        let map = &mut relations[which].1;
        let key = format!("_:{}{}", relations_prefix(which), map.len() + 1);
        map.insert(key, record);
    };
    for Node { id, version, .. } in &graph.nodes {
        let entity_id = format!("dv:version-{}", id.to_hex());
        let activity_id = format!("dv:run-{}", id.to_hex());
        let mut attributes = json!({
            "prov:type": qualified("dv:Version"),
            "prov:label": format!("{}@{} {}", version.dataset, version.stage, id.short(12)),
            "dv:dataset": version.dataset,
            "dv:stage": version.stage,
            "dv:tree": version.tree.to_hex(),
            "dv:files": version.files,
            "dv:bytes": version.bytes,
        });
        if let Some(message) = &version.message {
            attributes["dv:message"] = message.clone().into();
        }
        entity.insert(entity_id.clone(), attributes);

        let mut step = json!({
            "prov:type": qualified(if version.run.is_some() { "dv:Run" } else { "dv:Commit" }),
            "prov:label": version.transform.clone().unwrap_or_else(|| "commit".into()),
            "prov:endTime": version.run.as_ref().map_or(&version.created_at, |r| &r.ended_at),
        });
        if let Some(run) = &version.run {
            step["prov:startTime"] = run.started_at.clone().into();
        }
        for (key, value) in &version.params {
            let name: String = key
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            step[format!("dv:param_{name}")] = text.into();
        }
        activity.insert(activity_id.clone(), step);

        let author: String = version
            .author
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let agent_id = format!("dv:author-{author}");
        agent.insert(
            agent_id.clone(),
            json!({"prov:type": qualified("prov:Person"), "prov:label": version.author}),
        );

        for input in &version.inputs {
            let used = format!("dv:version-{}", input.to_hex());
            add(
                0,
                json!({"prov:activity": activity_id, "prov:entity": used}),
            );
            add(
                2,
                json!({"prov:generatedEntity": entity_id, "prov:usedEntity": used, "prov:activity": activity_id}),
            );
        }
        for code in &version.code {
            let code_id = format!("dv:code-{}", code.blob.to_hex());
            entity.insert(
                code_id.clone(),
                json!({"prov:type": qualified("dv:CodeFile"), "prov:label": code.path, "dv:size": code.size}),
            );
            add(
                0,
                json!({"prov:activity": activity_id, "prov:entity": code_id}),
            );
        }
        add(
            1,
            json!({"prov:entity": entity_id, "prov:activity": activity_id,
                   "prov:time": time(version.run.as_ref().map_or(&version.created_at, |r| &r.ended_at))}),
        );
        add(
            3,
            json!({"prov:activity": activity_id, "prov:agent": agent_id}),
        );
    }
    // Inputs outside the graph (a walk cut by --depth) are still named as entities.
    for (_, records) in relations.iter().take(1) {
        for record in records.values() {
            if let Some(used) = record["prov:entity"].as_str()
                && !entity.contains_key(used)
            {
                entity.insert(
                    used.to_string(),
                    json!({"prov:type": qualified("dv:Version")}),
                );
            }
        }
    }
    let mut document = json!({
        "prefix": {"dv": format!("{namespace}/")},
        "entity": entity,
        "activity": activity,
        "agent": agent,
    });
    for (name, records) in relations {
        if !records.is_empty() {
            document[name] = Value::Object(records);
        }
    }
    document
}

/// A PROV-JSON qualified name (a type), rather than a string that looks like one.
fn qualified(name: &str) -> Value {
    json!({"$": name, "type": "prov:QUALIFIED_NAME"})
}

fn relations_prefix(which: usize) -> &'static str {
    ["u", "g", "d", "a"][which]
}

/// Posts events, one request each and in order, to an OpenLineage HTTP endpoint (Marquez's
/// `/api/v1/lineage`); returns how many were accepted. The same events post the same run ids,
/// so posting again is harmless.
pub fn post(url: &str, events: &[Value]) -> Result<usize> {
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .map(|event| serde_json::to_vec(event).expect("events serialize"))
        .collect();
    crate::remote::http::post_each(url, &bodies).map_err(|message| crate::error::Error::Export {
        url: url.to_string(),
        message,
    })
}
