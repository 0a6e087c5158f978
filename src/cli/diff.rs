//! `dv diff REV_A [REV_B] [--path DIR] [--stat|--name-only] [--exit-code] [-- PATH...]`

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use dv::diff::report::{DiffStat, FileDiff, ParamsDiff, ValueChange};
use dv::diff::rows::{Format, RowDiff, RowOptions, Source, row_diff};
use dv::diff::{Against, Comparison, compare};

use super::error::CliError;
use super::ui::{Ui, human_bytes, table};
use super::{SHORT_ID, fetched, open_workspace_to_read, with_local_data};

/// Show what changed between two versions, or between a version and a directory
#[derive(clap::Args)]
pub struct Args {
    /// The old version
    #[arg(add = super::complete::rev_candidates())]
    old: String,

    /// The new version (default: the directory REV_A was committed from or checked out to)
    #[arg(add = super::complete::rev_candidates())]
    new: Option<String>,

    /// Compare REV_A with this directory instead
    #[arg(long, value_name = "DIR", conflicts_with = "new")]
    path: Option<PathBuf>,

    /// Show counts and byte totals only
    #[arg(long, conflicts_with = "name_only")]
    stat: bool,

    /// Print only the changed paths, one per line
    #[arg(long)]
    name_only: bool,

    /// Exit with 1 if there are differences, 0 if there are none
    #[arg(long)]
    exit_code: bool,

    /// Print the diff as JSON
    #[arg(long, conflicts_with = "name_only")]
    json: bool,

    /// Also compare the rows of modified CSV, TSV, JSONL and Parquet files
    #[arg(long)]
    rows: bool,

    /// Match rows by these columns and report changed cells (implies --rows)
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    key: Vec<String>,

    /// Example rows to show per kind of row change
    #[arg(short = 'n', long = "examples", value_name = "N", default_value_t = 5)]
    examples: usize,

    /// Compare the two versions' profiles instead: rows, columns, types, nulls, duplicates,
    /// label distributions and class balance per directory (needs REV_B)
    #[arg(long, requires = "new", conflicts_with_all = ["rows", "key", "stat", "name_only"])]
    profile: bool,

    /// Only paths at or below these (relative to the dataset root)
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,
}

#[derive(Serialize)]
struct DiffView<'a> {
    old: dv::VersionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<dv::VersionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<PathBuf>,
    #[serde(flatten)]
    files: &'a FileDiff,
    provenance: &'a BTreeMap<&'static str, ValueChange>,
    params: &'a ParamsDiff,
    stat: DiffStat,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<&'a Vec<RowView>>,
}

/// The row diff of one file, or why it could not be made.
#[derive(Serialize)]
pub(super) struct RowView {
    path: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    diff: Option<RowDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let old_id = dv::revision::resolve(&ws, &args.old)?;
    let against = match (&args.new, &args.path) {
        (Some(rev), _) => Against::Version(dv::revision::resolve(&ws, rev)?),
        (None, Some(dir)) => Against::Directory(dir.clone()),
        (None, None) => Against::WorkingDirectory,
    };
    if args.profile
        && let Against::Version(new_id) = against
    {
        return super::profile::diff(ui, ws, old_id, new_id, args.json);
    }
    let mut versions = vec![old_id];
    if let Against::Version(new) = &against {
        versions.push(*new);
    }
    let ws = with_local_data(ui, ws, &versions, dv::remote::Need::Trees)?;
    let progress = ui.progress();
    let comparison = compare(&ws, &old_id, &against, &args.paths, &progress)?;
    let differs = comparison.differs();
    let Comparison {
        new: new_id,
        dir,
        files,
        provenance,
        params,
        ..
    } = comparison;
    let want_rows = args.rows || !args.key.is_empty();
    let ws = if want_rows {
        rows_local(ui, ws, &files, dir.is_none())?
    } else {
        ws
    };
    let rows = want_rows.then(|| {
        let options = RowOptions {
            key: args.key.clone(),
            examples: args.examples,
        };
        row_diffs(&ws, &files, dir.as_deref(), &options)
    });
    let row_errors = rows.iter().flatten().filter(|r| r.error.is_some()).count();
    if args.json {
        let stat = files.stat();
        ui.json(&DiffView {
            old: old_id,
            new: new_id,
            dir,
            files: &files,
            provenance: &provenance,
            params: &params,
            stat,
            rows: rows.as_ref(),
        })?;
    } else if args.name_only {
        let mut text = String::new();
        for path in names(&files) {
            text.push_str(&path);
            text.push('\n');
        }
        ui.out(text)?;
    } else if args.stat {
        ui.out(render_stat(&files.stat()))?;
    } else {
        ui.out(render(&provenance, &params, &files))?;
        if let Some(rows) = &rows {
            ui.out(render_rows(rows))?;
        }
    }
    if row_errors > 0 {
        let failed: Vec<String> = rows
            .iter()
            .flatten()
            .filter_map(|r| r.error.clone())
            .collect();
        return Err(CliError {
            details: failed,
            ..CliError::user(format!(
                "Could not compare the rows of {}",
                super::ui::plural(row_errors as u64, "file")
            ))
        }
        .hinted("The file-level diff above is complete; fix the file or compare without --rows."));
    }
    if args.exit_code && differs {
        return Err(CliError::exit_code_only());
    }
    Ok(())
}

