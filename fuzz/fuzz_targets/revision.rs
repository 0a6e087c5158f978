//! Revisions: any string resolves to a version that exists, or fails with an error.
#![no_main]
#[path = "support.rs"]
mod support;

use dv::commit::{CommitRequest, commit};
use dv::progress::NoProgress;
use libfuzzer_sys::fuzz_target;

/// Three versions along one dataset's stages and a tag on the newest.
fn history(temp: &tempfile::TempDir, ws: &dv::Workspace) {
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut from = Vec::new();
    for (i, stage) in ["raw", "cleaned", "labeled"].into_iter().enumerate() {
        std::fs::write(data.join("f.csv"), format!("a,b\n{i},{i}\n")).unwrap();
        let request = CommitRequest {
            path: data.clone(),
            dataset: "penguins".into(),
            stage: stage.into(),
            inputs: from.clone(),
            ..Default::default()
        };
        let id = commit(ws, &request, &NoProgress).unwrap().id;
        from = vec![id.to_hex()];
    }
    dv::refs::set_tag(ws, "release", &from[0].parse().unwrap(), false).unwrap();
}

fuzz_target!(|data: &[u8]| {
    let (_, ws) = support::workspace(history);
    let Ok(rev) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = dv::revision::resolve(ws, rev) {
        assert!(ws.index.version(&id).unwrap().is_some());
    }
    let _ = dv::revision::resolve_uri(ws, rev);
});
