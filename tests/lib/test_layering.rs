//! The library's files import each other without cycles: each module depends only on what
//! lies below it, so a module can be read (and bound from Python) without the ones above it.
//! A `crate::a::b::c` path is resolved to the deepest module file it names; `src/cli` (the
//! binary's part) and test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module file (`a/b`, `a/mod`) the path segments name, if any.
fn module_of(src: &Path, segments: &[&str]) -> Option<String> {
    let mut best = None;
    for end in 1..=segments.len() {
        let base = src.join(segments[..end].join("/"));
        if base.with_extension("rs").is_file() {
            best = Some(segments[..end].join("/"));
        } else if base.join("mod.rs").is_file() {
            best = Some(format!("{}/mod", segments[..end].join("/")));
        } else {
            break;
        }
    }
    best
}

/// Every `crate::` path in `text` (comments and tests removed), as its segments.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut paths = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        // `use crate::{a::b, c}` groups: each item is a path of its own.
        for (start, _) in line.match_indices("crate::") {
            let rest = &line[start + "crate::".len()..];
            let items: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .collect(),
                None => vec![rest],
            };
            for item in items {
                let path: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|s| {
                        s.chars()
                            .take_while(|c| {
                                c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit()
                            })
                            .collect::<String>()
                    })
                    .take_while(|s| !s.is_empty())
                    .collect();
                if !path.is_empty() {
                    paths.push(path);
                }
            }
        }
    }
    paths
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_of_the_library_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in all {
        let me = file
            .strip_prefix(&src)
            .unwrap()
            .with_extension("")
            .to_string_lossy()
            .into_owned();
        if ["cli", "main", "lib"].contains(&me.split('/').next().unwrap()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let deps = graph.entry(me.clone()).or_default();
        for path in crate_paths(&text) {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(target) = module_of(&src, &segments)
                && target != me
            {
                deps.insert(target);
            }
        }
    }
    // A cycle is a module that reaches itself.
    for start in graph.keys() {
        let mut stack: Vec<Vec<&String>> = vec![vec![start]];
        let mut seen = BTreeSet::new();
        while let Some(trail) = stack.pop() {
            let last = *trail.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                if next == start {
                    let names: Vec<&str> = trail.iter().map(|s| s.as_str()).collect();
                    panic!("import cycle: {} -> {start}", names.join(" -> "));
                }
                if seen.insert(next) {
                    let mut longer = trail.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
    // The check sees the graph at all: `commit` imports `snapshot`, for one.
    assert!(graph["commit"].contains("snapshot"), "{graph:?}");
}