/// Every changed path (the new path of a rename), sorted.
fn names(files: &FileDiff) -> Vec<String> {
    let mut paths: Vec<String> = files
        .added
        .iter()
        .chain(&files.removed)
        .map(|f| f.path.clone())
        .chain(
            files
                .modified
                .iter()
                .chain(&files.mode_changed)
                .chain(&files.type_changed)
                .map(|f| f.path.clone()),
        )
        .chain(files.renamed.iter().map(|r| r.to.clone()))
        .collect();
    paths.sort();
    paths
}

fn render_stat(stat: &DiffStat) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (stat.added, "added"),
        (stat.removed, "removed"),
        (stat.modified, "modified"),
        (stat.renamed, "renamed"),
        (stat.mode_changed, "mode changed"),
        (stat.type_changed, "type changed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        return "no file changes\n".to_string();
    }
    format!(
        "{}; +{}, -{}\n",
        parts.join(", "),
        human_bytes(stat.bytes_added),
        human_bytes(stat.bytes_removed)
    )
}

/// A provenance value in a few words: ids shortened, code files as `path (hash)`, git state as
/// `commit on branch`.
fn short_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let short = |s: &str| s.get(..SHORT_ID).unwrap_or(s).to_string();
    match value {
        Value::Null => "(none)".into(),
        Value::String(s) if dv::Hash::from_hex(s).is_some() => short(s),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "(none)".into(),
        Value::Array(items) => items.iter().map(short_json).collect::<Vec<_>>().join(", "),
        Value::Object(map) if map.contains_key("blob") => {
            format!(
                "{} ({})",
                map["path"].as_str().unwrap_or("?"),
                short(map["blob"].as_str().unwrap_or(""))
            )
        }
        Value::Object(map) if map.contains_key("dirty") => {
            let commit = map["commit"]
                .as_str()
                .map_or("no commit".to_string(), short);
            let branch = map["branch"]
                .as_str()
                .map_or(" (detached)".to_string(), |b| format!(" on {b}"));
            let dirty = if map["dirty"].as_bool() == Some(true) {
                ", dirty"
            } else {
                ""
            };
            format!("{commit}{branch}{dirty}")
        }
        Value::Object(_) | Value::Number(_) | Value::Bool(_) => value.to_string(),
    }
}

pub(super) fn render(
    provenance: &BTreeMap<&'static str, ValueChange>,
    params: &ParamsDiff,
    files: &FileDiff,
) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (field, change) in provenance {
        rows.push(vec![
            field.to_string(),
            format!("{} → {}", short_json(&change.old), short_json(&change.new)),
        ]);
    }
    let mut first = true;
    let mut param_row = |text: String| {
        rows.push(vec![
            if first {
                "params".into()
            } else {
                String::new()
            },
            text,
        ]);
        first = false;
    };
    for (key, value) in &params.added {
        param_row(format!("+ {key} = {value}"));
    }
    for (key, change) in &params.changed {
        param_row(format!("~ {key}: {} → {}", change.old, change.new));
    }
    for (key, value) in &params.removed {
        param_row(format!("- {key} (was {value})"));
    }
    let mut text = table(&rows);
    if !rows.is_empty() {
        text.push('\n');
    }
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for f in &files.added {
        lines.push((
            f.path.clone(),
            vec![
                "A".into(),
                f.path.clone(),
                format!("+{}", human_bytes(f.size)),
            ],
        ));
    }
    for f in &files.removed {
        lines.push((
            f.path.clone(),
            vec![
                "D".into(),
                f.path.clone(),
                format!("-{}", human_bytes(f.size)),
            ],
        ));
    }
    for f in &files.modified {
        lines.push((
            f.path.clone(),
            vec![
                "M".into(),
                f.path.clone(),
                format!("{} → {}", human_bytes(f.old_size), human_bytes(f.new_size)),
            ],
        ));
    }
    for r in &files.renamed {
        lines.push((
            r.to.clone(),
            vec![
                "R".into(),
                format!("{} → {}", r.from, r.to),
                human_bytes(r.size),
            ],
        ));
    }
    for f in &files.mode_changed {
        let what = if f.new_kind == "executable" {
            "now executable"
        } else {
            "no longer executable"
        };
        lines.push((
            f.path.clone(),
            vec!["X".into(), f.path.clone(), format!("({what})")],
        ));
    }
    for f in &files.type_changed {
        lines.push((
            f.path.clone(),
            vec![
                "T".into(),
                f.path.clone(),
                format!("({} → {})", f.old_kind, f.new_kind),
            ],
        ));
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<Vec<String>> = lines.into_iter().map(|(_, row)| row).collect();
    if rows.is_empty() {
        text.push_str("no file changes\n");
    } else {
        text.push_str(&table(&rows));
    }
    text
}

