//! Lineage for other tools: OpenLineage events and W3C PROV-JSON, each checked by the real
//! consumer library (openlineage-python, prov), and `dv export openlineage` posting to a
//! loopback HTTP server that records what it receives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::{TestEnv, check, checker_python};

/// raw → cleaned (params, code) and raw + labels → joined: four versions, four edges.
fn history(env: &TestEnv) -> [String; 4] {
    env.penguins();
    let raw = env.id(&["commit", "data", "-d", "penguins", "-s", "raw", "-q"]);
    env.write("code/clean.py", "print('clean')\n");
    env.write(
        "data/penguins.csv",
        "species,island,bill_mm\nAdelie,Torgersen,39.1\n",
    );
    let cleaned = env.id(&[
        "commit",
        "data",
        "-d",
        "penguins",
        "-s",
        "cleaned",
        "--from",
        &raw,
        "--transform",
        "python clean.py",
        "--code",
        "code/clean.py",
        "--param",
        "threshold=0.5",
        "--param",
        "mode=strict",
        "-q",
    ]);
    env.write("labels/l.csv", "id,label\n1,cat\n");
    let labels = env.id(&["commit", "labels", "-d", "labels", "-s", "raw", "-q"]);
    env.write("joined/j.csv", "species,label\nAdelie,cat\n");
    let joined = env.id(&[
        "commit",
        "joined",
        "-d",
        "joined",
        "-s",
        "labeled",
        "--from",
        &cleaned,
        "--from",
        &labels,
        "--transform",
        "join",
        "-q",
    ]);
    [raw, cleaned, labels, joined]
}

#[test]
fn openlineage_events_are_accepted_by_the_openlineage_client() {
    let env = TestEnv::new();
    let [raw, cleaned, labels, joined] = history(&env);
    let out = env.ok(&["lineage", &joined, "--format", "openlineage"]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4);
    // Oldest first, one COMPLETE run per version, named by dataset, stage and transform.
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["job"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "penguins@raw",
            "penguins@cleaned: python clean.py",
            "labels@raw",
            "joined@labeled: join"
        ]
    );
    let event = &events[1];
    assert_eq!(event["eventType"], "COMPLETE");
    assert_eq!(event["job"]["namespace"], "dv://local/ws");
    assert_eq!(event["inputs"][0]["name"], "penguins@raw");
    assert_eq!(
        event["inputs"][0]["facets"]["version"]["datasetVersion"],
        raw
    );
    assert_eq!(
        event["outputs"][0]["facets"]["version"]["datasetVersion"],
        cleaned
    );
    assert_eq!(
        event["outputs"][0]["facets"]["schema"]["fields"],
        serde_json::json!([
            {"name": "species", "type": "string"},
            {"name": "island", "type": "string"},
            {"name": "bill_mm", "type": "float"}
        ])
    );
    assert_eq!(
        event["run"]["facets"]["executionParameters"]["parameters"],
        serde_json::json!([{"key": "mode", "value": "strict"}, {"key": "threshold", "value": "0.5"}])
    );
    assert_eq!(
        event["job"]["facets"]["sourceCodeLocation"]["path"],
        "code/clean.py"
    );
    let joined_event = &events[3];
    let inputs: Vec<&str> = joined_event["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["facets"]["version"]["datasetVersion"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, [cleaned.as_str(), labels.as_str()]);
    // Run ids are UUIDs derived from version ids: the same on every export.
    let again = env.ok(&["lineage", &joined, "--format", "openlineage"]);
    assert_eq!(out, again);
    let run_id = event["run"]["runId"].as_str().unwrap();
    assert_eq!(run_id.len(), 36);
    assert_eq!(&run_id[14..15], "8", "a version-8 UUID: {run_id}");

    if let Some(python) = checker_python() {
        assert_eq!(check(&python, "openlineage_check.py", &[], &out), "ok 4");
    }
}