/// Row diffs of every modified tabular file; the new side is read from `dir` when comparing
/// with a working directory (its files are hashed, not stored).
/// Makes the stored sides of the tabular files a row diff reads local (only those), fetching
/// them from the default remote when needed.
pub(super) fn rows_local(
    ui: &Ui,
    ws: dv::Workspace,
    files: &FileDiff,
    new_is_stored: bool,
) -> Result<dv::Workspace, CliError> {
    let mut blobs = Vec::new();
    for m in files
        .modified
        .iter()
        .filter(|m| Format::of(&m.path).is_some())
    {
        blobs.extend(dv::Hash::from_hex(&m.old_hash));
        if new_is_stored {
            blobs.extend(dv::Hash::from_hex(&m.new_hash));
        }
    }
    if blobs
        .iter()
        .all(|id| ws.store.has(dv::store::Kind::Blob, id))
    {
        return Ok(ws);
    }
    let ws = if ws.writable() || ui.fetch == dv::remote::Fetch::Offline {
        ws
    } else {
        super::open_workspace()?
    };
    let progress = ui.progress();
    if let Some(report) = dv::remote::ensure_blobs(&ws, &blobs, ui.fetch, &progress)? {
        fetched(ui, &report);
    }
    Ok(ws)
}

pub(super) fn row_diffs(
    ws: &dv::Workspace,
    files: &FileDiff,
    dir: Option<&std::path::Path>,
    options: &RowOptions,
) -> Vec<RowView> {
    files
        .modified
        .iter()
        .filter_map(|m| Format::of(&m.path).map(|format| (m, format)))
        .map(|(m, format)| {
            let stored = |hex: &str| {
                Source::Stored(dv::Hash::from_hex(hex).expect("hashes in a diff are valid hex"))
            };
            let new = match dir {
                Some(file) if file.is_file() => Source::File(file.to_path_buf()),
                Some(dir) => Source::File(dir.join(&m.path)),
                None => stored(&m.new_hash),
            };
            let result = row_diff(
                &ws.store,
                &m.path,
                format,
                &stored(&m.old_hash),
                &new,
                options,
            );
            match result {
                Ok(diff) => RowView {
                    path: m.path.clone(),
                    diff: Some(diff),
                    error: None,
                },
                Err(err) => RowView {
                    path: m.path.clone(),
                    diff: None,
                    error: Some(err.to_string()),
                },
            }
        })
        .collect()
}

pub(super) fn render_rows(rows: &[RowView]) -> String {
    let mut text = String::new();
    for view in rows {
        let Some(diff) = &view.diff else { continue };
        text.push_str(&format!(
            "\n{} ({}): {} added, {} removed",
            view.path, diff.format, diff.added, diff.removed
        ));
        if diff.changed > 0 || !diff.examples_changed.is_empty() {
            text.push_str(&format!(", {} changed", diff.changed));
        }
        text.push_str(&format!(", {} unchanged\n", diff.unchanged));
        let schema = &diff.schema;
        if !schema.added.is_empty() || !schema.removed.is_empty() || schema.reordered {
            let mut parts: Vec<String> = schema.added.iter().map(|c| format!("+{c}")).collect();
            parts.extend(schema.removed.iter().map(|c| format!("-{c}")));
            if schema.reordered {
                parts.push("(reordered)".into());
            }
            text.push_str(&format!("  columns: {}\n", parts.join(" ")));
        }
        let show = |row: &serde_json::Map<String, serde_json::Value>| {
            row.iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map_or_else(|| v.to_string(), |s| s.escape_debug().to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        for row in &diff.examples_added {
            text.push_str(&format!("  + {}\n", show(row)));
        }
        for row in &diff.examples_removed {
            text.push_str(&format!("  - {}\n", show(row)));
        }
        for row in &diff.examples_changed {
            let changes: Vec<String> = row
                .columns
                .iter()
                .map(|(c, v)| format!("{c}: {} → {}", short_json(&v.old), short_json(&v.new)))
                .collect();
            text.push_str(&format!("  ~ {}: {}\n", show(&row.key), changes.join(", ")));
        }
    }
    text
}