#[test]
fn prov_json_is_read_by_the_prov_package_with_the_right_counts() {
    let env = TestEnv::new();
    let [_, _, _, joined] = history(&env);
    let document = env.ok(&["lineage", &joined, "--format", "prov-json"]);
    let parsed: Value = serde_json::from_str(&document).unwrap();
    // Entities: 4 versions and 1 code file; one activity per version; inputs used (3) plus the
    // code file (1); 3 derivations; one generation and one association per version.
    let count = |key: &str| parsed[key].as_object().map_or(0, |m| m.len());
    assert_eq!(
        [
            count("entity"),
            count("activity"),
            count("used"),
            count("wasDerivedFrom")
        ],
        [5, 4, 4, 3]
    );
    let step = &parsed["activity"][format!("dv:run-{}", history_cleaned(&parsed))];
    assert_eq!(step["dv:param_threshold"], "0.5");
    if let Some(python) = checker_python() {
        assert_eq!(
            check(&python, "prov_check.py", &[], &document),
            r#"{"activity": 4, "agent": 1, "entity": 5, "used": 4, "wasAssociatedWith": 4, "wasDerivedFrom": 3, "wasGeneratedBy": 4}"#
        );
    }
}

/// The id of the one activity with parameters (the cleaned version's run).
fn history_cleaned(document: &Value) -> String {
    document["activity"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, a)| a.get("dv:param_threshold").is_some())
        .map(|(key, _)| key.trim_start_matches("dv:run-").to_string())
        .unwrap()
}

/// A loopback HTTP server answering every request with `status`, recording each body.
fn server(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/lineage", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    let mut path_ok = false;
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.starts_with("POST /api/v1/lineage ") {
                            path_ok = true;
                        }
                        if let Some(value) =
                            line.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = value.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).unwrap();
                    assert!(path_ok);
                    seen.lock().unwrap().push(String::from_utf8(body).unwrap());
                    let answer = if status < 300 { "" } else { "marquez says no" };
                    write!(
                        writer,
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    )
                    .unwrap();
                }
            });
        }
    });
    (url, bodies)
}

#[test]
fn export_posts_every_event_and_posting_again_sends_the_same_events() {
    let env = TestEnv::new();
    let [_, _, _, joined] = history(&env);
    let (url, bodies) = server(201);
    let out = env.dv(&["export", "openlineage", "--url", &url, "--json"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.json(),
        serde_json::json!({"url": url, "namespace": "dv://local/ws", "events": 4})
    );
    env.ok(&["export", "openlineage", "--url", &url]);
    let posted = bodies.lock().unwrap().clone();
    assert_eq!(posted.len(), 8);
    assert_eq!(
        posted[..4],
        posted[4..],
        "a second export posts the same events"
    );
    let expected: Vec<Value> = env
        .ok(&["lineage", &joined, "--format", "openlineage"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let received: Vec<Value> = posted[..4]
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(received, expected);

    // One version's lineage only, with a namespace of one's choosing.
    let (url, bodies) = server(200);
    let raw = history_ids(&env)[0].clone();
    env.ok(&[
        "export",
        "openlineage",
        &raw,
        "--url",
        &url,
        "--namespace",
        "dv://team/project",
    ]);
    let posted = bodies.lock().unwrap().clone();
    assert_eq!(posted.len(), 3, "raw, cleaned, joined: not the labels");
    assert!(
        posted
            .iter()
            .all(|b| b.contains("\"namespace\":\"dv://team/project\""))
    );

    let (url, _) = server(500);
    let out = env.dv(&["export", "openlineage", "--url", &url]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "error: Posting lineage to {url} failed: event 1 of 4 was answered 500 Internal Server Error: marquez says no"
        )),
        "{out}"
    );
}

/// The versions of `history`, oldest first.
fn history_ids(env: &TestEnv) -> Vec<String> {
    let mut log: Vec<(String, String)> = env
        .dv(&["log", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["created_at"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    log.sort();
    log.into_iter().map(|(_, id)| id).collect()
}
